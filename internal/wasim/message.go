package wasim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mau.fi/libsignal/signalerror"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// queueKey identifies a stanza awaiting acknowledgement.
func queueKey(class, typ, id string) string {
	return class + ":" + typ + ":" + id
}

// enqueueLocked stores a stanza for a companion until it acknowledges it
// (receipt for messages, ack for receipts and notifications) and sends it
// right away if the companion is online.
func (s *Server) enqueueLocked(d *companion, key string, node waBinary.Node) {
	raw, err := waBinary.Marshal(node)
	if err != nil {
		s.log.Error().Err(err).Msg("failed to marshal stanza for queue")
		return
	}
	d.queue = append(d.queue, &pendingStanza{Key: key, Node: raw})
	s.persistQueueAddLocked(d, key, raw)
	if d.conn != nil && d.loggedIn {
		d.conn.send(node)
	}
}

// dequeueLocked removes acknowledged stanzas.
func (s *Server) dequeueLocked(d *companion, keys ...string) int {
	n := 0
	d.queue = slices.DeleteFunc(d.queue, func(p *pendingStanza) bool {
		if slices.Contains(keys, p.Key) {
			n++
			s.persistQueueDelLocked(d, p.Key)
			return true
		}
		return false
	})
	return n
}

// Pending returns how many stanzas wait for the device's acknowledgement.
func (s *Server) Pending(device types.JID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.companionLocked(device); d != nil {
		return len(d.queue)
	}
	return 0
}

// encTarget is one <enc> of an outgoing message with its destination.
type encTarget struct {
	to  types.JID
	enc waBinary.Node
}

// handleMessage routes a message stanza sent by a companion.
func (s *Server) handleMessage(c *conn, node *waBinary.Node) {
	s.mu.Lock()
	dev := c.dev
	s.mu.Unlock()
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	to, _ := node.Attrs["to"].(types.JID)
	if id == "" || to.IsEmpty() {
		s.violation("message without id or to")
		return
	}
	if to.Server == types.GroupServer {
		s.handleGroupMessage(c, node) // group_message.go
		return
	}
	now := time.Now()
	var targets []encTarget
	if parts, ok := node.GetOptionalChildByTag("participants"); ok {
		for _, p := range parts.GetChildren() {
			jid, ok := p.Attrs["jid"].(types.JID)
			enc, hasEnc := p.GetOptionalChildByTag("enc")
			if p.Tag != "to" || !ok || !hasEnc {
				continue
			}
			targets = append(targets, encTarget{to: jid, enc: enc})
		}
	} else {
		for _, enc := range node.GetChildrenByTag("enc") {
			targets = append(targets, encTarget{to: to, enc: enc})
		}
	}
	meta := outMeta{
		id: id, to: to, msgType: ag.OptionalString("type"), edit: ag.OptionalString("edit"),
		category: ag.OptionalString("category"), t: now,
	}
	if pn, ok := node.Attrs["peer_recipient_pn"].(types.JID); ok {
		meta.peerRecipientPN = pn
	}
	identity, hasIdentity := node.GetOptionalChildByTag("device-identity")

	// The server accepts the message first.
	s.serverAck(c, waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{
		"class": "message", "id": id, "from": to, "t": fmt.Sprint(now.Unix()),
	}})

	ctx := c.ctx
	for _, tg := range targets {
		s.mu.Lock()
		acct := s.accountByJIDLocked(tg.to)
		s.mu.Unlock()
		if acct == nil {
			s.violation("message %s to unknown user %s", id, tg.to)
			continue
		}
		if tg.to.Device == 0 {
			s.deliverToSim(ctx, dev, acct, tg, meta)
			continue
		}
		s.mu.Lock()
		target := acct.companions[tg.to.Device]
		if target == nil {
			s.mu.Unlock()
			s.violation("message %s to unknown device %s", id, tg.to)
			continue
		}
		attrs := waBinary.Attrs{"id": id, "t": fmt.Sprint(now.Unix()), "type": meta.msgType}
		if meta.edit != "" {
			attrs["edit"] = meta.edit
		}
		if meta.category != "" {
			attrs["category"] = meta.category
		}
		from := dev.jid()
		alt := dev.lidJID()
		if tg.to.Server == types.HiddenUserServer {
			from, alt = alt, from
		}
		attrs["from"] = from
		if target.acct == dev.acct {
			attrs["recipient"] = to
			if !meta.peerRecipientPN.IsEmpty() {
				attrs["peer_recipient_pn"] = meta.peerRecipientPN
			}
		} else {
			attrs["notify"] = dev.acct.pushName
			if from.Server == types.HiddenUserServer {
				attrs["sender_pn"] = alt
			} else {
				attrs["sender_lid"] = alt
			}
		}
		content := []waBinary.Node{tg.enc}
		if hasIdentity {
			content = append(content, identity)
		}
		s.enqueueLocked(target, queueKey("message", "", id), waBinary.Node{Tag: "message", Attrs: attrs, Content: content})
		s.mu.Unlock()
	}
}

