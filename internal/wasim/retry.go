package wasim

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/util/optional"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Retry receipts, as WhatsApp clients use them so that a message that fails
// to decrypt is not lost for good:
//
//   - A companion (whatsmeow) that cannot decrypt a contact's message sends
//     <receipt type="retry"> with <retry count id t v/> and <registration>,
//     from the second attempt on also <keys> (identity, a fresh one-time
//     prekey, the signed prekey, device-identity). The simulated contact
//     answers by encrypting the same message again, under the same id, with
//     <enc count=n>; when the receipt carries keys it first replaces its
//     session with a fresh one built from them.
//   - A simulated contact that cannot decrypt a companion's message sends
//     the same receipt to that companion (keys from the second attempt on);
//     whatsmeow finds the message among its recent sends and resends it,
//     building a new session from the keys.
//
// After maxRetryReceipts attempts (whatsmeow's own limit) the message is
// given up and that is a protocol violation.

// maxRetryReceipts is how many retry receipts one device sends for one
// message (whatsmeow stops at 5 as well).
const maxRetryReceipts = 4

// maxRememberedSends bounds the contacts' sent messages kept for retries.
const maxRememberedSends = 50000

type sentKey struct {
	from, dev, id string
}

type sentMsg struct {
	msg   *waE2E.Message
	attrs waBinary.Attrs
	enc   waBinary.Attrs
}

type retryState struct {
	mu     sync.Mutex
	sent   map[sentKey]sentMsg
	order  []sentKey
	counts map[sentKey]int // retry receipts a contact sent per message
}

func (r *retryState) remember(k sentKey, m sentMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[sentKey]sentMsg{}
	}
	if _, ok := r.sent[k]; !ok {
		r.order = append(r.order, k)
	}
	r.sent[k] = m
	for len(r.order) > maxRememberedSends {
		delete(r.sent, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *retryState) lookup(k sentKey) (sentMsg, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.sent[k]
	return m, ok
}

// nextCount returns the number of the next retry receipt for a message.
func (r *retryState) nextCount(k sentKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[sentKey]int{}
	}
	r.counts[k]++
	return r.counts[k]
}

// handleRetryReceipt answers a companion's retry receipt for a message a
// simulated contact sent: it re-encrypts and queues it again.
func (s *Server) handleRetryReceipt(c *conn, node *waBinary.Node) {
	s.mu.Lock()
	dev := c.dev
	to, _ := node.Attrs["to"].(types.JID)
	var contact *account
	if !to.IsEmpty() {
		contact = s.accountByJIDLocked(to)
	}
	s.mu.Unlock()
	id := node.AttrGetter().OptionalString("id")
	if dev == nil || contact == nil || contact == dev.acct || to.Server == types.GroupServer {
		return
	}
	s.countSent("retry:received")
	retry, ok := node.GetOptionalChildByTag("retry")
	if !ok {
		s.violation("retry receipt %s without <retry>", id)
		return
	}
	count := retry.AttrGetter().OptionalInt("count")
	sent, ok := s.retries.lookup(sentKey{contact.pn, dev.jid().String(), id})
	if !ok {
		s.violation("retry receipt from %s for %s, which %s never sent it", dev.jid(), id, contact.pn)
		return
	}
	var bundle *prekey.Bundle
	if _, hasKeys := node.GetOptionalChildByTag("keys"); hasKeys {
		b, err := retryBundle(uint32(dev.id), node)
		if err != nil {
			s.violation("retry receipt %s from %s with bad keys: %v", id, dev.jid(), err)
			return
		}
		bundle = b
	}
	s.mu.Lock()
	addr := dev.lidJID()
	s.mu.Unlock()
	ctx := c.ctx
	encType, ct, err := contact.primary.encryptRetry(ctx, addr, sent.msg, bundle)
	if err != nil {
		s.violation("simulated device %s could not re-encrypt %s for %s: %v", contact.pn, id, dev.jid(), err)
		return
	}
	enc := waBinary.Attrs{}
	for k, v := range sent.enc {
		enc[k] = v
	}
	enc["type"] = encType
	enc["count"] = fmt.Sprint(count)
	attrs := waBinary.Attrs{}
	for k, v := range sent.attrs {
		attrs[k] = v
	}
	msgNode := waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{{Tag: "enc", Attrs: enc, Content: ct}}}
	s.mu.Lock()
	s.enqueueLocked(dev, queueKey("message", "", id), msgNode)
	s.mu.Unlock()
	s.countSent("retry:answered")
	if bundle != nil {
		s.countSent("retry:answered-new-session")
	}
	s.log.Warn().Str("id", id).Str("contact", contact.pn).Str("device", dev.jid().String()).Int("count", count).
		Bool("new_session", bundle != nil).Msg("answered a retry receipt")
}

