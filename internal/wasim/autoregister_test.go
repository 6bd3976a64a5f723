package wasim_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestAutoRegister: with Options.AutoRegister a number nobody created is
// on WhatsApp as soon as a client looks it up; a real whatsmeow send to it
// is decrypted by its simulated device, which can answer. Numbers in the
// reserved range (999...) and malformed ones stay "not on WhatsApp".
func TestAutoRegister(t *testing.T) {
	s := wasimtest.NewServerOpts(t, wasim.Options{Logger: wasimtest.Logger(t), Strict: true, AutoRegister: true})
	phone := s.Phone("15550170001")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	const fresh = "15550180001"
	if s.Known(fresh) {
		t.Fatal("account exists before any lookup")
	}
	to := types.NewJID(fresh, types.DefaultUserServer)
	r, err := c.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("hello stranger")})
	if err != nil {
		t.Fatalf("send to an unknown number: %v", err)
	}
	if !s.Known(fresh) {
		t.Fatal("the send did not register the number")
	}
	stranger := s.Contact(fresh)
	got, err := stranger.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID })
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != wasim.KindText || got.Text != "hello stranger" || got.Encrypted != "pkmsg" || got.To != stranger.LID().String() {
		t.Fatalf("auto-registered contact got %+v", got)
	}
	reply, err := stranger.SendText(ctx, phone.JID().User, "who is this?")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == reply && m.Message.GetConversation() == "who is this?"
	})

	// IsOnWhatsApp (usync contact query) registers too; reserved and
	// malformed numbers are not on WhatsApp and are not created.
	res, err := c.IsOnWhatsApp(ctx, []string{"+15550180002", "+9995550001", "+12345"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].IsIn || res[0].PhoneNumber.User != "15550180002" || res[0].JID.Server != types.HiddenUserServer || res[1].IsIn || res[2].IsIn {
		t.Fatalf("IsOnWhatsApp = %+v", res)
	}
	if !s.Known("15550180002") || s.Known("9995550001") || s.Known("12345") {
		t.Fatal("IsOnWhatsApp registered the wrong numbers")
	}

	const reserved = "9995550002"
	if !wasim.IsReservedNumber("+" + reserved) {
		t.Fatal("IsReservedNumber(+999...) = false")
	}
	_, err = c.SendMessage(ctx, types.NewJID(reserved, types.DefaultUserServer), &waE2E.Message{Conversation: proto.String("nobody")})
	if err == nil || !strings.Contains(err.Error(), "no LID found") {
		t.Fatalf("send to a reserved number: err = %v, want no LID found", err)
	}
	if s.Known(reserved) {
		t.Fatal("a reserved number was registered")
	}
	// Phone and Contact still create reserved numbers explicitly.
	if explicit := s.Contact("9995550003"); !s.Known("9995550003") || explicit.JID().User != "9995550003" {
		t.Fatal("Contact did not create a reserved number")
	}
	if n := s.Counter("auto-registered"); n != 2 {
		t.Fatalf("auto-registered = %d, want 2", n)
	}
	noViolations(t, s)
}

// TestAutoRegisterOffByDefault: without the option an unknown number is
// not on WhatsApp, as before.
func TestAutoRegisterOffByDefault(t *testing.T) {
	s := wasimtest.NewServer(t)
	c := wasimtest.NewPairedClient(t, s, s.Phone("15550170002"))
	ctx := wasimtest.Ctx(t)
	_, err := c.SendMessage(ctx, types.NewJID("15550180003", types.DefaultUserServer), &waE2E.Message{Conversation: proto.String("hi")})
	if err == nil || !strings.Contains(err.Error(), "no LID found") {
		t.Fatalf("send to an unknown number: err = %v, want no LID found", err)
	}
	if s.Known("15550180003") || s.Counter("auto-registered") != 0 {
		t.Fatal("the default server registered an unknown number")
	}
}

// TestAutoRegisterPersists: an auto-registered contact is stored like any
// other: after a restart from Postgres it exists with its keys and Signal
// session (completed by a reply before the restart), so the next message
// is a plain "msg" it decrypts, not a new prekey message.
func TestAutoRegisterPersists(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	opts := wasim.Options{Logger: log, Strict: true, DB: pool, AutoRegister: true}
	s1 := wasimtest.NewServerOpts(t, opts)
	phone := s1.Phone("15550170003")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)
	wasimtest.PairQR(t, c1, phone)
	ctx := wasimtest.Ctx(t)
	const fresh = "15550180004"
	to := types.NewJID(fresh, types.DefaultUserServer)
	r, err := c1.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("before restart")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s1.Contact(fresh).WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID }); err != nil {
		t.Fatal(err)
	}
	// A reply completes the Signal session: from now on the client sends "msg".
	reply, err := s1.Contact(fresh).SendText(ctx, phone.JID().User, "reply")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool { return m.Info.ID == reply })
	c1.Disconnect()
	_ = s1.Close()

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	if !s2.Known(fresh) {
		t.Fatal("auto-registered contact lost in the restart")
	}
	c2 := wasimtest.NewClient(t, s2, dev)
	// whatsmeow dispatches Connected after its post-connect IQs; sending
	// before that races inside whatsmeow (two WaitForConnection calls on
	// one exsync.Event), which -race reports.
	connected := make(chan struct{})
	var once sync.Once
	c2.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.Connected); ok {
			once.Do(func() { close(connected) })
		}
	})
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.Eventually(t, "login", func() bool { return s2.Connected(c2.Store.GetJID()) })
	select {
	case <-connected:
	case <-time.After(15 * time.Second):
		t.Fatal("no Connected event after the restart")
	}
	r2, err := c2.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("after restart")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Contact(fresh).WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r2.ID })
	if err != nil || got.Text != "after restart" || got.Encrypted != "msg" {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	noViolations(t, s2)
}