// outMeta is what the server saw on an outgoing message stanza.
type outMeta struct {
	id, msgType, edit, category string
	to, peerRecipientPN         types.JID
	t                           time.Time
}

// deliverToSim decrypts a companion's message for a simulated device.
func (s *Server) deliverToSim(ctx context.Context, dev *companion, acct *account, tg encTarget, meta outMeta) {
	ct, _ := tg.enc.Content.([]byte)
	encType := tg.enc.AttrGetter().OptionalString("type")
	s.mu.Lock()
	addr := dev.lidJID()
	s.mu.Unlock()
	msg, err := acct.primary.decrypt(ctx, addr, encType, ct)
	if err != nil {
		s.countSent("undecryptable")
		if errors.Is(err, signalerror.ErrOldCounter) {
			// A frame delivered again (whatsmeow resends a message's frame
			// after a reconnect): this device decrypted it already. Ignored,
			// as whatsmeow does; a retry would deliver it twice. (A reused
			// key looks the same; the message is then missing, which the
			// soak and TestSendsWhileReceiving count.)
			s.countSent("old-counter")
			s.log.Warn().Str("id", meta.id).Str("device", dev.jid().String()).Str("to", acct.pn).Err(err).
				Msg("simulated device ignored a message with an old counter")
			return
		}
		if acct != dev.acct && meta.category != "peer" && s.sendRetryReceipt(ctx, acct, dev, tg, meta) {
			s.log.Warn().Str("id", meta.id).Str("contact", acct.pn).Str("device", dev.jid().String()).Err(err).
				Msg("simulated device could not decrypt; sent a retry receipt")
			return
		}
		s.violation("simulated device %s could not decrypt %s from %s: %v", acct.pn, meta.id, dev.jid(), err)
		return
	}
	own := acct == dev.acct
	inner := msg
	chat := meta.to
	if own && msg.GetDeviceSentMessage() != nil {
		inner = msg.GetDeviceSentMessage().GetMessage()
		if dst, err := types.ParseJID(msg.GetDeviceSentMessage().GetDestinationJID()); err == nil {
			chat = dst
		}
	}
	rec, ok := s.classify(inner, meta)
	rec.From = dev.acct.pnJID().String()
	rec.SenderDevice = dev.jid()
	rec.Chat = chat.String()
	rec.To = meta.to.String()
	rec.Encrypted = encType
	if !meta.peerRecipientPN.IsEmpty() {
		rec.PeerRecipientPN = meta.peerRecipientPN.String()
	}
	if own && meta.category == "peer" {
		acct.phone.handlePeerMessage(ctx, dev, inner)
		rec.Kind = KindPeer
	}
	if m := mediaOf(inner); m != nil {
		rec.MimeType = m.GetMimetype()
		if want, got := encMediaType(inner), tg.enc.AttrGetter().OptionalString("mediatype"); meta.category != "peer" && got != want {
			s.violation("media message %s with <enc mediatype=%q>, want %q", meta.id, got, want)
		}
		data, err := s.fetchAndDecrypt(ctx, m)
		if err != nil {
			rec.MediaError = err.Error()
			s.violation("simulated device %s could not download the attachment of %s: %v", acct.pn, meta.id, err)
		} else {
			rec.Media = data
			s.countSent("media:decrypted")
		}
	}
	s.completeReceived(acct, dev.acct, inner, &rec)
	if ok {
		acct.primary.record(rec)
	}
	if !own && meta.category != "peer" {
		// The contact's phone delivered it: delivery receipt to the sender's devices.
		from := acct.pnJID()
		if tg.to.Server == types.HiddenUserServer {
			from = acct.lidJID()
		}
		s.mu.Lock()
		for _, d := range dev.acct.companions {
			s.enqueueLocked(d, queueKey("receipt", "", meta.id), waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
				"from": from, "id": meta.id, "t": unixNow(),
			}})
		}
		s.mu.Unlock()
	}
}

