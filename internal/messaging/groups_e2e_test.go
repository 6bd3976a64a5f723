package messaging_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// tinyJPEG is the smallest byte string the group picture accepts (JPEG magic).
var tinyJPEG = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("a tiny jpeg")...)

func (e *e2e) simGroup(gid string) wasim.GroupView {
	e.t.Helper()
	v, ok := e.sim.Group(gid)
	if !ok {
		e.t.Fatalf("simulator has no group %s", gid)
	}
	return v
}

func roleOf(v wasim.GroupView, phone string) string {
	for _, p := range v.Participants {
		if p.Phone == phone {
			return p.Role
		}
	}
	return ""
}

func apiRole(g client.Group, jid string) string {
	for _, p := range g.Participants {
		if p.Jid == jid {
			return string(p.Role)
		}
	}
	return ""
}

// TestGroupsAPIEndToEnd drives the groups tag against the real whatsmeow
// client and the simulator: create (with a number that is not on
// WhatsApp), get by JID and by number part, send to the group (both
// members decrypt it), a member's message arrives with its sender,
// subject/description/settings, participants with per-participant
// results, invite links, picture and leave; the simulator shows each.
func TestGroupsAPIEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550111000", messaging.Options{})
	a, b := e.sim.Contact("15550111001"), e.sim.Contact("15550111002")
	c := e.sim.Contact("15550111003")
	ownJID := e.own + "@s.whatsapp.net"

	cr, err := e.c.CreateGroupWithResponse(e.ctx, e.sid, client.CreateGroupJSONRequestBody{
		Subject: "Team", Participants: []string{"15550111001", "+1 555 011 1002", "15550119999"},
	})
	if err != nil || cr.JSON200 == nil {
		t.Fatalf("create: %v %d %s", err, statusOf(cr), cr.Body)
	}
	g := cr.JSON200.Group
	gid := g.Id
	if !strings.HasSuffix(gid, "@g.us") || g.Subject != "Team" || len(g.Participants) != 3 ||
		apiRole(g, ownJID) != "superadmin" || apiRole(g, a.JID().String()) != "member" {
		t.Fatalf("created group %+v", g)
	}
	res := cr.JSON200.Results
	if len(res) != 3 || !res[0].Success || !res[1].Success || res[2].Success || res[2].Error == nil || *res[2].Error != gateway.MsgParticipantNotOnWA {
		t.Fatalf("create results %s", cr.Body)
	}
	if v := e.simGroup(gid); v.Subject != "Team" || roleOf(v, e.own) != wasim.RoleSuperAdmin || roleOf(v, "15550111002") != wasim.RoleMember {
		t.Fatalf("simulator group %+v", v)
	}

	// By the number part.
	gr, err := e.c.GetGroupWithResponse(e.ctx, e.sid, strings.TrimSuffix(gid, "@g.us"))
	if err != nil || gr.JSON200 == nil || gr.JSON200.Group.Id != gid {
		t.Fatalf("get by number: %v %s", err, gr.Body)
	}
	lr, err := e.c.ListGroupsWithResponse(e.ctx, e.sid)
	if err != nil || lr.JSON200 == nil || len(lr.JSON200.Groups) != 1 || lr.JSON200.Groups[0].Id != gid {
		t.Fatalf("list: %v %s", err, lr.Body)
	}

	// Send to the group: both members decrypt it, from the session.
	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: gid, Text: "hello team"})
	if err != nil || send.JSON200 == nil || send.JSON200.To != gid {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	for _, m := range []*wasim.Contact{a, b} {
		r := e.received(m, "the group message", func(r wasim.Received) bool { return r.ID == send.JSON200.MessageId })
		if r.Text != "hello team" || r.Chat != gid || r.From != ownJID {
			t.Fatalf("member %s received %+v", m.JID(), r)
		}
	}

	// A member's message arrives in the group chat with its sender.
	mid, err := e.sim.GroupSend(e.ctx, gid, "15550111001", "hi from a")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(gid, mid)
	got := e.message(gid, mid)
	if got.Sender != a.JID().String() || got.FromMe || got.ChatJid != gid || got.Text == nil || *got.Text != "hi from a" {
		t.Fatalf("member message %+v", got)
	}

	// The chats list shows the group with its subject.
	eventually(t, "the group chat named", func() bool {
		for _, ch := range e.listChats(nil, nil) {
			if ch.Jid == gid {
				return ch.Name != nil && *ch.Name == "Team"
			}
		}
		return false
	})

	// Subject, description and settings.
	up, err := e.c.UpdateGroupWithResponse(e.ctx, e.sid, gid, client.UpdateGroupJSONRequestBody{
		Subject: ptr("Team 2"), Description: ptr("the team"), Announce: ptr(true), Locked: ptr(true),
	})
	if err != nil || up.JSON200 == nil {
		t.Fatalf("update: %v %s", err, up.Body)
	}
	if ug := up.JSON200.Group; ug.Subject != "Team 2" || ug.Description != "the team" || !ug.Announce || !ug.Locked {
		t.Fatalf("updated group %+v", ug)
	}
	if v := e.simGroup(gid); v.Subject != "Team 2" || v.Description != "the team" || !v.Announce || !v.Locked {
		t.Fatalf("simulator after update %+v", v)
	}

	// Participants: add c (and one that is already in), promote a.
	pr, err := e.c.GroupParticipantsWithResponse(e.ctx, e.sid, gid, client.GroupParticipantsJSONRequestBody{
		Action: client.GroupParticipantsRequestActionAdd, Participants: []string{"15550111003", "15550111001"},
	})
	if err != nil || pr.JSON200 == nil {
		t.Fatalf("add: %v %s", err, pr.Body)
	}
	if r := pr.JSON200.Results; len(r) != 2 || !r[0].Success || r[1].Success || *r[1].Error != gateway.MsgAlreadyParticipant {
		t.Fatalf("add results %s", pr.Body)
	}
	e.waitGroupEvent(gid, gateway.EventGroupParticipants, 1)
	pr, err = e.c.GroupParticipantsWithResponse(e.ctx, e.sid, gid, client.GroupParticipantsJSONRequestBody{
		Action: client.GroupParticipantsRequestActionPromote, Participants: []string{a.JID().String()},
	})
	if err != nil || pr.JSON200 == nil || !pr.JSON200.Results[0].Success {
		t.Fatalf("promote: %v %s", err, pr.Body)
	}
	if v := e.simGroup(gid); roleOf(v, "15550111001") != wasim.RoleAdmin || roleOf(v, "15550111003") != wasim.RoleMember {
		t.Fatalf("simulator after participants %+v", v.Participants)
	}
	e.waitGroupEvent(gid, gateway.EventGroupParticipants, 2)
	// The new member decrypts the next message.
	send2, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: gid, Text: "welcome c"})
	if err != nil || send2.JSON200 == nil {
		t.Fatalf("send 2: %v %s", err, send2.Body)
	}
	e.received(c, "the message after joining", func(r wasim.Received) bool { return r.ID == send2.JSON200.MessageId })

	// Invite link: get, revoke (a new link), the old one no longer works.
	il, err := e.c.GetGroupInviteLinkWithResponse(e.ctx, e.sid, gid)
	if err != nil || il.JSON200 == nil || !strings.HasPrefix(il.JSON200.Link, "https://chat.whatsapp.com/") {
		t.Fatalf("invite link: %v %s", err, il.Body)
	}
	rl, err := e.c.RevokeGroupInviteLinkWithResponse(e.ctx, e.sid, gid)
	if err != nil || rl.JSON200 == nil || rl.JSON200.Link == il.JSON200.Link {
		t.Fatalf("revoke: %v %s", err, rl.Body)
	}
	if v := e.simGroup(gid); !strings.HasSuffix(rl.JSON200.Link, v.InviteCode) {
		t.Fatalf("simulator invite code %q, link %q", v.InviteCode, rl.JSON200.Link)
	}

	// Picture.
	pic, err := e.c.SetGroupPictureWithResponse(e.ctx, e.sid, gid, client.SetGroupPictureJSONRequestBody{
		Image: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(tinyJPEG),
	})
	wantOK(t, "picture", statusOf(pic), pic.Body, err, gateway.MsgGroupPictureSet)
	if v := e.simGroup(gid); string(v.Picture) != string(tinyJPEG) {
		t.Fatalf("simulator picture %q", v.Picture)
	}

	// Leave: the simulator no longer lists the account.
	lv, err := e.c.LeaveGroupWithResponse(e.ctx, e.sid, gid)
	wantOK(t, "leave", statusOf(lv), lv.Body, err, gateway.MsgGroupLeft)
	if v := e.simGroup(gid); roleOf(v, e.own) != "" {
		t.Fatalf("still a member after leaving: %+v", v.Participants)
	}
	e.waitGroupEvent(gid, gateway.EventGroupLeft, 1)
	gr, err = e.c.GetGroupWithResponse(e.ctx, e.sid, gid)
	wantErr(t, "get after leaving", statusOf(gr), gr.Body, err, http.StatusForbidden, gateway.MsgNotGroupMember)
}

