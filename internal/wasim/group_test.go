package wasim_test

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

// sync makes one IQ round trip: the simulator handles a connection's
// stanzas in order, so everything the client sent before is processed.
func roundTrip(t *testing.T, c *wasimtest.Client, gid types.JID) {
	t.Helper()
	if _, err := c.GetGroupInfo(wasimtest.Ctx(t), gid); err != nil && !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("sync: %v", err)
	}
}

func TestGroupCreateSendAndReceive(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110001")
	alice := s.Contact("15550120001")
	bob := s.Contact("15550120002")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	info, err := c.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Team", Participants: []types.JID{alice.JID(), bob.JID()}})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if info.JID.Server != types.GroupServer || info.Name != "Team" || len(info.Participants) != 3 || info.AddressingMode != types.AddressingModePN {
		t.Fatalf("created %+v", info)
	}
	for _, p := range info.Participants {
		if p.JID.User == phone.JID().User && !p.IsSuperAdmin {
			t.Fatalf("creator is not superadmin: %+v", p)
		}
		if p.LID.IsEmpty() || p.PhoneNumber.IsEmpty() {
			t.Fatalf("participant without LID/PN: %+v", p)
		}
	}
	joined := wasimtest.WaitFor[*events.JoinedGroup](t, c.Events, 0, func(e *events.JoinedGroup) bool { return e.JID == info.JID })
	if joined.Type != "new" || joined.Name != "Team" || len(joined.Participants) != 3 {
		t.Fatalf("JoinedGroup %+v", joined)
	}
	gid := info.JID

	// The client sends: SKDM to every member device, one skmsg.
	for i, body := range []string{"hello team", "second"} {
		resp, err := c.SendMessage(ctx, gid, text(body))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		for _, who := range []*wasim.Contact{alice, bob} {
			got, err := who.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != wasim.KindText || got.Text != body || got.Chat != gid.String() || got.Encrypted != "skmsg" ||
				got.From != phone.JID().String() {
				t.Fatalf("member got %+v", got)
			}
		}
		if _, err := phone.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID && r.Chat == gid.String() }); err != nil {
			t.Fatal("own phone did not decrypt the group message")
		}
		wasimtest.WaitFor[*events.Receipt](t, c.Events, 0, func(r *events.Receipt) bool {
			return r.Chat == gid && slices.Contains(r.MessageIDs, resp.ID) && r.Sender.User == alice.JID().User
		})
	}

	// A member's message arrives with the participant as sender.
	for i, body := range []string{"hi from bob", "bob again"} {
		id, err := s.GroupSend(ctx, gid.String(), bob.JID().User, body)
		if err != nil {
			t.Fatalf("GroupSend %d: %v", i, err)
		}
		msg := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool {
			return m.Info.ID == id && m.Message.GetConversation() != ""
		})
		if msg.Info.Chat != gid || !msg.Info.IsGroup || msg.Info.Sender.User != bob.JID().User ||
			msg.Info.SenderAlt.User != bob.LID().User || msg.Message.GetConversation() != body {
			t.Fatalf("client got %+v %v", msg.Info, msg.Message)
		}
		got, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == id })
		if err != nil || got.Text != body || got.Chat != gid.String() {
			t.Fatalf("alice got %+v %v", got, err)
		}
	}
	if n := s.Counter("group:dropped-non-member"); n != 0 {
		t.Fatalf("dropped %d", n)
	}
	wasimtest.Eventually(t, "queue drained", func() bool { return s.Pending(c.Store.GetJID()) == 0 })
	noViolations(t, s)
}