// handleReceipt processes a receipt sent by a companion: it acknowledges
// queued messages and records receipts for simulated contacts.
func (s *Server) handleReceipt(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	if ag.OptionalString("type") == "server-error" {
		s.handleMediaRetryReceipt(c, node) // mediaretry.go
		return
	}
	ids := []string{ag.OptionalString("id")}
	if list, ok := node.GetOptionalChildByTag("list"); ok {
		for _, item := range list.GetChildren() {
			if id := item.AttrGetter().OptionalString("id"); id != "" {
				ids = append(ids, id)
			}
		}
	}
	typ := ag.OptionalString("type")
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = queueKey("message", "", id)
	}
	to, _ := node.Attrs["to"].(types.JID)
	s.faults.noteAcked(c, "message", "", ids...)
	s.mu.Lock()
	dev := c.dev
	if dev != nil {
		s.dequeueLocked(dev, keys...)
	}
	var target *account
	if !to.IsEmpty() {
		target = s.accountByJIDLocked(to)
	}
	if participant, ok := node.Attrs["participant"].(types.JID); ok && to.Server == types.GroupServer {
		target = s.accountByJIDLocked(participant) // a group message's sender
	}
	s.mu.Unlock()
	if target != nil && dev != nil && target != dev.acct {
		target.contact.recordReceipt(ids, typ, dev.jid())
	}
	if typ == "retry" {
		s.handleRetryReceipt(c, node) // retry.go
	}
}

// handleAck processes acks (and nacks) for stanzas the server sent.
func (s *Server) handleAck(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	class := ag.OptionalString("class")
	id := ag.OptionalString("id")
	typ := ag.OptionalString("type")
	if class == "message" {
		typ = ""
		if e := ag.OptionalString("error"); e != "" {
			c.log.Warn().Str("id", id).Str("error", e).Msg("client nacked message")
		}
	}
	s.faults.noteAcked(c, class, typ, id)
	s.mu.Lock()
	if c.dev != nil {
		s.dequeueLocked(c.dev, queueKey(class, typ, id))
	}
	s.mu.Unlock()
}

// notifyDevicesChangedLocked tells the account's companions that its device list changed.
func (s *Server) notifyDevicesChangedLocked(a *account) {
	for _, d := range a.companions {
		if d.conn == nil || !d.loggedIn {
			continue
		}
		d.conn.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
			"from": a.pnJID(), "type": "devices", "id": randomHex(8), "t": unixNow(),
		}, Content: []waBinary.Node{{Tag: "update", Attrs: waBinary.Attrs{"hash": randomHex(4)}}}})
	}
}

// SendOptions tunes a message sent by a simulated contact.
type SendOptions struct {
	// FromLID addresses the stanza from the contact's LID (with sender_pn)
	// instead of its phone number (with sender_lid).
	FromLID bool
	// ID overrides the generated message id.
	ID string
	// PushName overrides the contact's push name (notify attribute).
	PushName string
}

// resolveTarget finds the recipient account from a phone number or JID.
func (s *Server) resolveTarget(to string) (*account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(to, "@") {
		jid, err := types.ParseJID(to)
		if err != nil {
			return nil, err
		}
		if a := s.accountByJIDLocked(jid); a != nil {
			return a, nil
		}
		return nil, fmt.Errorf("wasim: unknown recipient %s", to)
	}
	a := s.accounts[normalizePhone(to)]
	if a == nil {
		return nil, fmt.Errorf("wasim: unknown recipient %s", to)
	}
	return a, nil
}

// SendText sends a text message from the contact to an account (phone
// number or JID); every linked companion of that account gets it.
func (c *Contact) SendText(ctx context.Context, to, text string) (string, error) {
	return c.SendMessage(ctx, to, &waE2E.Message{Conversation: &text}, SendOptions{})
}

