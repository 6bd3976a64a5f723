package wasim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/groups"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/util/optional"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// Sender-key crypto of a simulated device. The sender key of a device in
// a group is named (group JID, the device's LID signal address), as
// whatsmeow names it.

func (d *simDevice) groupBuilder() *groups.SessionBuilder {
	return groups.NewGroupSessionBuilder(d.store, store.SignalProtobufSerializer)
}

// groupEncrypt returns the SKDM of the device's current sender key (a new
// one if rotate or none yet) and the skmsg ciphertext of plaintext.
func (d *simDevice) groupEncrypt(ctx context.Context, gid, self types.JID, plaintext []byte, rotate bool) (skdm []byte, ct []byte, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := protocol.NewSenderKeyName(gid.String(), self.SignalAddress())
	if rotate {
		ser := store.SignalProtobufSerializer
		if err = d.store.StoreSenderKey(ctx, name, groupRecord.NewSenderKey(ser.SenderKeyRecord, ser.SenderKeyState)); err != nil {
			return nil, nil, err
		}
	}
	builder := d.groupBuilder()
	dist, err := builder.Create(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("create sender key: %w", err)
	}
	msg, err := groups.NewGroupCipher(builder, name, d.store).Encrypt(ctx, padMessage(plaintext))
	if err != nil {
		return nil, nil, fmt.Errorf("group encrypt: %w", err)
	}
	d.acct.s.saveSim(d)
	return dist.Serialize(), msg.SignedSerialize(), nil
}

// processSKDM stores a sender key another device distributed.
func (d *simDevice) processSKDM(ctx context.Context, gid, sender types.JID, raw []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	msg, err := protocol.NewSenderKeyDistributionMessageFromBytes(raw, store.SignalProtobufSerializer.SenderKeyDistributionMessage)
	if err != nil {
		return err
	}
	if err = d.groupBuilder().Process(ctx, protocol.NewSenderKeyName(gid.String(), sender.SignalAddress()), msg); err != nil {
		return err
	}
	d.acct.s.saveSim(d)
	return nil
}