// retryBundle reads the prekey bundle of a retry receipt's <keys>.
func retryBundle(deviceID uint32, node *waBinary.Node) (*prekey.Bundle, error) {
	reg, _ := node.GetChildByTag("registration").Content.([]byte)
	if len(reg) != 4 {
		return nil, fmt.Errorf("registration id of %d bytes", len(reg))
	}
	keysNode := node.GetChildByTag("keys")
	ident, _ := keysNode.GetChildByTag("identity").Content.([]byte)
	if len(ident) != 32 {
		return nil, fmt.Errorf("identity of %d bytes", len(ident))
	}
	readKey := func(tag string, signed bool) (uint32, [32]byte, [64]byte, error) {
		var pub [32]byte
		var sig [64]byte
		k, ok := keysNode.GetOptionalChildByTag(tag)
		if !ok {
			return 0, pub, sig, fmt.Errorf("no <%s>", tag)
		}
		idb, _ := k.GetChildByTag("id").Content.([]byte)
		val, _ := k.GetChildByTag("value").Content.([]byte)
		if len(idb) != 3 || len(val) != 32 {
			return 0, pub, sig, fmt.Errorf("malformed <%s>", tag)
		}
		copy(pub[:], val)
		if signed {
			sb, _ := k.GetChildByTag("signature").Content.([]byte)
			if len(sb) != 64 {
				return 0, pub, sig, fmt.Errorf("<%s> without a 64-byte signature", tag)
			}
			copy(sig[:], sb)
		}
		return uint32(idb[0])<<16 | uint32(idb[1])<<8 | uint32(idb[2]), pub, sig, nil
	}
	pkID, pkPub, _, err := readKey("key", false)
	if err != nil {
		return nil, err
	}
	skID, skPub, skSig, err := readKey("skey", true)
	if err != nil {
		return nil, err
	}
	return prekey.NewBundle(binary.BigEndian.Uint32(reg), deviceID, optional.NewOptionalUint32(pkID), skID,
		ecc.NewDjbECPublicKey(pkPub), ecc.NewDjbECPublicKey(skPub), skSig,
		identity.NewKey(ecc.NewDjbECPublicKey([32]byte(ident)))), nil
}

// sendRetryReceipt asks a companion to resend a message the simulated
// device could not decrypt. It reports whether a receipt was sent (false
// once the retries are used up).
func (s *Server) sendRetryReceipt(ctx context.Context, acct *account, dev *companion, tg encTarget, meta outMeta) bool {
	k := sentKey{"retry-out:" + acct.pn, dev.jid().String(), meta.id}
	count := s.retries.nextCount(k)
	if count > maxRetryReceipts {
		return false
	}
	from := acct.pnJID()
	if tg.to.Server == types.HiddenUserServer {
		from = acct.lidJID()
	}
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], acct.primary.store.RegistrationID)
	content := []waBinary.Node{
		{Tag: "retry", Attrs: waBinary.Attrs{"count": fmt.Sprint(count), "id": meta.id, "t": fmt.Sprint(meta.t.Unix()), "v": "1"}},
		{Tag: "registration", Content: reg[:]},
	}
	if count > 1 {
		_, ident, skey, otk, err := acct.primary.bundle(ctx)
		if err != nil {
			s.log.Error().Err(err).Msg("prekey for a retry receipt")
			return false
		}
		content = append(content, waBinary.Node{Tag: "keys", Content: []waBinary.Node{
			{Tag: "type", Content: []byte{ecc.DjbType}},
			{Tag: "identity", Content: ident[:]},
			keyNode("key", otk.KeyID, otk.Pub[:], nil),
			keyNode("skey", skey.KeyID, skey.Pub[:], skey.Signature[:]),
		}})
	}
	s.mu.Lock()
	s.enqueueLocked(dev, queueKey("receipt", "retry", meta.id), waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
		"from": from, "id": meta.id, "t": unixNow(), "type": "retry",
	}, Content: content})
	s.mu.Unlock()
	s.countSent("retry:requested")
	return true
}

// ForgetSession deletes the contact's Signal session with a companion
// device (as a reinstalled phone would have lost it): the companion's next
// message cannot be decrypted until a retry receipt brings a new session.
func (c *Contact) ForgetSession(ctx context.Context, device types.JID) error {
	d := c.acct.primary
	addr, err := c.s.companionLID(device)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store.Sessions.DeleteSession(ctx, addr.SignalAddress().String())
}

// CorruptSession replaces the contact's Signal session with a companion
// device by one the companion cannot match (built from the companion's
// real identity and signed prekey but a one-time prekey it never had): the
// contact's next messages fail to decrypt on the companion until a retry
// receipt with the companion's keys makes the contact start over.
func (c *Contact) CorruptSession(ctx context.Context, device types.JID) error {
	s := c.s
	addr, err := s.companionLID(device)
	if err != nil {
		return err
	}
	s.mu.Lock()
	acct := s.accountByJIDLocked(device)
	var comp *companion
	if acct != nil {
		comp = acct.companions[device.Device]
	}
	if comp == nil {
		s.mu.Unlock()
		return fmt.Errorf("wasim: unknown device %s", device)
	}
	bogus := *keys.NewKeyPair().Pub
	b := prekey.NewBundle(comp.regID, uint32(comp.id), optional.NewOptionalUint32(0xfffff0), comp.skeyID,
		ecc.NewDjbECPublicKey(bogus), ecc.NewDjbECPublicKey(comp.skeyPub), comp.skeySig,
		identity.NewKey(ecc.NewDjbECPublicKey(comp.identityPub)))
	s.mu.Unlock()
	d := c.acct.primary
	d.mu.Lock()
	defer d.mu.Unlock()
	sa := addr.SignalAddress()
	if err := d.store.Sessions.DeleteSession(ctx, sa.String()); err != nil {
		return err
	}
	return session.NewBuilderFromSignal(d.store, sa, store.SignalProtobufSerializer).ProcessBundle(ctx, b)
}

func (s *Server) companionLID(device types.JID) (types.JID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.accountByJIDLocked(device)
	if acct == nil || acct.companions[device.Device] == nil {
		return types.JID{}, fmt.Errorf("wasim: unknown device %s", device)
	}
	return acct.companions[device.Device].lidJID(), nil
}