// SendTextOpts is SendText with options (e.g. LID addressing).
func (c *Contact) SendTextOpts(ctx context.Context, to, text string, opts SendOptions) (string, error) {
	return c.SendMessage(ctx, to, &waE2E.Message{Conversation: &text}, opts)
}

// SendMessage encrypts msg for every companion of the recipient account and
// queues it (delivered now if connected, else on the next login). An
// account without linked companions only "has" its phone, so nothing is
// queued and no error is returned.
func (c *Contact) SendMessage(ctx context.Context, to string, msg *waE2E.Message, opts SendOptions) (string, error) {
	s := c.s
	target, err := s.resolveTarget(to)
	if err != nil {
		return "", err
	}
	if target == c.acct {
		return "", errors.New("wasim: a contact cannot message itself")
	}
	id := opts.ID
	if id == "" {
		id = newMessageID()
	}
	name := opts.PushName
	if name == "" {
		name = c.acct.pushName
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
	s.mu.Lock()
	devs := make([]*companion, 0, len(target.companions))
	for _, id := range target.sortedCompanionIDs() {
		devs = append(devs, target.companions[id])
	}
	s.mu.Unlock()
	for _, d := range devs {
		s.mu.Lock()
		addr := d.lidJID()
		s.mu.Unlock()
		encType, ct, err := c.acct.primary.encrypt(ctx, addr, msg, func() (bundle *prekeyBundle, err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.companionBundleLocked(d), nil
		})
		if err != nil {
			return "", err
		}
		attrs := waBinary.Attrs{"id": id, "t": unixNow(), "type": msgType, "notify": name}
		if opts.FromLID {
			attrs["from"] = c.acct.lidJID()
			attrs["sender_pn"] = c.acct.pnJID()
		} else {
			attrs["from"] = c.acct.pnJID()
			attrs["sender_lid"] = c.acct.lidJID()
		}
		encAttrs := waBinary.Attrs{"v": "2", "type": encType}
		if mt := encMediaType(msg); mt != "" {
			encAttrs["mediatype"] = mt
		}
		node := waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{
			{Tag: "enc", Attrs: encAttrs, Content: ct},
		}}
		s.retries.remember(sentKey{c.acct.pn, d.jid().String(), id}, sentMsg{msg: msg, attrs: attrs, enc: encAttrs})
		s.mu.Lock()
		if target.companions[d.id] == d {
			s.enqueueLocked(d, queueKey("message", "", id), node)
		}
		s.mu.Unlock()
	}
	if d := mediaOf(msg); d != nil {
		s.rememberMedia(id, d) // the phone keeps the file (mediaretry.go)
	}
	return id, nil
}

// MarkRead sends read receipts from the contact for messages it received.
func (c *Contact) MarkRead(ctx context.Context, ids ...string) error {
	return c.sendReceipt(ids, "read")
}

func (c *Contact) sendReceipt(ids []string, typ string) error {
	s := c.s
	byAcct := map[*account][]string{}
	for _, r := range c.acct.primary.Received() {
		if slices.Contains(ids, r.ID) {
			s.mu.Lock()
			if a := s.accountByJIDLocked(r.SenderDevice); a != nil {
				byAcct[a] = append(byAcct[a], r.ID)
			}
			s.mu.Unlock()
		}
	}
	if len(byAcct) == 0 {
		return errors.New("wasim: no received message with these ids")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, list := range byAcct {
		for _, d := range a.companions {
			attrs := waBinary.Attrs{"from": c.acct.lidJID(), "id": list[0], "t": unixNow(), "type": typ}
			var content []waBinary.Node
			if len(list) > 1 {
				items := make([]waBinary.Node, 0, len(list)-1)
				for _, id := range list[1:] {
					items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"id": id}})
				}
				content = []waBinary.Node{{Tag: "list", Content: items}}
			}
			s.enqueueLocked(d, queueKey("receipt", typ, list[0]), waBinary.Node{Tag: "receipt", Attrs: attrs, Content: content})
		}
	}
	return nil
}

// decodeNode decodes binary.Marshal output (with its leading flag byte).
func decodeNode(raw []byte) (*waBinary.Node, error) {
	data, err := waBinary.Unpack(raw)
	if err != nil {
		return nil, err
	}
	return waBinary.Unmarshal(data)
}