// TestGroupsRefusals: every refusal is a clear 4xx and changes nothing.
func TestGroupsRefusals(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550112000", messaging.Options{})
	e.sim.Contact("15550112001")
	e.sim.Contact("15550112002")
	// A group of the contacts where the session is a plain member, and one
	// it is not in.
	member, err := e.sim.CreateGroupWith(e.ctx, wasim.GroupSpec{Subject: "Theirs", Owner: "15550112001", Participants: []string{e.own, "15550112002"}})
	if err != nil {
		t.Fatal(err)
	}
	outside, err := e.sim.CreateGroupWith(e.ctx, wasim.GroupSpec{Subject: "Outside", Owner: "15550112001", Participants: []string{"15550112002"}})
	if err != nil {
		t.Fatal(err)
	}
	gid, other := member.String(), outside.String()
	e.waitGroupEvent(gid, gateway.EventGroupJoined, 1)
	before := e.simGroup(gid)

	check := func(what string, status int, body []byte, err error, want int, text string) {
		t.Helper()
		wantErr(t, what, status, body, err, want, text)
	}
	r1, err := e.c.UpdateGroupWithResponse(e.ctx, e.sid, gid, client.UpdateGroupJSONRequestBody{Announce: ptr(true)})
	check("announce as member", statusOf(r1), r1.Body, err, http.StatusForbidden, gateway.MsgNotGroupAdmin)
	r2, err := e.c.GroupParticipantsWithResponse(e.ctx, e.sid, gid, client.GroupParticipantsJSONRequestBody{Action: client.GroupParticipantsRequestActionRemove, Participants: []string{"15550112002"}})
	check("remove as member", statusOf(r2), r2.Body, err, http.StatusForbidden, gateway.MsgNotGroupAdmin)
	r3, err := e.c.GetGroupInviteLinkWithResponse(e.ctx, e.sid, gid)
	check("invite link as member", statusOf(r3), r3.Body, err, http.StatusForbidden, gateway.MsgNotGroupAdmin)
	r4, err := e.c.GetGroupWithResponse(e.ctx, e.sid, other)
	check("get, not a member", statusOf(r4), r4.Body, err, http.StatusForbidden, gateway.MsgNotGroupMember)
	r5, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: other, Text: "let me in"})
	check("send, not a member", statusOf(r5), r5.Body, err, http.StatusForbidden, gateway.MsgNotGroupMember)
	r6, err := e.c.GetGroupWithResponse(e.ctx, e.sid, "120363999999999999@g.us")
	check("unknown group", statusOf(r6), r6.Body, err, http.StatusNotFound, gateway.MsgGroupNotFound)
	r7, err := e.c.GetGroupWithResponse(e.ctx, e.sid, "15550112001@s.whatsapp.net")
	check("a user as group id", statusOf(r7), r7.Body, err, http.StatusBadRequest, "")
	r8, err := e.c.JoinGroupWithResponse(e.ctx, e.sid, client.JoinGroupJSONRequestBody{Link: "https://chat.whatsapp.com/NoSuchCode123"})
	check("join unknown link", statusOf(r8), r8.Body, err, http.StatusBadRequest, gateway.MsgInvalidInviteLink)
	r9, err := e.c.JoinGroupWithResponse(e.ctx, e.sid, client.JoinGroupJSONRequestBody{Link: "not a link!"})
	check("join malformed link", statusOf(r9), r9.Body, err, http.StatusBadRequest, gateway.MsgInvalidInviteLink)
	r10, err := e.c.SetGroupPictureWithResponse(e.ctx, e.sid, gid, client.SetGroupPictureJSONRequestBody{Image: base64.StdEncoding.EncodeToString([]byte("GIF89a"))})
	check("picture not a JPEG", statusOf(r10), r10.Body, err, http.StatusBadRequest, gateway.MsgGroupPictureNotJPEG)
	r11, err := e.c.UpdateGroupWithResponse(e.ctx, e.sid, gid, client.UpdateGroupJSONRequestBody{Subject: ptr("   ")})
	check("blank subject", statusOf(r11), r11.Body, err, http.StatusBadRequest, gateway.MsgGroupSubjectRequired)
	r12, err := e.c.CreateGroupWithResponse(e.ctx, e.sid, client.CreateGroupJSONRequestBody{Subject: "x", Participants: []string{"abc"}})
	check("bad participant", statusOf(r12), r12.Body, err, http.StatusBadRequest, "")
	r13, err := e.c.GroupParticipantsWithResponse(e.ctx, e.sid, other, client.GroupParticipantsJSONRequestBody{Action: client.GroupParticipantsRequestActionAdd, Participants: []string{"15550112001"}})
	check("add, not a member", statusOf(r13), r13.Body, err, http.StatusForbidden, gateway.MsgNotGroupMember)

	after := e.simGroup(gid)
	if after.Announce != before.Announce || len(after.Participants) != len(before.Participants) || after.InviteCode != before.InviteCode ||
		after.Subject != before.Subject || after.Picture != nil {
		t.Fatalf("a refusal changed the group: before %+v after %+v", before, after)
	}

	// Joining with the real link works; the simulator lists the session.
	jr, err := e.c.JoinGroupWithResponse(e.ctx, e.sid, client.JoinGroupJSONRequestBody{Link: "https://chat.whatsapp.com/" + e.simGroup(other).InviteCode})
	if err != nil || jr.JSON200 == nil || jr.JSON200.Group.Id != other {
		t.Fatalf("join: %v %s", err, jr.Body)
	}
	if roleOf(e.simGroup(other), e.own) != wasim.RoleMember {
		t.Fatal("the simulator does not list the session after joining")
	}
}