// groupDecrypt decrypts a skmsg from the sender device.
func (d *simDevice) groupDecrypt(ctx context.Context, gid, sender types.JID, ct []byte) (*waE2E.Message, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	msg, err := protocol.NewSenderKeyMessageFromBytes(ct, store.SignalProtobufSerializer.SenderKeyMessage)
	if err != nil {
		return nil, err
	}
	name := protocol.NewSenderKeyName(gid.String(), sender.SignalAddress())
	pt, err := groups.NewGroupCipher(d.groupBuilder(), name, d.store).Decrypt(ctx, msg)
	if err != nil {
		return nil, err
	}
	d.acct.s.saveSim(d)
	if pt, err = unpadMessage(pt); err != nil {
		return nil, err
	}
	var out waE2E.Message
	if err = proto.Unmarshal(pt, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// participantListHash is whatsmeow's participantListHashV2 (the phash of
// group message stanzas) over device JIDs.
func participantListHash(devices []types.JID) string {
	strs := make([]string, len(devices))
	for i, d := range devices {
		strs[i] = d.ADString()
	}
	sort.Strings(strs)
	sum := sha256.Sum256([]byte(strings.Join(strs, "")))
	return "2:" + base64.RawStdEncoding.EncodeToString(sum[:6])
}

// deviceJID is a device of the account as the group addresses it.
func (g *group) deviceJID(a *account, dev uint16) types.JID {
	j := g.userJID(a)
	j.Device = dev
	return j
}

func (g *group) altDeviceJID(a *account, dev uint16) types.JID {
	j := g.altJID(a)
	j.Device = dev
	return j
}

func deviceKey(a *account, dev uint16) string { return a.pn + ":" + itoa(int(dev)) }

// groupSimTarget is a simulated member device that gets a group message.
type groupSimTarget struct {
	acct *account
	enc  *waBinary.Node // its pairwise <enc> (the SKDM), if any
}

// handleGroupMessage routes a companion's message to a group: the server
// accepts it from members only (and in announcement groups from admins
// only), fans the skmsg out to every member device with that device's
// pairwise <enc> (the SKDM) when the sender included one, drops <to>
// entries for devices that are not in the group, and lets every
// simulated member device decrypt it with sender keys.
func (s *Server) handleGroupMessage(c *conn, node *waBinary.Node) {
	s.mu.Lock()
	dev := c.dev
	s.mu.Unlock()
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	to, _ := node.Attrs["to"].(types.JID)
	now := time.Now()
	meta := outMeta{
		id: id, to: to, msgType: ag.OptionalString("type"), edit: ag.OptionalString("edit"),
		category: ag.OptionalString("category"), t: now,
	}
	ack := waBinary.Attrs{"class": "message", "id": id, "from": to, "t": fmt.Sprint(now.Unix())}
	var skmsg *waBinary.Node
	for _, enc := range node.GetChildrenByTag("enc") {
		if enc.AttrGetter().OptionalString("type") == "skmsg" {
			e := enc
			skmsg = &e
		}
	}
	identity, hasIdentity := node.GetOptionalChildByTag("device-identity")
	type toEnc struct {
		acct *account
		dev  uint16
		enc  waBinary.Node
	}
	var pairwise []toEnc

	s.mu.Lock()
	g := s.groups[to.User]
	switch {
	case dev == nil:
		s.mu.Unlock()
		return
	case g == nil:
		ack["error"] = "404"
	case g.member(dev.acct.pn) == nil:
		ack["error"] = "403"
	case g.Announce && !g.isAdmin(dev.acct.pn):
		ack["error"] = "403"
	case meta.edit == "8" && !g.isAdmin(dev.acct.pn):
		// Only admins may delete other members' messages for everyone.
		ack["error"] = "403"
	case skmsg == nil:
		s.violations = append(s.violations, fmt.Sprintf("group message %s without <enc type=\"skmsg\">", id))
		ack["error"] = "400"
	}
	if ack["error"] != nil {
		s.mu.Unlock()
		s.countSent("group:refused")
		c.send(waBinary.Node{Tag: "ack", Attrs: ack})
		return
	}
	if g.LID && ag.OptionalString("addressing_mode") != AddressingLID {
		s.violations = append(s.violations, fmt.Sprintf("message %s to LID-addressed group %s without addressing_mode=\"lid\"", id, to))
	}
	if parts, ok := node.GetOptionalChildByTag("participants"); ok {
		for _, p := range parts.GetChildren() {
			jid, ok := p.Attrs["jid"].(types.JID)
			enc, hasEnc := p.GetOptionalChildByTag("enc")
			if p.Tag != "to" || !ok || !hasEnc {
				continue
			}
			a := s.accountByJIDLocked(jid)
			if a == nil || g.member(a.pn) == nil {
				s.countSent("group:dropped-non-member")
				continue
			}
			pairwise = append(pairwise, toEnc{acct: a, dev: jid.Device, enc: enc})
		}
	}
	encFor := func(a *account, d uint16) *waBinary.Node {
		for i := range pairwise {
			if pairwise[i].acct == a && pairwise[i].dev == d {
				return &pairwise[i].enc
			}
		}
		return nil
	}
	// The participant hash the server expects, as whatsmeow computes it:
	// every member device but the sender's.
	var expected []types.JID
	members := s.memberAccountsLocked(g)
	for _, a := range members {
		expected = append(expected, g.deviceJID(a, 0))
		for _, did := range a.sortedCompanionIDs() {
			if a == dev.acct && did == dev.id {
				continue
			}
			expected = append(expected, g.deviceJID(a, did))
		}
	}
	if ph := participantListHash(expected); ph != ag.OptionalString("phash") {
		ack["phash"] = ph
		s.countSent("group:phash-mismatch")
	}
	c.send(waBinary.Node{Tag: "ack", Attrs: ack})

	gid := g.jid()
	var sims []groupSimTarget
	for _, a := range members {
		sims = append(sims, groupSimTarget{acct: a, enc: encFor(a, 0)})
		for _, did := range a.sortedCompanionIDs() {
			d := a.companions[did]
			if d == dev {
				continue
			}
			attrs := waBinary.Attrs{
				"id": id, "t": fmt.Sprint(now.Unix()), "type": meta.msgType, "from": gid,
				"participant": g.deviceJID(dev.acct, dev.id), "addressing_mode": g.addressingMode(),
				"notify": dev.acct.pushName,
			}
			if g.LID {
				attrs["participant_pn"] = g.altDeviceJID(dev.acct, dev.id)
			} else {
				attrs["participant_lid"] = g.altDeviceJID(dev.acct, dev.id)
			}
			if meta.edit != "" {
				attrs["edit"] = meta.edit
			}
			var content []waBinary.Node
			if enc := encFor(a, did); enc != nil {
				content = append(content, *enc)
				if hasIdentity && enc.AttrGetter().OptionalString("type") == "pkmsg" {
					content = append(content, identity)
				}
			}
			content = append(content, *skmsg)
			s.enqueueLocked(d, queueKey("message", "", id), waBinary.Node{Tag: "message", Attrs: attrs, Content: content})
		}
	}
	s.mu.Unlock()
	s.countSent("group:message")

	ct, _ := skmsg.Content.([]byte)
	for _, t := range sims {
		s.deliverGroupToSim(c.ctx, dev, gid, t, ct, skmsg.AttrGetter().OptionalString("mediatype"), meta)
	}
}

// deliverGroupToSim is a simulated member device receiving a companion's
// group message: the pairwise SKDM (if any), then the skmsg.
func (s *Server) deliverGroupToSim(ctx context.Context, dev *companion, gid types.JID, t groupSimTarget, ct []byte, mediaType string, meta outMeta) {
	a := t.acct
	s.mu.Lock()
	sender := dev.lidJID()
	s.mu.Unlock()
	if t.enc != nil {
		raw, _ := t.enc.Content.([]byte)
		msg, err := a.primary.decrypt(ctx, sender, t.enc.AttrGetter().OptionalString("type"), raw)
		if err != nil {
			s.violation("simulated device %s could not decrypt the SKDM of %s from %s: %v", a.pn, meta.id, dev.jid(), err)
			return
		}
		skdm := msg.GetSenderKeyDistributionMessage()
		switch {
		case skdm == nil:
			s.violation("pairwise part of group message %s to %s carries no sender key distribution message", meta.id, a.pn)
		case skdm.GetGroupID() != gid.String():
			s.violation("SKDM in %s is for group %q, sent to %s", meta.id, skdm.GetGroupID(), gid)
		default:
			if err = a.primary.processSKDM(ctx, gid, sender, skdm.GetAxolotlSenderKeyDistributionMessage()); err != nil {
				s.violation("simulated device %s could not process the SKDM of %s: %v", a.pn, meta.id, err)
				return
			}
		}
	}
	msg, err := a.primary.groupDecrypt(ctx, gid, sender, ct)
	if err != nil {
		s.violation("simulated device %s could not decrypt group message %s from %s: %v", a.pn, meta.id, dev.jid(), err)
		return
	}
	rec, ok := s.classify(msg, meta)
	rec.From = dev.acct.pnJID().String()
	rec.SenderDevice = dev.jid()
	rec.Chat = gid.String()
	rec.To = gid.String()
	rec.Encrypted = "skmsg"
	if m := mediaOf(msg); m != nil {
		rec.MimeType = m.GetMimetype()
		if want := encMediaType(msg); mediaType != want {
			s.violation("group media message %s with <enc type=skmsg mediatype=%q>, want %q", meta.id, mediaType, want)
		}
		data, err := s.fetchAndDecrypt(ctx, m)
		if err != nil {
			rec.MediaError = err.Error()
			s.violation("simulated device %s could not download the attachment of %s: %v", a.pn, meta.id, err)
		} else {
			rec.Media = data
			s.countSent("media:decrypted")
		}
	}
	if ok {
		// A member's phone keeps the secret of a poll sent to the group
		// (and decrypts votes on polls it knows), as for direct messages.
		s.completeReceived(a, dev.acct, msg, &rec)
		a.primary.record(rec)
	}
	if a == dev.acct {
		return
	}
	// The member's phone got it: delivery receipt to the sender's devices.
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[gid.User]
	if g == nil {
		return
	}
	for _, d := range dev.acct.companions {
		s.enqueueLocked(d, queueKey("receipt", "", meta.id), waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
			"from": gid, "participant": g.userJID(a), "id": meta.id, "t": unixNow(),
		}})
	}
}

