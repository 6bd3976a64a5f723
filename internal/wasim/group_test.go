package wasim_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
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

// roundTrip makes one IQ round trip that leaves group caches alone: the
// simulator handles a connection's stanzas in order, so everything the
// client sent before is processed.
func roundTrip(t *testing.T, c *wasimtest.Client, _ types.JID) {
	t.Helper()
	if _, err := c.IsOnWhatsApp(wasimtest.Ctx(t), []string{"+15550000000"}); err != nil {
		t.Fatalf("round trip: %v", err)
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
		// The SKDM goes once to each device (the client, alice's and the
		// session's phones), not with every message.
		if n := s.Counter("group:skdm"); n != 3 {
			t.Fatalf("after message %d: %d SKDMs sent, want 3", i, n)
		}
	}
	if n := s.Counter("group:dropped-non-member") + s.Counter("group:phash-mismatch"); n != 0 {
		t.Fatalf("dropped or mismatched %d", n)
	}
	wasimtest.Eventually(t, "queue drained", func() bool { return s.Pending(c.Store.GetJID()) == 0 })
	noViolations(t, s)
}

func TestGroupMetadataNotificationsAndRefusals(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110002")
	alice := s.Contact("15550120003")
	bob := s.Contact("15550120004")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	info, err := c.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Meta", Participants: []types.JID{alice.JID()}})
	if err != nil {
		t.Fatal(err)
	}
	gid := info.JID
	groupInfo := func(pred func(*events.GroupInfo) bool) *events.GroupInfo {
		t.Helper()
		return wasimtest.WaitFor[*events.GroupInfo](t, c.Events, 0, func(e *events.GroupInfo) bool { return e.JID == gid && pred(e) })
	}

	if err = c.SetGroupName(ctx, gid, "Renamed"); err != nil {
		t.Fatal(err)
	}
	e := groupInfo(func(e *events.GroupInfo) bool { return e.Name != nil })
	if e.Name.Name != "Renamed" || e.Sender == nil || e.Sender.User != phone.JID().User {
		t.Fatalf("name event %+v", e)
	}
	if err = c.SetGroupTopic(ctx, gid, "", "", "All about meta"); err != nil {
		t.Fatal(err)
	}
	e = groupInfo(func(e *events.GroupInfo) bool { return e.Topic != nil })
	if e.Topic.Topic != "All about meta" || e.Topic.TopicID == "" {
		t.Fatalf("topic event %+v", e.Topic)
	}
	if err = c.SetGroupAnnounce(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	groupInfo(func(e *events.GroupInfo) bool { return e.Announce != nil && e.Announce.IsAnnounce })
	if err = c.SetGroupLocked(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	groupInfo(func(e *events.GroupInfo) bool { return e.Locked != nil && e.Locked.IsLocked })

	got, err := c.GetGroupInfo(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Renamed" || got.Topic != "All about meta" || !got.IsAnnounce || !got.IsLocked || got.NameSetBy.User != phone.JID().User {
		t.Fatalf("GetGroupInfo %+v", got)
	}

	// Participants: per-participant results.
	res, err := c.UpdateGroupParticipants(ctx, gid, []types.JID{bob.JID(), alice.JID(), types.NewJID("9990000001", types.DefaultUserServer)}, whatsmeow.ParticipantChangeAdd)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Error != 0 || res[0].JID.User != bob.JID().User || res[1].Error != 409 || res[2].Error != 404 {
		t.Fatalf("add results %+v", res)
	}
	e = groupInfo(func(e *events.GroupInfo) bool { return len(e.Join) > 0 })
	if len(e.Join) != 1 || e.Join[0].User != bob.JID().User {
		t.Fatalf("join event %+v", e.Join)
	}
	if _, err = c.UpdateGroupParticipants(ctx, gid, []types.JID{bob.JID()}, whatsmeow.ParticipantChangePromote); err != nil {
		t.Fatal(err)
	}
	groupInfo(func(e *events.GroupInfo) bool { return len(e.Promote) == 1 && e.Promote[0].User == bob.JID().User })
	res, err = c.UpdateGroupParticipants(ctx, gid, []types.JID{alice.JID()}, whatsmeow.ParticipantChangeRemove)
	if err != nil || len(res) != 1 || res[0].Error != 0 {
		t.Fatalf("remove: %+v %v", res, err)
	}
	groupInfo(func(e *events.GroupInfo) bool { return len(e.Leave) == 1 && e.Leave[0].User == alice.JID().User })

	// A simulated admin changes things from its phone: the client sees
	// who did it.
	n := c.Events.Len()
	if err = s.GroupSetSubject(ctx, gid.String(), bob.JID().User, "Bob's name"); err != nil {
		t.Fatal(err)
	}
	e = wasimtest.WaitFor[*events.GroupInfo](t, c.Events, n, func(e *events.GroupInfo) bool { return e.Name != nil })
	if e.Name.Name != "Bob's name" || e.Sender.User != bob.JID().User || e.Notify == "" {
		t.Fatalf("sim subject event %+v", e)
	}
	out, err := s.GroupParticipants(ctx, gid.String(), wasim.ParticipantDemote, bob.JID().User, []string{phone.JID().User})
	if err != nil || out[0].Error != wasim.ParticipantErrNotAuthorized {
		t.Fatalf("demoting the creator: %+v %v", out, err)
	}
	if _, err = s.GroupParticipants(ctx, gid.String(), wasim.ParticipantAdd, alice.JID().User, []string{"15550120009"}); !errors.Is(err, wasim.ErrNotGroupMember) {
		t.Fatalf("removed member changed the group: %v", err)
	}
	out, err = s.GroupParticipants(ctx, gid.String(), wasim.ParticipantAdd, bob.JID().User, []string{alice.JID().User})
	if err != nil || out[0].Error != 0 {
		t.Fatalf("sim add: %+v %v", out, err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c.Events, n, func(e *events.GroupInfo) bool {
		return len(e.Join) == 1 && e.Join[0].User == alice.JID().User && e.Sender.User == bob.JID().User
	})

	view, ok := s.Group(gid.String())
	if !ok || view.Subject != "Bob's name" || !view.Announce || !view.Locked || len(view.Participants) != 3 {
		t.Fatalf("view %+v", view)
	}
	roles := map[string]string{}
	for _, p := range view.Participants {
		roles[p.Phone] = p.Role
	}
	if roles[phone.JID().User] != wasim.RoleSuperAdmin || roles[bob.JID().User] != wasim.RoleAdmin || roles[alice.JID().User] != wasim.RoleMember {
		t.Fatalf("roles %v", roles)
	}
	joined, err := c.GetJoinedGroups(ctx)
	if err != nil || len(joined) != 1 || joined[0].JID != gid || len(joined[0].Participants) != 3 {
		t.Fatalf("GetJoinedGroups %+v %v", joined, err)
	}

	// Refusals: unknown group, over-long subject.
	if _, err = c.GetGroupInfo(ctx, types.NewJID("120363000000000000", types.GroupServer)); !errors.Is(err, whatsmeow.ErrGroupNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'x'
	}
	if err = c.SetGroupName(ctx, gid, string(long)); !errors.Is(err, whatsmeow.ErrIQNotAcceptable) {
		t.Fatalf("long subject: %v", err)
	}
	if v, _ := s.Group(gid.String()); v.Subject != "Bob's name" {
		t.Fatalf("subject changed by a refused request: %q", v.Subject)
	}

	// Group picture: JPEG only; members get events.Picture.
	if _, err = c.GetProfilePictureInfo(ctx, gid, nil); !errors.Is(err, whatsmeow.ErrProfilePictureNotSet) {
		t.Fatalf("picture before set: %v", err)
	}
	if _, err = c.SetGroupPhoto(ctx, gid, testPNG(t, 8, 8)); !errors.Is(err, whatsmeow.ErrInvalidImageFormat) {
		t.Fatalf("PNG as group photo: %v", err)
	}
	var jpg bytes.Buffer
	if err = jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	n = c.Events.Len()
	picID, err := c.SetGroupPhoto(ctx, gid, jpg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pe := wasimtest.WaitFor[*events.Picture](t, c.Events, n, func(e *events.Picture) bool { return e.JID == gid })
	if pe.PictureID != picID || pe.Remove || pe.Author.User != phone.JID().User {
		t.Fatalf("picture event %+v", pe)
	}
	pi, err := c.GetProfilePictureInfo(ctx, gid, nil)
	if err != nil || pi.ID != picID {
		t.Fatalf("picture info %+v %v", pi, err)
	}
	if v, _ := s.Group(gid.String()); !bytes.Equal(v.Picture, jpg.Bytes()) || v.PictureID != picID {
		t.Fatal("simulator does not hold the picture")
	}
	n = c.Events.Len()
	if _, err = c.SetGroupPhoto(ctx, gid, nil); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Picture](t, c.Events, n, func(e *events.Picture) bool { return e.JID == gid && e.Remove })
	noViolations(t, s)
}

func TestGroupRemovedMemberGetsNothingNew(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110003")
	alice := s.Contact("15550120005")
	bob := s.Contact("15550120006")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	info, err := c.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Leavers", Participants: []types.JID{alice.JID(), bob.JID()}})
	if err != nil {
		t.Fatal(err)
	}
	gid := info.JID
	before, err := c.SendMessage(ctx, gid, text("before"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = bob.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == before.ID }); err != nil {
		t.Fatal(err)
	}
	// Alice sends once before, so the client holds her first sender key.
	if _, err = s.GroupSend(ctx, gid.String(), alice.JID().User, "alice before"); err != nil {
		t.Fatal(err)
	}
	if _, err = c.UpdateGroupParticipants(ctx, gid, []types.JID{bob.JID()}, whatsmeow.ParticipantChangeRemove); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c.Events, 0, func(e *events.GroupInfo) bool { return len(e.Leave) == 1 })

	after, err := c.SendMessage(ctx, gid, text("after"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == after.ID }); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, gid)
	for _, r := range bob.Received() {
		if r.ID == after.ID {
			t.Fatal("removed member received a new message")
		}
	}
	if _, err = s.GroupSend(ctx, gid.String(), bob.JID().User, "let me in"); !errors.Is(err, wasim.ErrNotGroupMember) {
		t.Fatalf("removed member sent: %v", err)
	}

	// Alice rotates her sender key on her next send: the client gets a
	// fresh SKDM and decrypts; bob's phone holds only the old key.
	id, err := s.GroupSend(ctx, gid.String(), alice.JID().User, "alice after")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == id && m.Message.GetConversation() == "alice after"
	})
	if s.Counter("group:sender-key-rotated") != 1 {
		t.Fatalf("rotations = %d", s.Counter("group:sender-key-rotated"))
	}
	for _, r := range bob.Received() {
		if r.ID == id {
			t.Fatal("removed member received alice's new message")
		}
	}
	// A client with a stale member list still sends the SKDM to a removed
	// member's devices: the server drops them (and answers a phash that
	// makes whatsmeow refetch the group).
	carol := s.Contact("15550120007")
	if _, err = c.UpdateGroupParticipants(ctx, gid, []types.JID{carol.JID()}, whatsmeow.ParticipantChangeAdd); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c.Events, 0, func(e *events.GroupInfo) bool { return len(e.Join) == 1 })
	if _, err = c.SendMessage(ctx, gid, text("carol is in")); err != nil { // the client's cache now lists carol
		t.Fatal(err)
	}
	jid := c.Store.GetJID()
	c.Disconnect()
	wasimtest.Eventually(t, "disconnect", func() bool { return !s.Connected(jid) })
	if _, err = s.GroupParticipants(ctx, gid.String(), wasim.ParticipantRemove, phone.JID().User, []string{carol.JID().User}); err != nil {
		t.Fatal(err)
	}
	wasim.DiscardPending(s, jid) // the client never hears of it
	n0 := c.Events.Len()
	if err = c.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c.Events, n0, nil)
	stale, err := c.SendMessage(ctx, gid, text("stale list"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == stale.ID }); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, gid)
	dropped := s.Counter("group:dropped-non-member")
	if dropped == 0 {
		t.Fatal("the stale SKDM to the removed member was not sent, so nothing was tested")
	}
	for _, r := range carol.Received() {
		if r.ID == stale.ID {
			t.Fatal("removed member received a message sent with a stale member list")
		}
	}
	if _, err = c.SendMessage(ctx, gid, text("fresh list")); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, gid)
	if s.Counter("group:dropped-non-member") != dropped {
		t.Fatal("whatsmeow kept its stale member list after the phash answer")
	}

	// The client leaves: it cannot read the group any more. (Wait for
	// the notification first: whatsmeow edits its cached member list in
	// place while a send may read it, a data race inside whatsmeow.)
	n := c.Events.Len()
	if err = c.LeaveGroup(ctx, gid); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c.Events, n, func(e *events.GroupInfo) bool {
		return len(e.Leave) == 1 && e.Leave[0].User == phone.JID().User
	})
	if _, err = c.GetGroupInfo(ctx, gid); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("after leave: %v", err)
	}
	if _, err = c.SendMessage(ctx, gid, text("ghost")); !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		t.Fatalf("send after leaving: %v", err)
	}
	v, _ := s.Group(gid.String())
	if len(v.Participants) != 1 || v.Participants[0].Phone != alice.JID().User || v.Participants[0].Role != wasim.RoleAdmin {
		t.Fatalf("after the creator left: %+v", v.Participants)
	}
	noViolations(t, s)
}

