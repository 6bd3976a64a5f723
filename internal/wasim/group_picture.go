package wasim

import (
	"bytes"
	"strconv"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleGroupPictureSet answers SetGroupPhoto (w:profile:picture set with
// a group target): members may change it (only admins in a locked
// group), the picture must be a JPEG (else 406, whatsmeow's
// ErrInvalidImageFormat); no content removes it. Members get a
// "picture" notification (events.Picture).
func (s *Server) handleGroupPictureSet(c *conn, dev *companion, node *waBinary.Node) {
	target, _ := node.Attrs["target"].(types.JID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if target.Server != types.GroupServer {
		s.unknownIQLocked(c, node, "w:profile:picture/set/picture")
		return
	}
	g := s.groups[target.User]
	switch {
	case g == nil:
		c.send(groupIQError(node, 404))
		return
	case g.member(dev.acct.pn) == nil:
		c.send(groupIQError(node, 403))
		return
	case g.Locked && !g.isAdmin(dev.acct.pn):
		c.send(groupIQError(node, 401))
		return
	}
	pic, hasPic := node.GetOptionalChildByTag("picture")
	data, _ := pic.Content.([]byte)
	if hasPic && !bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}) {
		c.send(groupIQError(node, 406))
		return
	}
	change := waBinary.Node{Tag: "delete", Attrs: waBinary.Attrs{"jid": g.jid(), "author": g.userJID(dev.acct)}}
	if hasPic {
		g.PictureSeq++
		g.PictureID = strconv.Itoa(1000000000 + g.PictureSeq)
		g.Picture = bytes.Clone(data)
		change = waBinary.Node{Tag: "set", Attrs: waBinary.Attrs{"jid": g.jid(), "id": g.PictureID, "author": g.userJID(dev.acct)}}
	} else {
		g.PictureID, g.Picture = "", nil
	}
	s.persistGroupLocked(g)
	id := randomHex(8)
	notif := waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": g.jid(), "type": "picture", "id": id, "t": unixNow(), "notify": dev.acct.pushName,
	}, Content: []waBinary.Node{change}}
	for _, a := range s.memberAccountsLocked(g) {
		for _, did := range a.sortedCompanionIDs() {
			s.enqueueLocked(a.companions[did], queueKey("notification", "picture", id), notif)
		}
	}
	if !hasPic {
		c.send(groupIQResult(node))
		return
	}
	c.send(groupIQResult(node, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{"id": g.PictureID}}))
}

// groupPictureLocked answers GetProfilePictureInfo for a group: 404
// without a picture (ErrProfilePictureNotSet), 401 for non-members
// (ErrProfilePictureUnauthorized).
func (s *Server) groupPictureLocked(c *conn, dev *companion, node *waBinary.Node, gid types.JID) {
	g := s.groups[gid.User]
	switch {
	case g == nil:
		c.send(iqError(node, 404, "item-not-found"))
	case dev == nil || g.member(dev.acct.pn) == nil:
		c.send(iqError(node, 401, "not-authorized"))
	case g.PictureID == "":
		c.send(iqError(node, 404, "item-not-found"))
	default:
		c.send(iqResult(node, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{
			"id": g.PictureID, "type": "image", "url": "https://" + MediaHost + "/v/wasim/group/" + g.ID + "/" + g.PictureID + ".jpg",
			"direct_path": "/v/wasim/group/" + g.ID + "/" + g.PictureID + ".jpg",
		}}))
	}
}

func (s *Server) unknownIQLocked(c *conn, node *waBinary.Node, key string) {
	s.statsMu.Lock()
	s.unknownIQs[key]++
	s.statsMu.Unlock()
	c.log.Warn().Str("iq", key).Msg("unknown iq answered with empty result")
	if s.opts.Strict {
		s.violations = append(s.violations, "unknown iq "+key)
	}
	c.send(iqResult(node))
}