// GroupSend sends a text from a simulated member to the group.
func (s *Server) GroupSend(ctx context.Context, gid, from, text string) (string, error) {
	return s.GroupSendMessage(ctx, gid, from, &waE2E.Message{Conversation: &text}, SendOptions{})
}

// GroupSendMessage sends msg from the simulated member (phone number)
// to the group as WhatsApp's apps do: one skmsg encrypted with the
// member's sender key for everyone, and the sender key distribution
// message over the pairwise Signal session to each device that does not
// hold the current key yet (new members and devices; everyone after a
// rotation). The member's sender key is replaced (rotated) on its first
// send after someone left. Every member device gets it: linked companions
// as a <message from=group participant=…> stanza, simulated phones by
// decrypting it. opts.ID and opts.PushName apply; FromLID does not (the
// group's addressing mode decides).
func (s *Server) GroupSendMessage(ctx context.Context, gid, from string, msg *waE2E.Message, opts SendOptions) (string, error) {
	s.mu.Lock()
	g := s.groupByIDLocked(gid)
	if g == nil {
		s.mu.Unlock()
		return "", ErrGroupNotFound
	}
	sender := s.accounts[normalizePhone(from)]
	if sender == nil || g.member(sender.pn) == nil {
		s.mu.Unlock()
		return "", ErrNotGroupMember
	}
	if g.Announce && !g.isAdmin(sender.pn) {
		s.mu.Unlock()
		return "", ErrNotGroupAdmin
	}
	gjid := g.jid()
	rotate := slices.Contains(g.Rotate, sender.pn)
	has := map[string]bool{}
	if !rotate {
		for _, k := range g.SKDM[sender.pn] {
			has[k] = true
		}
	}
	type compTarget struct {
		acct *account
		d    *companion
	}
	var comps []compTarget
	var simAccts []*account
	for _, a := range s.memberAccountsLocked(g) {
		if a != sender {
			simAccts = append(simAccts, a)
		}
		for _, did := range a.sortedCompanionIDs() {
			comps = append(comps, compTarget{acct: a, d: a.companions[did]})
		}
	}
	participant, alt := g.userJID(sender), g.altJID(sender)
	mode := g.addressingMode()
	name := opts.PushName
	if name == "" {
		name = sender.pushName
	}
	s.mu.Unlock()

	plaintext, err := proto.Marshal(msg)
	if err != nil {
		return "", err
	}
	self := sender.lidJID()
	skdmRaw, ct, err := sender.primary.groupEncrypt(ctx, gjid, self, plaintext, rotate)
	if err != nil {
		return "", err
	}
	if rotate {
		s.countSent("group:sender-key-rotated")
	}
	skdmMsg := &waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{
		GroupID: proto.String(gjid.String()), AxolotlSenderKeyDistributionMessage: skdmRaw,
	}}
	id := opts.ID
	if id == "" {
		id = newMessageID()
	}
	msgType := "text"
	switch {
	case msg.GetReactionMessage() != nil:
		msgType = "reaction"
	case pollCreation(msg) != nil || msg.GetPollUpdateMessage() != nil:
		msgType = "poll"
	case encMediaType(msg) != "":
		msgType = "media"
	}
	skEnc := waBinary.Node{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": "skmsg"}, Content: ct}
	if mt := encMediaType(msg); mt != "" {
		skEnc.Attrs["mediatype"] = mt
	}
	var shared []string
	for _, t := range comps {
		var content []waBinary.Node
		k := deviceKey(t.acct, t.d.id)
		if !has[k] {
			s.mu.Lock()
			addr := t.d.lidJID()
			s.mu.Unlock()
			encType, pct, err := sender.primary.encrypt(ctx, addr, skdmMsg, func() (*prekeyBundle, error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				return s.companionBundleLocked(t.d), nil
			})
			if err != nil {
				return "", err
			}
			content = append(content, waBinary.Node{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": encType}, Content: pct})
			shared = append(shared, k)
			s.countSent("group:skdm")
		}
		content = append(content, skEnc)
		attrs := waBinary.Attrs{
			"id": id, "t": unixNow(), "type": msgType, "from": gjid, "participant": participant,
			"addressing_mode": mode, "notify": name,
		}
		if mode == AddressingLID {
			attrs["participant_pn"] = alt
		} else {
			attrs["participant_lid"] = alt
		}
		s.mu.Lock()
		if t.acct.companions[t.d.id] == t.d {
			s.enqueueLocked(t.d, queueKey("message", "", id), waBinary.Node{Tag: "message", Attrs: attrs, Content: content})
		}
		s.mu.Unlock()
	}
	meta := outMeta{id: id, to: gjid, msgType: msgType, t: time.Now()}
	for _, a := range simAccts {
		k := deviceKey(a, 0)
		if !has[k] {
			if err := s.simToSimSKDM(ctx, sender, a, gjid, skdmMsg); err != nil {
				return "", err
			}
			shared = append(shared, k)
			s.countSent("group:skdm")
		}
		got, err := a.primary.groupDecrypt(ctx, gjid, self, ct)
		if err != nil {
			s.violation("simulated device %s could not decrypt group message %s from %s: %v", a.pn, id, sender.pn, err)
			continue
		}
		rec, ok := s.classify(got, meta)
		rec.From = sender.pnJID().String()
		rec.SenderDevice = sender.pnJID()
		rec.Chat, rec.To, rec.Encrypted = gjid.String(), gjid.String(), "skmsg"
		if ok {
			s.completeReceived(a, sender, got, &rec)
			a.primary.record(rec)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[gjid.User]; g != nil {
		if rotate {
			g.Rotate = slices.DeleteFunc(g.Rotate, func(pn string) bool { return pn == sender.pn })
			g.SKDM[sender.pn] = nil
		}
		for _, k := range shared {
			if !slices.Contains(g.SKDM[sender.pn], k) {
				g.SKDM[sender.pn] = append(g.SKDM[sender.pn], k)
			}
		}
		s.persistGroupLocked(g)
	}
	s.countSent("group:member-message")
	return id, nil
}

// simToSimSKDM hands a simulated member's SKDM to another simulated
// member's phone over a real pairwise Signal session between the two.
func (s *Server) simToSimSKDM(ctx context.Context, from, to *account, gid types.JID, skdmMsg *waE2E.Message) error {
	encType, ct, err := from.primary.encrypt(ctx, to.lidJID(), skdmMsg, func() (*prekeyBundle, error) {
		return to.primary.prekeyBundle(ctx)
	})
	if err != nil {
		return err
	}
	got, err := to.primary.decrypt(ctx, from.lidJID(), encType, ct)
	if err != nil {
		return fmt.Errorf("wasim: %s could not decrypt the SKDM of %s: %w", to.pn, from.pn, err)
	}
	skdm := got.GetSenderKeyDistributionMessage()
	if skdm == nil {
		return errors.New("wasim: SKDM lost in transit")
	}
	return to.primary.processSKDM(ctx, gid, from.lidJID(), skdm.GetAxolotlSenderKeyDistributionMessage())
}

// prekeyBundle is the simulated device's own bundle (device 0) with a
// fresh one-time prekey, for another simulated device to start a session.
func (d *simDevice) prekeyBundle(ctx context.Context) (*prekeyBundle, error) {
	regID, ident, skey, otk, err := d.bundle(ctx)
	if err != nil {
		return nil, err
	}
	return prekey.NewBundle(regID, 0, optional.NewOptionalUint32(otk.KeyID), skey.KeyID, ecc.NewDjbECPublicKey(*otk.Pub),
		ecc.NewDjbECPublicKey(*skey.Pub), *skey.Signature, identity.NewKey(ecc.NewDjbECPublicKey(ident))), nil
}