func TestGroupLIDAddressed(t *testing.T) {
	s := wasimtest.NewServerOpts(t, wasim.Options{Logger: wasimtest.Logger(t), Strict: true, LIDGroups: true})
	phone := s.Phone("15550110004")
	alice := s.Contact("15550120011")
	bob := s.Contact("15550120012")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	info, err := c.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "LID", Participants: []types.JID{alice.JID(), bob.JID()}})
	if err != nil {
		t.Fatal(err)
	}
	if info.AddressingMode != types.AddressingModeLID {
		t.Fatalf("addressing mode %q", info.AddressingMode)
	}
	for _, p := range info.Participants {
		if p.JID.Server != types.HiddenUserServer || p.PhoneNumber.Server != types.DefaultUserServer {
			t.Fatalf("participant %+v", p)
		}
	}
	gid := info.JID
	resp, err := c.SendMessage(ctx, gid, text("lid hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Sender.Server != types.HiddenUserServer {
		t.Fatalf("sent as %s", resp.Sender)
	}
	for _, who := range []*wasim.Contact{alice, bob} {
		got, err := who.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
		if err != nil || got.Text != "lid hello" || got.Chat != gid.String() {
			t.Fatalf("got %+v %v", got, err)
		}
	}
	id, err := s.GroupSend(ctx, gid.String(), bob.JID().User, "from bob by lid")
	if err != nil {
		t.Fatal(err)
	}
	msg := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == id && m.Message.GetConversation() != ""
	})
	if msg.Info.Sender.User != bob.LID().User || msg.Info.Sender.Server != types.HiddenUserServer ||
		msg.Info.SenderAlt.User != bob.JID().User || msg.Info.AddressingMode != types.AddressingModeLID {
		t.Fatalf("inbound %+v", msg.Info.MessageSource)
	}
	if _, err = c.UpdateGroupParticipants(ctx, gid, []types.JID{bob.LID()}, whatsmeow.ParticipantChangeRemove); err != nil {
		t.Fatal(err)
	}
	e := wasimtest.WaitFor[*events.GroupInfo](t, c.Events, 0, func(e *events.GroupInfo) bool { return len(e.Leave) == 1 })
	if e.Leave[0] != bob.LID() {
		t.Fatalf("leave %v", e.Leave)
	}
	if v, _ := s.Group(gid.String()); v.AddressingMode != wasim.AddressingLID || len(v.Participants) != 2 {
		t.Fatalf("view %+v", v)
	}
	if s.Counter("group:dropped-non-member") != 0 || s.Counter("group:phash-mismatch") != 0 {
		t.Fatal("LID-addressed <to> entries were dropped or the participant hash differs")
	}
	noViolations(t, s)
}