// waitGroupEvent waits until the store recorded at least n events of typ
// for group gid. After a participant change, tests wait for it before
// sending: whatsmeow updates its cached member list when the notification
// arrives, and a send racing with that update is a data race inside
// whatsmeow (docs/groups.md).
func (e *e2e) waitGroupEvent(gid, typ string, n int) {
	e.t.Helper()
	eventually(e.t, sfmt("%d %s events for %s", n, typ, gid), func() bool {
		var got int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM events WHERE session_id = $1 AND type = $2 AND data->>'groupId' = $3`,
			e.sid, typ, gid).Scan(&got); err != nil {
			e.t.Fatal(err)
		}
		return got >= n
	})
}

// TestGroupChatOperationsEndToEnd runs the ten chat operations on a group
// chat: members decrypt the mention, edit, revoke, reaction and pin; the
// phone's app state shows archive, unarchive, mark unread, star and
// delete chat; an admin deletes a member's message for everyone, a plain
// member cannot.
func TestGroupChatOperationsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550113000", messaging.Options{})
	a, b := e.sim.Contact("15550113001"), e.sim.Contact("15550113002")
	cr, err := e.c.CreateGroupWithResponse(e.ctx, e.sid, client.CreateGroupJSONRequestBody{Subject: "Ops", Participants: []string{"15550113001", "15550113002"}})
	if err != nil || cr.JSON200 == nil {
		t.Fatalf("create: %v %s", err, cr.Body)
	}
	gid := cr.JSON200.Group.Id
	e.waitGroupEvent(gid, gateway.EventGroupCreated, 1)
	members := []*wasim.Contact{a, b}
	seen := func(what string, pred func(wasim.Received) bool) {
		t.Helper()
		for _, m := range members {
			r := e.received(m, what, pred)
			if r.Chat != gid {
				t.Fatalf("%s: member %s got it in chat %q", what, m.JID(), r.Chat)
			}
		}
	}

	// A mention: both decrypt it, a is in MentionedJID.
	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{
		To: gid, Text: "hi @15550113001", Mentions: &[]string{"15550113001"},
	})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	own := send.JSON200.MessageId
	r := e.received(a, "the mention", func(r wasim.Received) bool { return r.ID == own })
	if got := r.Message.GetExtendedTextMessage().GetContextInfo().GetMentionedJID(); len(got) != 1 || got[0] != a.JID().String() {
		t.Fatalf("mentioned %v, want %s", got, a.JID())
	}
	seen("the mention", func(r wasim.Received) bool { return r.ID == own && r.Text == "hi @15550113001" })

	// A member's message, the target of reaction, star and admin delete.
	theirs, err := e.sim.GroupSend(e.ctx, gid, "15550113001", "from a")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(gid, theirs)

	ed, err := e.c.EditMessageWithResponse(e.ctx, e.sid, gid, own, nil, client.EditMessageJSONRequestBody{Text: "hi, edited"})
	wantOK(t, "edit", statusOf(ed), ed.Body, err, gateway.MsgMessageEdited)
	seen("the edit", func(r wasim.Received) bool {
		return r.Kind == wasim.KindEdit && r.TargetID == own && r.Text == "hi, edited"
	})

	re, err := e.c.ReactToMessageWithResponse(e.ctx, e.sid, theirs, nil, client.ReactToMessageJSONRequestBody{ChatId: gid, Emoji: ptr("👍")})
	wantOK(t, "react", statusOf(re), re.Body, err, gateway.MsgReactionSent)
	seen("the reaction", func(r wasim.Received) bool {
		return r.Kind == wasim.KindReaction && r.TargetID == theirs && r.Emoji == "👍"
	})

	pin, err := e.c.PinMessageWithResponse(e.ctx, e.sid, gid, own, nil, client.PinMessageJSONRequestBody{})
	wantOK(t, "pin", statusOf(pin), pin.Body, err, gateway.MsgMessagePinned)
	seen("the pin", func(r wasim.Received) bool { return r.Kind == wasim.KindPin && r.TargetID == own })
	unpin, err := e.c.UnpinMessageWithResponse(e.ctx, e.sid, gid, own, nil)
	wantOK(t, "unpin", statusOf(unpin), unpin.Body, err, gateway.MsgMessageUnpinned)
	seen("the unpin", func(r wasim.Received) bool { return r.Kind == wasim.KindUnpin && r.TargetID == own })

	// App state on the phone (the first write waits for the key share).
	var arch *client.ArchiveChatHTTPResponse
	eventually(t, "archive accepted", func() bool {
		arch, err = e.c.ArchiveChatWithResponse(e.ctx, e.sid, gid, nil)
		return err == nil && arch.StatusCode() != http.StatusServiceUnavailable
	})
	wantOK(t, "archive", statusOf(arch), arch.Body, err, gateway.MsgChatArchived)
	eventually(t, "phone sees the group archived", func() bool { return e.chatView(gid).Archived })
	un, err := e.c.UnarchiveChatWithResponse(e.ctx, e.sid, gid, nil)
	wantOK(t, "unarchive", statusOf(un), un.Body, err, gateway.MsgChatUnarchived)
	eventually(t, "phone sees the group unarchived", func() bool { return !e.chatView(gid).Archived })
	ur, err := e.c.MarkChatUnreadWithResponse(e.ctx, e.sid, gid, nil)
	wantOK(t, "unread", statusOf(ur), ur.Body, err, gateway.MsgChatMarkedUnread)
	eventually(t, "phone sees the group unread", func() bool { return e.chatView(gid).MarkedUnread })
	st, err := e.c.StarMessageWithResponse(e.ctx, e.sid, gid, theirs, nil, client.StarMessageJSONRequestBody{})
	wantOK(t, "star", statusOf(st), st.Body, err, gateway.MsgMessageStarred)
	eventually(t, "phone sees the member's message starred", func() bool { return e.starred(gid, theirs) })

	// Delete for everyone: own message, then (as admin) the member's.
	del, err := e.c.DeleteMessageWithResponse(e.ctx, e.sid, gid, own, nil)
	wantOK(t, "delete own", statusOf(del), del.Body, err, gateway.MsgMessageDeleted)
	seen("the revoke", func(r wasim.Received) bool { return r.Kind == wasim.KindRevoke && r.TargetID == own })
	del, err = e.c.DeleteMessageWithResponse(e.ctx, e.sid, gid, theirs, nil)
	wantOK(t, "admin deletes a member's message", statusOf(del), del.Body, err, gateway.MsgMessageDeleted)
	seen("the admin revoke", func(r wasim.Received) bool {
		return r.Kind == wasim.KindRevoke && r.TargetID == theirs && r.EditAttr == "8"
	})
	if m := e.message(gid, theirs); !m.Revoked {
		t.Fatalf("member's message not revoked in the store: %+v", m)
	}

	// Delete chat: the phone's app state shows it, the list no longer has it.
	dc, err := e.c.DeleteChatWithResponse(e.ctx, e.sid, gid, nil)
	wantOK(t, "delete chat", statusOf(dc), dc.Body, err, gateway.MsgChatDeleted)
	eventually(t, "phone sees the group chat deleted", func() bool { return e.chatView(gid).Deleted })
	if hasChat(e.listChats(nil, nil), gid) {
		t.Fatal("deleted group chat still listed")
	}

	// In a group where the session is a plain member, others' messages
	// cannot be deleted.
	plain, err := e.sim.CreateGroupWith(e.ctx, wasim.GroupSpec{Subject: "Plain", Owner: "15550113001", Participants: []string{e.own}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitGroupEvent(plain.String(), gateway.EventGroupJoined, 1)
	other, err := e.sim.GroupSend(e.ctx, plain.String(), "15550113001", "not yours")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(plain.String(), other)
	del, err = e.c.DeleteMessageWithResponse(e.ctx, e.sid, plain.String(), other, nil)
	wantErr(t, "member deletes another's message", statusOf(del), del.Body, err, http.StatusUnprocessableEntity, gateway.MsgCannotDelete)
	if m := e.message(plain.String(), other); m.Revoked {
		t.Fatal("refused delete changed the message")
	}
}

// TestGroupLIDAndRemovedMember: in a LID-addressed group the session's
// message reaches every member and a member's message is stored under its
// phone JID; after the session removes a member, that member decrypts
// nothing new while the others do.
func TestGroupLIDAndRemovedMember(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550114000", messaging.Options{})
	a, b := e.sim.Contact("15550114001"), e.sim.Contact("15550114002")
	lg, err := e.sim.CreateGroupWith(e.ctx, wasim.GroupSpec{Subject: "LID", Owner: e.own, Participants: []string{"15550114001", "15550114002"}, LID: true})
	if err != nil {
		t.Fatal(err)
	}
	gid := lg.String()
	e.waitGroupEvent(gid, gateway.EventGroupCreated, 1) // created with the session as owner
	gr, err := e.c.GetGroupWithResponse(e.ctx, e.sid, gid)
	if err != nil || gr.JSON200 == nil || gr.JSON200.Group.AddressingMode != client.GroupAddressingModeLid {
		t.Fatalf("get LID group: %v %s", err, gr.Body)
	}
	for _, p := range gr.JSON200.Group.Participants {
		if p.Lid == nil || p.Phone == nil || !strings.HasSuffix(*p.Lid, "@lid") || p.Jid != *p.Phone+"@s.whatsapp.net" {
			t.Fatalf("LID group participant %+v: want phone JID with its LID", p)
		}
	}
	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: gid, Text: "lid hello"})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	for _, m := range []*wasim.Contact{a, b} {
		e.received(m, "the LID group message", func(r wasim.Received) bool { return r.ID == send.JSON200.MessageId })
	}
	mid, err := e.sim.GroupSend(e.ctx, gid, "15550114002", "from b by lid")
	if err != nil {
		t.Fatal(err)
	}
	var bLID string
	for _, p := range gr.JSON200.Group.Participants {
		if p.Phone != nil && *p.Phone == "15550114002" {
			bLID = *p.Lid
		}
	}
	if m := e.stored(gid, mid); m.Sender != b.JID().String() || m.SenderLID == nil || *m.SenderLID != bLID {
		t.Fatalf("LID group member message sender %q lid %v, want %s and %s", m.Sender, m.SenderLID, b.JID(), bLID)
	}
	// The API answer and the message event carry both names too.
	gm, err := e.c.GetMessageWithResponse(e.ctx, e.sid, gid, mid)
	if err != nil || gm.JSON200 == nil || gm.JSON200.Message.SenderLid == nil || *gm.JSON200.Message.SenderLid != bLID {
		t.Fatalf("GET message: want senderLid %s: %v %s", bLID, err, gm.Body)
	}
	var evLID string
	if err := e.pool.QueryRow(e.ctx, `SELECT coalesce(data->'message'->>'senderLid', data->>'senderLid', '') FROM events
		WHERE session_id = $1 AND type = 'message' AND (data->'message'->>'id' = $2 OR data->>'id' = $2)`, e.sid, mid).Scan(&evLID); err != nil || evLID != bLID {
		t.Fatalf("message.received event senderLid %q (%v), want %s", evLID, err, bLID)
	}

	pr, err := e.c.GroupParticipantsWithResponse(e.ctx, e.sid, gid, client.GroupParticipantsJSONRequestBody{
		Action: client.GroupParticipantsRequestActionRemove, Participants: []string{"15550114002"},
	})
	if err != nil || pr.JSON200 == nil || !pr.JSON200.Results[0].Success {
		t.Fatalf("remove: %v %s", err, pr.Body)
	}
	e.waitGroupEvent(gid, gateway.EventGroupParticipants, 1)
	var actor, action, who string
	if err := e.pool.QueryRow(e.ctx, `SELECT data->>'actor', data->>'action', data->'participants'->>0 FROM events
		WHERE session_id = $1 AND type = 'group.participants' AND data->>'groupId' = $2`, e.sid, gid).Scan(&actor, &action, &who); err != nil {
		t.Fatal(err)
	}
	if actor != e.own+"@s.whatsapp.net" || action != "remove" || who != b.JID().String() {
		t.Fatalf("group.participants event: actor %q action %q participant %q", actor, action, who)
	}
	after, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: gid, Text: "after b left"})
	if err != nil || after.JSON200 == nil {
		t.Fatalf("send after remove: %v %s", err, after.Body)
	}
	e.received(a, "the message after the removal", func(r wasim.Received) bool { return r.ID == after.JSON200.MessageId })
	// a decrypted it, so the fan-out is done: b must have nothing.
	for _, r := range b.Received() {
		if r.ID == after.JSON200.MessageId {
			t.Fatalf("the removed member decrypted %+v", r)
		}
	}
}
