package wasim_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func TestSendTextAndChatOperations(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550010001")
	alice := s.Contact("15550020002")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	to := types.NewJID("15550020002", types.DefaultUserServer)

	resp, err := c.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("hello alice")})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	got, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != wasim.KindText || got.Text != "hello alice" {
		t.Fatalf("contact got %+v", got)
	}
	// LID-first addressing: to=<lid>@lid with peer_recipient_pn.
	if got.To != alice.LID().String() || got.PeerRecipientPN != alice.JID().String() {
		t.Fatalf("to=%q peer_recipient_pn=%q, want %s / %s", got.To, got.PeerRecipientPN, alice.LID(), alice.JID())
	}
	if got.Encrypted != "pkmsg" {
		t.Fatalf("first message should be pkmsg, got %s", got.Encrypted)
	}
	// The phone decrypted the device-sent copy.
	dsm, err := phone.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if dsm.Text != "hello alice" || dsm.Chat != alice.LID().String() {
		t.Fatalf("phone DSM %+v", dsm)
	}
	// Delivery receipt from the contact reaches the client.
	wasimtest.WaitFor[*events.Receipt](t, c.Events, 0, func(r *events.Receipt) bool {
		return len(r.MessageIDs) > 0 && r.MessageIDs[0] == resp.ID && r.Type == types.ReceiptTypeDelivered
	})

	if err := alice.MarkRead(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Receipt](t, c.Events, 0, func(r *events.Receipt) bool {
		return len(r.MessageIDs) > 0 && r.MessageIDs[0] == resp.ID && r.Type == types.ReceiptTypeRead
	})

	ops := []struct {
		name string
		msg  *waE2E.Message
		kind string
		edit string
		text string
	}{
		{"edit", c.BuildEdit(to, resp.ID, &waE2E.Message{Conversation: proto.String("hello again")}), wasim.KindEdit, "1", "hello again"},
		{"reaction", c.BuildReaction(to, c.Store.GetJID(), resp.ID, "👍"), wasim.KindReaction, "", ""},
		{"pin", pinMessage(c, to, resp.ID, waE2E.PinInChatMessage_PIN_FOR_ALL), wasim.KindPin, "2", ""},
		{"unpin", pinMessage(c, to, resp.ID, waE2E.PinInChatMessage_UNPIN_FOR_ALL), wasim.KindUnpin, "2", ""},
		{"revoke", c.BuildRevoke(to, types.EmptyJID, resp.ID), wasim.KindRevoke, "7", ""},
	}
	for _, op := range ops {
		r, err := c.SendMessage(ctx, to, op.msg)
		if err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		got, err := alice.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID })
		if err != nil {
			t.Fatalf("%s not received: %v", op.name, err)
		}
		if got.Kind != op.kind || got.TargetID != resp.ID || got.EditAttr != op.edit || got.Text != op.text {
			t.Fatalf("%s: got kind=%s target=%s edit=%q text=%q", op.name, got.Kind, got.TargetID, got.EditAttr, got.Text)
		}
		if op.kind == wasim.KindReaction && got.Emoji != "👍" {
			t.Fatalf("reaction emoji %q", got.Emoji)
		}
		if op.kind == wasim.KindPin && got.PinDurationSeconds != 604800 {
			t.Fatalf("pin duration %d", got.PinDurationSeconds)
		}
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	if s.Counter("iq:privacy-tokens") < 1 {
		t.Fatal("client never issued a privacy token")
	}
}

func pinMessage(c *wasimtest.Client, chat types.JID, id string, typ waE2E.PinInChatMessage_Type) *waE2E.Message {
	return &waE2E.Message{
		PinInChatMessage: &waE2E.PinInChatMessage{
			Key:               c.BuildMessageKey(chat, c.Store.GetJID(), id),
			Type:              typ.Enum(),
			SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
		},
		MessageContextInfo: &waE2E.MessageContextInfo{
			MessageAddOnDurationInSecs: proto.Uint32(604800),
			MessageAddOnExpiryType:     waE2E.MessageContextInfo_STATIC.Enum(),
		},
	}
}