func TestGroupInviteLinkJoinAndPermissions(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone1 := s.Phone("15550110005")
	phone2 := s.Phone("15550110006")
	alice := s.Contact("15550120013")
	c1 := wasimtest.NewPairedClient(t, s, phone1)
	c2 := wasimtest.NewPairedClient(t, s, phone2)
	ctx := wasimtest.Ctx(t)
	info, err := c1.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Invite only", Participants: []types.JID{alice.JID()}})
	if err != nil {
		t.Fatal(err)
	}
	gid := info.JID
	if _, err = c2.GetGroupInfo(ctx, gid); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("non-member query: %v", err)
	}
	if _, err = c2.GetGroupInviteLink(ctx, gid, false); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("non-member invite link: %v", err)
	}
	link, err := c1.GetGroupInviteLink(ctx, gid, false)
	if err != nil || len(link) <= len(whatsmeow.InviteLinkPrefix) {
		t.Fatalf("invite link %q %v", link, err)
	}
	preview, err := c2.GetGroupInfoFromLink(ctx, link)
	if err != nil || preview.JID != gid || preview.Name != "Invite only" {
		t.Fatalf("link info %+v %v", preview, err)
	}
	joinedJID, err := c2.JoinGroupWithLink(ctx, link)
	if err != nil || joinedJID != gid {
		t.Fatalf("join %v %v", joinedJID, err)
	}
	j := wasimtest.WaitFor[*events.JoinedGroup](t, c2.Events, 0, func(e *events.JoinedGroup) bool { return e.JID == gid })
	if j.Reason != "invite" || len(j.Participants) != 3 {
		t.Fatalf("JoinedGroup %+v", j)
	}
	e := wasimtest.WaitFor[*events.GroupInfo](t, c1.Events, 0, func(e *events.GroupInfo) bool { return len(e.Join) == 1 })
	if e.JoinReason != "invite" || e.Join[0].User != phone2.JID().User {
		t.Fatalf("join seen by admin %+v", e)
	}

	// Two companions in one group: each decrypts the other.
	r, err := c2.SendMessage(ctx, gid, text("hi from the second session"))
	if err != nil {
		t.Fatal(err)
	}
	m := wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == r.ID && m.Message.GetConversation() != ""
	})
	if m.Info.Sender.User != phone2.JID().User || m.Info.Chat != gid {
		t.Fatalf("c1 got %+v", m.Info)
	}
	r, err = c1.SendMessage(ctx, gid, text("welcome"))
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == r.ID && m.Message.GetConversation() == "welcome"
	})
	if n := s.Counter("group:phash-mismatch"); n != 0 {
		t.Fatalf("%d participant hash mismatches", n)
	}

	// Non-admins: no invite link, no settings.
	if _, err = c2.GetGroupInviteLink(ctx, gid, false); !errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized) {
		t.Fatalf("non-admin invite link: %v", err)
	}
	if err = c2.SetGroupAnnounce(ctx, gid, true); !errors.Is(err, whatsmeow.ErrIQNotAuthorized) {
		t.Fatalf("non-admin announce: %v", err)
	}
	if _, err = c2.UpdateGroupParticipants(ctx, gid, []types.JID{alice.JID()}, whatsmeow.ParticipantChangeRemove); !errors.Is(err, whatsmeow.ErrIQNotAuthorized) {
		t.Fatalf("non-admin remove: %v", err)
	}
	if err = c1.SetGroupLocked(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	if err = c2.SetGroupName(ctx, gid, "mine now"); !errors.Is(err, whatsmeow.ErrIQNotAuthorized) {
		t.Fatalf("non-admin rename of a locked group: %v", err)
	}
	if err = c1.SetGroupAnnounce(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c2.Events, 0, func(e *events.GroupInfo) bool { return e.Announce != nil && e.Announce.IsAnnounce })
	if _, err = c2.SendMessage(ctx, gid, text("not allowed")); !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		t.Fatalf("non-admin send in announcement group: %v", err)
	}
	if v, _ := s.Group(gid.String()); v.Subject != "Invite only" || !v.Locked || !v.Announce {
		t.Fatalf("view %+v", v)
	}

	// Reset: the old link is revoked, a new one works.
	n := c1.Events.Len()
	newLink, err := c1.GetGroupInviteLink(ctx, gid, true)
	if err != nil || newLink == link {
		t.Fatalf("reset: %q %v", newLink, err)
	}
	e = wasimtest.WaitFor[*events.GroupInfo](t, c1.Events, n, func(e *events.GroupInfo) bool { return e.NewInviteLink != nil })
	if *e.NewInviteLink != newLink {
		t.Fatalf("new link event %q, want %q", *e.NewInviteLink, newLink)
	}
	if _, err = c2.GetGroupInfoFromLink(ctx, link); !errors.Is(err, whatsmeow.ErrInviteLinkRevoked) {
		t.Fatalf("revoked link: %v", err)
	}
	if _, err = c2.JoinGroupWithLink(ctx, "https://chat.whatsapp.com/nonsense"); !errors.Is(err, whatsmeow.ErrInviteLinkInvalid) {
		t.Fatalf("invalid link: %v", err)
	}
	if _, err = c2.GetGroupInfoFromLink(ctx, newLink); err != nil {
		t.Fatal(err)
	}

	// Leave: the others see it, the leaver is out.
	n = c1.Events.Len()
	if err = c2.LeaveGroup(ctx, gid); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c1.Events, n, func(e *events.GroupInfo) bool {
		return len(e.Leave) == 1 && e.Leave[0].User == phone2.JID().User && e.Sender.User == phone2.JID().User
	})
	if _, err = c2.GetGroupInfo(ctx, gid); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("after leave: %v", err)
	}
	if err = c2.LeaveGroup(ctx, gid); !errors.Is(err, whatsmeow.ErrIQForbidden) {
		t.Fatalf("leave twice: %v", err)
	}
	if groups, err := c2.GetJoinedGroups(ctx); err != nil || len(groups) != 0 {
		t.Fatalf("joined groups after leave: %v %v", groups, err)
	}
	noViolations(t, s)
}

