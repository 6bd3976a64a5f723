package wasim_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestAcceptCompression: with Options.AcceptCompression the server accepts
// whatsmeow's permessage-deflate offer, and pairing, login and messages in
// both directions work over the compressed socket. Without it (default)
// nothing is compressed.
func TestAcceptCompression(t *testing.T) {
	s := wasimtest.NewServerOpts(t, wasim.Options{Logger: wasimtest.Logger(t), Strict: true, AcceptCompression: true})
	phone := s.Phone("15550150001")
	erin := s.Contact("15550160001")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	// Pairing socket and the login after 515.
	if n := s.Counter("ws:compressed"); n != 2 {
		t.Fatalf("compressed connections = %d, want 2", n)
	}
	r, err := c.SendMessage(ctx, erin.JID(), &waE2E.Message{Conversation: proto.String("deflated hello")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := erin.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID }); err != nil || got.Text != "deflated hello" {
		t.Fatalf("contact got %+v, %v", got, err)
	}
	id, err := erin.SendText(ctx, phone.JID().User, "deflated reply")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == id && m.Message.GetConversation() == "deflated reply"
	})
	noViolations(t, s)

	plain := wasimtest.NewServer(t)
	wasimtest.NewPairedClient(t, plain, plain.Phone("15550150002"))
	if n := plain.Counter("ws:compressed"); n != 0 {
		t.Fatalf("default server compressed %d connections", n)
	}
}
