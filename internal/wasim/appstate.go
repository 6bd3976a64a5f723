package wasim

import (
	"context"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waServerSync"
	"go.mau.fi/whatsmeow/types"
)

// patchesAfter returns the stored patches with version > after.
func (s *Server) patchesAfter(a *account, name string, after uint64) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := a.patches[name]
	if after >= uint64(len(list)) {
		return nil
	}
	return slices.Clone(list[after:])
}

// appendPatch stores an uploaded patch if the uploader was at the latest
// version: it fills SyncdPatch.Version and notifies the account's other
// companions. On conflict it returns the patches the uploader misses.
func (s *Server) appendPatch(a *account, name string, raw []byte, baseVersion uint64, uploader *companion) (uint64, [][]byte, bool) {
	var patch waServerSync.SyncdPatch
	if err := proto.Unmarshal(raw, &patch); err != nil {
		s.violation("unparseable app-state patch for %s: %v", name, err)
		return 0, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := a.patches[name]
	if baseVersion != uint64(len(list)) {
		if baseVersion > uint64(len(list)) {
			return uint64(len(list)), nil, false
		}
		return uint64(len(list)), slices.Clone(list[baseVersion:]), false
	}
	version := uint64(len(list)) + 1
	patch.Version = &waServerSync.SyncdVersion{Version: proto.Uint64(version)}
	stored, err := proto.Marshal(&patch)
	if err != nil {
		return 0, nil, false
	}
	a.patches[name] = append(list, stored)
	s.persistPatchLocked(a, name, version, stored)
	for _, d := range a.companions {
		if d == uploader {
			continue
		}
		id := randomHex(8)
		s.enqueueLocked(d, queueKey("notification", "server_sync", id), waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
			"from": types.ServerJID, "type": "server_sync", "id": id, "t": unixNow(),
		}, Content: []waBinary.Node{{Tag: "collection", Attrs: waBinary.Attrs{"name": name, "version": strconv.FormatUint(version, 10)}}}})
	}
	return version, nil, true
}

func patchNodes(raws [][]byte) []waBinary.Node {
	nodes := make([]waBinary.Node, len(raws))
	for i, r := range raws {
		nodes[i] = waBinary.Node{Tag: "patch", Content: r}
	}
	return nodes
}

// handleAppStateIQ serves app-state fetches and uploads (w:sync:app:state).
// The server never sees plaintext: it stores opaque patches per account
// and collection; the phone decodes them afterwards.
func (s *Server) handleAppStateIQ(c *conn, dev *companion, node *waBinary.Node, sync waBinary.Node) {
	ctx := c.ctx
	var out []waBinary.Node
	var uploaded []string
	for _, col := range sync.GetChildren() {
		if col.Tag != "collection" {
			continue
		}
		ag := col.AttrGetter()
		name := ag.OptionalString("name")
		version, _ := strconv.ParseUint(ag.OptionalString("version"), 10, 64)
		if patchNode, ok := col.GetOptionalChildByTag("patch"); ok {
			raw, _ := patchNode.Content.([]byte)
			newVersion, missing, ok := s.appendPatch(dev.acct, name, raw, version, dev)
			if !ok {
				s.countSent("appstate:409")
				out = append(out, waBinary.Node{Tag: "collection", Attrs: waBinary.Attrs{"name": name, "type": "error", "version": strconv.FormatUint(newVersion, 10)},
					Content: []waBinary.Node{
						{Tag: "error", Attrs: waBinary.Attrs{"code": "409", "text": "conflict"}},
						{Tag: "patches", Content: patchNodes(missing)},
					}})
				continue
			}
			uploaded = append(uploaded, name)
			out = append(out, waBinary.Node{Tag: "collection", Attrs: waBinary.Attrs{"name": name, "version": strconv.FormatUint(newVersion, 10)}})
			continue
		}
		if ag.OptionalString("return_snapshot") == "true" {
			version = 0
		}
		raws := s.patchesAfter(dev.acct, name, version)
		latest := version + uint64(len(raws))
		out = append(out, waBinary.Node{Tag: "collection", Attrs: waBinary.Attrs{"name": name, "version": strconv.FormatUint(latest, 10)},
			Content: []waBinary.Node{{Tag: "patches", Content: patchNodes(raws)}}})
	}
	// The phone verifies the companion's upload before the client hears back.
	for _, name := range uploaded {
		s.phoneSync(ctx, dev.acct, name)
	}
	c.send(iqResult(node, waBinary.Node{Tag: "sync", Content: out}))
}

func (s *Server) phoneSync(ctx context.Context, a *account, name string) {
	p := a.phone
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.syncLocked(ctx, name); err != nil {
		s.violation("app state %s from a companion does not verify: %v", name, err)
	}
}