func TestGroupRestartFromPostgres(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	phone := s1.Phone("15550110007")
	alice := s1.Contact("15550120014")
	bob := s1.Contact("15550120015")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)
	jid := wasimtest.PairQR(t, c1, phone)
	ctx := wasimtest.Ctx(t)
	// A group made on the simulated side, with the session as a member.
	gid, err := s1.CreateGroup(ctx, "Persistent", alice.JID().User, []string{bob.JID().User, phone.JID().User})
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.JoinedGroup](t, c1.Events, 0, func(e *events.JoinedGroup) bool { return e.JID == gid && e.Type == "new" })
	if _, err = s1.GroupParticipants(ctx, gid.String(), wasim.ParticipantPromote, alice.JID().User, []string{bob.JID().User}); err != nil {
		t.Fatal(err)
	}
	first, err := s1.GroupSend(ctx, gid.String(), alice.JID().User, "before restart")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == first && m.Message.GetConversation() == "before restart"
	})
	r, err := c1.SendMessage(ctx, gid, text("client before restart"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = bob.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID }); err != nil {
		t.Fatal(err)
	}
	c1.Disconnect()
	wasimtest.Eventually(t, "disconnect", func() bool { return !s1.Connected(jid) })
	_ = s1.Close()

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	v, ok := s2.Group(gid.String())
	if !ok || v.Subject != "Persistent" || v.Creator != alice.JID().User || len(v.Participants) != 3 || v.InviteCode == "" {
		t.Fatalf("group after restart %+v %v", v, ok)
	}
	roles := map[string]string{}
	for _, p := range v.Participants {
		roles[p.Phone] = p.Role
	}
	if roles[alice.JID().User] != wasim.RoleSuperAdmin || roles[bob.JID().User] != wasim.RoleAdmin || roles[phone.JID().User] != wasim.RoleMember {
		t.Fatalf("roles after restart %v", roles)
	}
	c2 := wasimtest.NewClient(t, s2, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c2.Events, 0, nil)
	info, err := c2.GetGroupInfo(ctx, gid)
	if err != nil || info.Name != "Persistent" || len(info.Participants) != 3 {
		t.Fatalf("GetGroupInfo after restart %+v %v", info, err)
	}
	// Alice's sender key and the record of who holds it survived: her next
	// message comes without a new SKDM and the client decrypts it.
	second, err := s2.GroupSend(ctx, gid.String(), alice.JID().User, "after restart")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == second && m.Message.GetConversation() == "after restart"
	})
	if n := s2.Counter("group:skdm"); n != 0 {
		t.Fatalf("%d SKDMs sent after the restart, want 0", n)
	}
	bob2 := s2.Contact(bob.JID().User)
	r2, err := c2.SendMessage(ctx, gid, text("client after restart"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bob2.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r2.ID })
	if err != nil || got.Text != "client after restart" || got.Chat != gid.String() {
		t.Fatalf("bob after restart %+v %v", got, err)
	}
	if _, err = bob2.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == second }); err != nil {
		t.Fatal(err)
	}
	noViolations(t, s2)
	if pe := s2.PersistErrors(); len(pe) > 0 {
		t.Fatalf("persist errors %v", pe)
	}
}