func TestReceiveFromContact(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550010002")
	bob := s.Contact("15550020003")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	id, err := bob.SendText(ctx, phone.JID().String(), "hi from bob")
	if err != nil {
		t.Fatal(err)
	}
	msg := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	if msg.Message.GetConversation() != "hi from bob" || msg.Info.Sender.User != bob.JID().User {
		t.Fatalf("got %+v", msg.Info)
	}
	wasimtest.Eventually(t, "delivery receipt", func() bool {
		for _, r := range bob.Receipts() {
			if r.ID == id {
				return true
			}
		}
		return false
	})
	// Second message, LID-addressed with sender_pn, rides the existing session.
	id2, err := bob.SendTextOpts(ctx, "15550010002", "lid hello", wasim.SendOptions{FromLID: true})
	if err != nil {
		t.Fatal(err)
	}
	msg2 := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool { return m.Info.ID == id2 })
	if msg2.Info.Sender.Server != types.HiddenUserServer || msg2.Info.SenderAlt.User != bob.JID().User {
		t.Fatalf("LID-addressed: sender=%s alt=%s", msg2.Info.Sender, msg2.Info.SenderAlt)
	}
	wasimtest.Eventually(t, "queue drained", func() bool { return s.Pending(c.Store.GetJID()) == 0 })
}

func TestOfflineQueue(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550010003")
	carol := s.Contact("15550020004")
	container := wasimtest.Container()
	dev := container.NewDevice()
	c := wasimtest.NewClient(t, s, dev)
	jid := wasimtest.PairQR(t, c, phone)
	c.Disconnect()
	wasimtest.Eventually(t, "disconnect seen", func() bool { return !s.Connected(jid) })
	ctx := wasimtest.Ctx(t)
	id1, err := carol.SendText(ctx, "15550010003", "while you were away 1")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := carol.SendText(ctx, "15550010003", "while you were away 2")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Pending(jid); n != 2 {
		t.Fatalf("pending = %d, want 2", n)
	}
	c2 := wasimtest.NewClient(t, s, dev)
	if err := c2.Connect(); err != nil {
		t.Fatal(err)
	}
	off := wasimtest.WaitFor[*events.OfflineSyncCompleted](t, c2.Events, 0, nil)
	if off.Count != 2 {
		t.Fatalf("offline count %d", off.Count)
	}
	for _, id := range []string{id1, id2} {
		wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	}
	wasimtest.Eventually(t, "queue drained by receipts", func() bool { return s.Pending(jid) == 0 })
}

func TestFaults(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550010004")
	c := wasimtest.NewPairedClient(t, s, phone)
	jid := c.Store.GetJID()

	// Abrupt drop: whatsmeow reconnects by itself.
	n := c.Events.Len()
	s.DropConnection(jid)
	wasimtest.WaitFor[*events.Disconnected](t, c.Events, n, nil)
	wasimtest.WaitFor[*events.Connected](t, c.Events, n, nil)

	// 503 stream error: reconnect as well.
	n = c.Events.Len()
	s.StreamError(jid, "503")
	wasimtest.WaitFor[*events.Connected](t, c.Events, n, nil)

	// Replaced.
	n = c.Events.Len()
	s.StreamError(jid, "replaced")
	wasimtest.WaitFor[*events.StreamReplaced](t, c.Events, n, nil)
	c.Disconnect()
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c.Events, n, nil)

	// Remote logout while connected.
	n = c.Events.Len()
	s.RemoteLogout(jid)
	lo := wasimtest.WaitFor[*events.LoggedOut](t, c.Events, n, nil)
	if lo.OnConnect {
		t.Fatalf("want stream-error logout, got %+v", lo)
	}
	if len(s.Devices(phone.JID().User)) != 0 {
		t.Fatal("device still linked")
	}
}

func TestLogout(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550010005")
	c := wasimtest.NewPairedClient(t, s, phone)
	if err := c.Logout(wasimtest.Ctx(t)); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if len(s.Devices(phone.JID().User)) != 0 {
		t.Fatal("device still linked after logout")
	}
}

var _ = whatsmeow.PairClientChrome