// TestGroupMessageOperations: edit, reaction, pin, revoke and media in a
// group reach every member; an admin may delete a member's message for
// everyone, a plain member may not; read receipts reach the sender.
func TestGroupMessageOperations(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone1 := s.Phone("15550110008")
	phone2 := s.Phone("15550110009")
	alice := s.Contact("15550120016")
	c1 := wasimtest.NewPairedClient(t, s, phone1)
	c2 := wasimtest.NewPairedClient(t, s, phone2)
	ctx := wasimtest.Ctx(t)
	info, err := c1.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Ops", Participants: []types.JID{alice.JID(), phone2.JID()}})
	if err != nil {
		t.Fatal(err)
	}
	gid := info.JID
	wasimtest.WaitFor[*events.JoinedGroup](t, c2.Events, 0, func(e *events.JoinedGroup) bool { return e.JID == gid })
	orig, err := c1.SendMessage(ctx, gid, text("original"))
	if err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		msg  *waE2E.Message
		kind string
		edit string
	}{
		{"edit", c1.BuildEdit(gid, orig.ID, text("edited")), wasim.KindEdit, "1"},
		{"reaction", c1.BuildReaction(gid, c1.Store.GetJID(), orig.ID, "👍"), wasim.KindReaction, ""},
		{"pin", pinMessage(c1, gid, orig.ID, waE2E.PinInChatMessage_PIN_FOR_ALL), wasim.KindPin, "2"},
		{"revoke", c1.BuildRevoke(gid, types.EmptyJID, orig.ID), wasim.KindRevoke, "7"},
	}
	for _, op := range ops {
		r, err := c1.SendMessage(ctx, gid, op.msg)
		if err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		got, err := alice.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID })
		if err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if got.Kind != op.kind || got.TargetID != orig.ID || got.EditAttr != op.edit || got.Chat != gid.String() {
			t.Fatalf("%s: got %+v", op.name, got)
		}
		wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool { return m.Info.ID == r.ID && m.Info.Chat == gid })
	}

	// Media: the skmsg carries the media type, members download and decrypt.
	data := testPNG(t, 16, 16)
	up, err := c1.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	img, err := c1.SendMessage(ctx, gid, imageMessage(up, "image/png", "group picture"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := alice.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == img.ID })
	if err != nil || got.Kind != wasim.KindImage || string(got.Media) != string(data) || got.MsgType != "media" {
		t.Fatalf("image %+v %v", got.Kind, err)
	}

	// Alice (a member) writes; the client marks it read.
	aliceMsg, err := s.GroupSend(ctx, gid.String(), alice.JID().User, "delete me")
	if err != nil {
		t.Fatal(err)
	}
	m := wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == aliceMsg && m.Message.GetConversation() != ""
	})
	if err = c1.MarkRead(ctx, []types.MessageID{aliceMsg}, m.Info.Timestamp, gid, m.Info.Sender); err != nil {
		t.Fatal(err)
	}
	wasimtest.Eventually(t, "read receipt", func() bool {
		for _, r := range alice.Receipts() {
			if r.ID == aliceMsg && r.Type == "read" {
				return true
			}
		}
		return false
	})
	// A plain member may not delete alice's message for everyone ...
	if _, err = c2.SendMessage(ctx, gid, c2.BuildRevoke(gid, alice.JID(), aliceMsg)); !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		t.Fatalf("member revoking another's message: %v", err)
	}
	// ... the admin may (edit="8").
	rev, err := c1.SendMessage(ctx, gid, c1.BuildRevoke(gid, alice.JID(), aliceMsg))
	if err != nil {
		t.Fatal(err)
	}
	got, err = alice.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == rev.ID })
	if err != nil || got.Kind != wasim.KindRevoke || got.TargetID != aliceMsg || got.EditAttr != "8" {
		t.Fatalf("admin revoke %+v %v", got, err)
	}
	noViolations(t, s)
}

// TestGroupOfflineDelivery: group messages and notifications for an
// offline companion wait in its queue and arrive at the next login.
func TestGroupOfflineDelivery(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110010")
	alice := s.Contact("15550120017")
	dev := wasimtest.Container().NewDevice()
	c := wasimtest.NewClient(t, s, dev)
	jid := wasimtest.PairQR(t, c, phone)
	ctx := wasimtest.Ctx(t)
	gid, err := s.CreateGroup(ctx, "Offline", alice.JID().User, []string{phone.JID().User})
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.JoinedGroup](t, c.Events, 0, func(e *events.JoinedGroup) bool { return e.JID == gid })
	wasimtest.Eventually(t, "create notification acked", func() bool { return s.Pending(jid) == 0 })
	c.Disconnect()
	wasimtest.Eventually(t, "disconnect", func() bool { return !s.Connected(jid) })
	id, err := s.GroupSend(ctx, gid.String(), alice.JID().User, "while you were away")
	if err != nil {
		t.Fatal(err)
	}
	if err = s.GroupSetSubject(ctx, gid.String(), alice.JID().User, "Renamed offline"); err != nil {
		t.Fatal(err)
	}
	if n := s.Pending(jid); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}
	c2 := wasimtest.NewClient(t, s, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	m := wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool {
		return m.Info.ID == id && m.Message.GetConversation() != ""
	})
	if m.Info.Chat != gid || m.Info.Sender.User != alice.JID().User || m.Message.GetConversation() != "while you were away" {
		t.Fatalf("offline message %+v", m.Info)
	}
	wasimtest.WaitFor[*events.GroupInfo](t, c2.Events, 0, func(e *events.GroupInfo) bool {
		return e.JID == gid && e.Name != nil && e.Name.Name == "Renamed offline"
	})
	wasimtest.Eventually(t, "queue drained", func() bool { return s.Pending(jid) == 0 })
	noViolations(t, s)
}
