package messaging_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

func (e *e2e) chatView(jid string) wasim.ChatView { return e.phone.View().Chats[jid] }

func (e *e2e) starred(chat, id string) bool {
	for _, s := range e.phone.View().Starred {
		if s.Chat == chat && s.ID == id {
			return true
		}
	}
	return false
}

// lastMutation returns the newest decoded app-state mutation whose index
// starts with name.
func (e *e2e) lastMutation(name string) *wasim.Mutation {
	ms := e.phone.Mutations()
	for i := len(ms) - 1; i >= 0; i-- {
		if len(ms[i].Index) > 0 && ms[i].Index[0] == name {
			return &ms[i]
		}
	}
	return nil
}

func (e *e2e) listChats(archived, unread *bool) []client.Chat {
	e.t.Helper()
	r, err := e.c.ListChatsWithResponse(e.ctx, e.sid, &client.ListChatsParams{Archived: archived, Unread: unread})
	if err != nil || r.JSON200 == nil {
		e.t.Fatalf("list chats: %v %s", err, r.Body)
	}
	return r.JSON200.Chats
}

func hasChat(chats []client.Chat, jid string) bool {
	for _, c := range chats {
		if c.Jid == jid {
			return true
		}
	}
	return false
}

// TestChatOperationsEndToEnd archives, unarchives, marks unread, stars,
// unstars and deletes a chat through the API; the simulated phone decodes
// the app-state patches (MACs and LTHash verified) and its view must show
// each change, with the chat's real last message in the message range.
func TestChatOperationsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550103000", messaging.Options{})
	contact := e.sim.Contact("15550103001")
	const chatPN = "15550103001@s.whatsapp.net"

	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: "15550103001", Text: "mine"})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	own := send.JSON200.MessageId
	theirs, err := contact.SendText(e.ctx, e.own, "theirs, the last message")
	if err != nil {
		t.Fatal(err)
	}
	last := e.stored(chatPN, theirs)

	// The first app-state write waits for the phone's key share.
	var arch *client.ArchiveChatHTTPResponse
	eventually(t, "archive accepted", func() bool {
		arch, err = e.c.ArchiveChatWithResponse(e.ctx, e.sid, "15550103001", nil)
		return err == nil && arch.StatusCode() != http.StatusServiceUnavailable
	})
	if arch.JSON200 == nil || arch.JSON200.Jid != chatPN || arch.JSON200.Message != gateway.MsgChatArchived {
		t.Fatalf("archive: %d %s", arch.StatusCode(), arch.Body)
	}
	eventually(t, "phone sees the archive", func() bool { return e.chatView(chatPN).Archived })
	mut := e.lastMutation("archive")
	rng := mut.Raw.Action.GetArchiveChatAction().GetMessageRange()
	if len(rng.GetMessages()) != 1 || rng.GetMessages()[0].GetKey().GetID() != theirs ||
		rng.GetMessages()[0].GetKey().GetFromMe() || rng.GetLastMessageTimestamp() != last.Timestamp.Unix() {
		t.Fatalf("archive message range %v, want last message %s at %d", rng, theirs, last.Timestamp.Unix())
	}
	if !hasChat(e.listChats(ptr(true), nil), chatPN) || hasChat(e.listChats(ptr(false), nil), chatPN) {
		t.Fatal("store does not list the chat as archived")
	}

	un, err := e.c.UnarchiveChatWithResponse(e.ctx, e.sid, chatPN, nil)
	wantOK(t, "unarchive", statusOf(un), un.Body, err, gateway.MsgChatUnarchived)
	eventually(t, "phone sees the unarchive", func() bool { return !e.chatView(chatPN).Archived })
	if hasChat(e.listChats(ptr(true), nil), chatPN) {
		t.Fatal("store still lists the chat as archived")
	}

	// Mark unread (after the contact's message was read on this device).
	ur, err := e.c.MarkChatUnreadWithResponse(e.ctx, e.sid, "+15550103001", nil)
	wantOK(t, "unread", statusOf(ur), ur.Body, err, gateway.MsgChatMarkedUnread)
	eventually(t, "phone sees the chat unread", func() bool { return e.chatView(chatPN).MarkedUnread })
	if m := e.lastMutation("markChatAsRead"); m.Raw.Action.GetMarkChatAsReadAction().GetMessageRange().GetMessages()[0].GetKey().GetID() != theirs {
		t.Fatalf("mark unread range %v", m.Raw.Action.GetMarkChatAsReadAction())
	}
	if chats := e.listChats(nil, ptr(true)); !hasChat(chats, chatPN) {
		t.Fatalf("store does not list the chat as unread: %+v", chats)
	}

	// Star (default true, no body) and unstar, own and foreign messages.
	st, err := e.c.StarMessageWithResponse(e.ctx, e.sid, chatPN, own, nil, client.StarMessageJSONRequestBody{})
	wantOK(t, "star", statusOf(st), st.Body, err, gateway.MsgMessageStarred)
	st2 := e.srv.Do(http.MethodPost, "/sessions/"+e.sid.String()+"/chats/"+chatPN+"/messages/"+theirs+"/star", e.key, nil)
	wantOK(t, "star without body", st2.Status, st2.Body, nil, gateway.MsgMessageStarred)
	eventually(t, "phone sees both stars", func() bool { return e.starred(chatPN, own) && e.starred(chatPN, theirs) })
	if m := e.message(chatPN, own); !m.Starred {
		t.Fatal("store: own message not starred")
	}
	st, err = e.c.StarMessageWithResponse(e.ctx, e.sid, chatPN, own, nil, client.StarMessageJSONRequestBody{Star: ptr(false)})
	wantOK(t, "unstar", statusOf(st), st.Body, err, gateway.MsgMessageStarred)
	eventually(t, "phone sees the unstar", func() bool { return !e.starred(chatPN, own) && e.starred(chatPN, theirs) })
	if m := e.message(chatPN, own); m.Starred {
		t.Fatal("store: own message still starred")
	}

	// Delete the chat: the phone sees it deleted, the store forgets it.
	dc, err := e.c.DeleteChatWithResponse(e.ctx, e.sid, chatPN, nil)
	wantOK(t, "delete chat", statusOf(dc), dc.Body, err, gateway.MsgChatDeleted)
	if dc.JSON200.Jid != chatPN {
		t.Fatalf("delete chat jid %s", dc.JSON200.Jid)
	}
	eventually(t, "phone sees the chat deleted", func() bool { return e.chatView(chatPN).Deleted })
	if k := e.lastMutation("deleteChat").Raw.Action.GetDeleteChatAction().GetMessageRange().GetMessages()[0].GetKey(); k.GetID() != theirs {
		t.Fatalf("delete chat range key %v", k)
	}
	if hasChat(e.listChats(nil, nil), chatPN) {
		t.Fatal("deleted chat still listed")
	}
	r, err := e.c.GetMessageWithResponse(e.ctx, e.sid, chatPN, own)
	wantErr(t, "message of deleted chat", statusOf(r), r.Body, err, http.StatusNotFound, gateway.MsgMessageNotFound)

	// whatsmeow fetches its own patches back and reports them as events:
	// they must not duplicate the events of the operations.
	eventually(t, "events", func() bool { return e.countEvents("chat.deleted") == 1 })
	for typ, n := range map[string]int{"chat.archived": 1, "chat.unarchived": 1, "chat.marked_unread": 1, "chat.deleted": 1} {
		if got := e.countEvents(typ); got != n {
			t.Errorf("%s events = %d, want %d (all: %v)", typ, got, n, e.events())
		}
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}

// TestInboundChangesEndToEnd: changes made by the contact (edit, reaction,
// revoke) and on the phone (archive) update the store; a contact writing
// from its LID lands in the same chat as its phone number.
func TestInboundChangesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550104000", messaging.Options{})
	contact := e.sim.Contact("15550104001")
	const chatPN = "15550104001@s.whatsapp.net"
	ownJID := e.own + "@s.whatsapp.net"

	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: chatPN, Text: "mine"})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	own := send.JSON200.MessageId
	e.received(contact, "the text", func(r wasim.Received) bool { return r.ID == own })

	theirs, err := contact.SendText(e.ctx, e.own, "typo")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, theirs)

	// The contact edits its message.
	_, err = contact.SendMessage(e.ctx, e.own, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		Key:           &waCommon.MessageKey{RemoteJID: proto.String(ownJID), FromMe: proto.Bool(true), ID: proto.String(theirs)},
		EditedMessage: &waE2E.Message{Conversation: proto.String("fixed")},
		TimestampMS:   proto.Int64(time.Now().UnixMilli()),
	}}, wasim.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the edit stored", func() bool { m := e.stored(chatPN, theirs); return m.Edited && *m.Text == "fixed" })

	// The contact reacts to our message.
	_, err = contact.SendMessage(e.ctx, e.own, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key:               &waCommon.MessageKey{RemoteJID: proto.String(ownJID), FromMe: proto.Bool(false), ID: proto.String(own)},
		Text:              proto.String("❤️"),
		SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}}, wasim.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reaction stored", func() bool {
		m := e.stored(chatPN, own)
		return len(m.Reactions) == 1 && m.Reactions[0].Emoji == "❤️" && m.Reactions[0].Sender == chatPN
	})

	// The contact deletes its message for everyone.
	_, err = contact.SendMessage(e.ctx, e.own, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key:  &waCommon.MessageKey{RemoteJID: proto.String(ownJID), FromMe: proto.Bool(true), ID: proto.String(theirs)},
	}}, wasim.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the revoke stored", func() bool { return e.stored(chatPN, theirs).Revoked })

	// A message addressed from the contact's LID is the same chat.
	byLID, err := contact.SendTextOpts(e.ctx, e.own, "from my lid", wasim.SendOptions{FromLID: true})
	if err != nil {
		t.Fatal(err)
	}
	m := e.stored("15550104001", byLID)
	if m.ChatJID != chatPN || m.Sender != chatPN {
		t.Fatalf("LID message stored as chat %s sender %s", m.ChatJID, m.Sender)
	}
	chats := e.listChats(nil, nil)
	if len(chats) != 1 || chats[0].Jid != chatPN {
		t.Fatalf("chats %+v, want one chat %s", chats, chatPN)
	}
	// (All three share one server second, so their order is by id.)
	r, err := e.c.ListMessagesWithResponse(e.ctx, e.sid, "+15550104001", nil)
	if err != nil || r.JSON200 == nil || len(r.JSON200.Messages) != 3 {
		t.Fatalf("messages by phone number: %v %s", err, r.Body)
	}
	found := false
	for _, m := range r.JSON200.Messages {
		found = found || m.Id == byLID
	}
	if !found {
		t.Fatalf("the LID-addressed message is not listed under the phone number: %s", r.Body)
	}

	// Read receipt from the contact.
	if err := contact.MarkRead(e.ctx, own); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the read receipt event", func() bool { return e.readReceiptEvents() == 1 })

	// The phone archives the chat.
	if err := e.phone.SetArchived(e.ctx, types.NewJID("15550104001", types.DefaultUserServer), true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the archive stored", func() bool { return hasChat(e.listChats(ptr(true), nil), chatPN) })

	for _, typ := range []string{"message.edited", "message.reaction", "message.revoked", "chat.archived"} {
		if n := e.countEvents(typ); n != 1 {
			t.Errorf("%s events = %d, want 1 (%v)", typ, n, e.events())
		}
	}
}

// TestIdempotencyBatchAndContacts: repeated Idempotency-Keys act once,
// batch archive reports per chat, block/unblock reach the simulator's
// blocklist, and profile pictures are a URL or null.
func TestIdempotencyBatchAndContacts(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550105000", messaging.Options{})
	a := e.sim.Contact("15550105001")
	b := e.sim.Contact("15550105002")

	body := client.SendTextJSONRequestBody{To: "15550105001", Text: "exactly once"}
	first, err := e.c.SendTextWithResponse(e.ctx, e.sid, &client.SendTextParams{IdempotencyKey: idem("k-send")}, body)
	if err != nil || first.JSON200 == nil {
		t.Fatalf("send: %v %s", err, first.Body)
	}
	again, err := e.c.SendTextWithResponse(e.ctx, e.sid, &client.SendTextParams{IdempotencyKey: idem("k-send")}, body)
	if err != nil || again.JSON200 == nil || again.JSON200.MessageId != first.JSON200.MessageId ||
		!again.JSON200.Timestamp.Equal(first.JSON200.Timestamp) {
		t.Fatalf("repeat: %v %s vs %s", err, again.Body, first.Body)
	}
	reused, err := e.c.SendTextWithResponse(e.ctx, e.sid, &client.SendTextParams{IdempotencyKey: idem("k-send")},
		client.SendTextJSONRequestBody{To: "15550105001", Text: "different"})
	wantErr(t, "key reused", statusOf(reused), reused.Body, err, http.StatusConflict, gateway.MsgIdempotencyReused)

	// Concurrent duplicates: one send, both get its result.
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.c.SendTextWithResponse(e.ctx, e.sid, &client.SendTextParams{IdempotencyKey: idem("k-race")},
				client.SendTextJSONRequestBody{To: "15550105001", Text: "raced"})
			if err == nil && r.JSON200 != nil {
				ids[i] = r.JSON200.MessageId
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent duplicates got %v", ids)
		}
	}
	e.received(a, "the raced text", func(r wasim.Received) bool { return r.ID == ids[0] })
	count := func(text string) int {
		n := 0
		for _, r := range a.Received() {
			if r.Kind == wasim.KindText && r.Text == text {
				n++
			}
		}
		return n
	}
	if count("exactly once") != 1 || count("raced") != 1 || count("different") != 0 {
		t.Fatalf("contact received %d/%d/%d copies", count("exactly once"), count("raced"), count("different"))
	}
	if n := e.countEvents("message.sent"); n != 2 {
		t.Fatalf("message.sent events = %d, want 2", n)
	}

	// Batch archive with a bad id: per-chat results.
	var br *client.BatchChatsHTTPResponse
	eventually(t, "batch accepted", func() bool {
		br, err = e.c.BatchChatsWithResponse(e.ctx, e.sid, &client.BatchChatsParams{IdempotencyKey: idem("k-batch")},
			client.BatchChatsJSONRequestBody{Action: "archive", ChatIds: []string{"15550105001", "+15550105002", "nonsense"}})
		return err == nil && br.StatusCode() != http.StatusServiceUnavailable
	})
	if br.JSON200 == nil || br.JSON200.Succeeded != 2 || br.JSON200.Failed != 1 || len(br.JSON200.Results) != 3 {
		t.Fatalf("batch: %d %s", br.StatusCode(), br.Body)
	}
	res := br.JSON200.Results
	if !res[0].Success || *res[0].Jid != "15550105001@s.whatsapp.net" || *res[0].Message != gateway.MsgChatArchived ||
		!res[1].Success || *res[1].Jid != "15550105002@s.whatsapp.net" || res[2].Success || res[2].Error == nil {
		t.Fatalf("batch results %s", br.Body)
	}
	eventually(t, "phone sees both archived", func() bool {
		v := e.phone.View()
		return v.Chats["15550105001@s.whatsapp.net"].Archived && v.Chats["15550105002@s.whatsapp.net"].Archived
	})
	archives := 0
	for _, m := range e.phone.Mutations() {
		if m.Index[0] == "archive" {
			archives++
		}
	}
	br2, err := e.c.BatchChatsWithResponse(e.ctx, e.sid, &client.BatchChatsParams{IdempotencyKey: idem("k-batch")},
		client.BatchChatsJSONRequestBody{Action: "archive", ChatIds: []string{"15550105001", "+15550105002", "nonsense"}})
	if err != nil || string(br2.Body) != string(br.Body) {
		t.Fatalf("repeated batch: %v %s", err, br2.Body)
	}
	n := 0
	for _, m := range e.phone.Mutations() {
		if m.Index[0] == "archive" {
			n++
		}
	}
	if n != archives {
		t.Fatalf("repeated batch sent %d more archive patches", n-archives)
	}

	// Block and unblock.
	bl, err := e.c.BlockContactWithResponse(e.ctx, e.sid, client.BlockContactJSONRequestBody{Jid: "+15550105002"})
	wantOK(t, "block", statusOf(bl), bl.Body, err, gateway.MsgContactBlocked)
	if bl.JSON200.Jid != "15550105002@s.whatsapp.net" {
		t.Fatalf("block jid %s", bl.JSON200.Jid)
	}
	if list := e.sim.Blocklist(e.own); len(list) != 1 || list[0] != b.LID().String() {
		t.Fatalf("blocklist %v, want %s", list, b.LID())
	}
	ub, err := e.c.UnblockContactWithResponse(e.ctx, e.sid, client.UnblockContactJSONRequestBody{Jid: "15550105002@s.whatsapp.net"})
	wantOK(t, "unblock", statusOf(ub), ub.Body, err, gateway.MsgContactUnblocked)
	if list := e.sim.Blocklist(e.own); len(list) != 0 {
		t.Fatalf("blocklist after unblock %v", list)
	}
	bg, err := e.c.BlockContactWithResponse(e.ctx, e.sid, client.BlockContactJSONRequestBody{Jid: "120363025246125486@g.us"})
	wantErr(t, "block group", statusOf(bg), bg.Body, err, http.StatusBadRequest, "")

	// Profile pictures.
	a.SetProfilePicture("https://pps.whatsapp.net/v/t61/a.jpg")
	pp, err := e.c.GetProfilePictureWithResponse(e.ctx, e.sid, "15550105001")
	if err != nil || pp.JSON200 == nil || pp.JSON200.Jid != "15550105001@s.whatsapp.net" || pp.JSON200.ProfilePictureUrl == nil ||
		*pp.JSON200.ProfilePictureUrl != "https://pps.whatsapp.net/v/t61/a.jpg" {
		t.Fatalf("profile picture: %v %s", err, pp.Body)
	}
	pp, err = e.c.GetProfilePictureWithResponse(e.ctx, e.sid, "+15550105002")
	if err != nil || pp.JSON200 == nil || pp.JSON200.ProfilePictureUrl != nil {
		t.Fatalf("no profile picture: %v %s", err, pp.Body)
	}
}

// TestInboundSurvivesFailures: a message whose storage fails is not
// acknowledged and WhatsApp delivers it again; a crash after the commit but
// before the acknowledgement stores it exactly once anyway.
func TestInboundSurvivesFailures(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550106000", messaging.Options{})
	contact := e.sim.Contact("15550106001")
	const chatPN = "15550106001@s.whatsapp.net"
	dev := e.sim.Devices(e.own)[0]

	// Database outage: nothing stored, no receipt; redelivered after a reconnect.
	e.sink.mu.Lock()
	e.sink.failBefore = 1
	e.sink.mu.Unlock()
	lost, err := contact.SendText(e.ctx, e.own, "during the outage")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the sink refused it", func() bool { return e.sink.pending() == 0 })
	if _, err := e.svc.GetMessage(e.ctx, e.sid, chatPN, lost); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("refused message stored: %v", err)
	}
	if e.sim.Pending(dev) == 0 {
		t.Fatal("the simulator does not hold the unacknowledged message")
	}
	e.sim.DropConnection(dev)
	e.stored(chatPN, lost)

	// Crash after commit: stored, then reported failed; the redelivery is absorbed.
	e.sink.mu.Lock()
	e.sink.failAfter = 1
	e.sink.mu.Unlock()
	twice, err := contact.SendText(e.ctx, e.own, "crash after commit")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, twice)
	eventually(t, "the injected crash", func() bool { return e.sink.pending() == 0 })
	e.sim.DropConnection(dev)
	eventually(t, "the redelivery acknowledged", func() bool { return e.sim.Connected(dev) && e.sim.Pending(dev) == 0 })

	var rows int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM messages WHERE session_id = $1`, e.sid).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Fatalf("%d message rows, want 2", rows)
	}
	if n := e.countEvents("message"); n != 2 {
		t.Fatalf("%d message events, want 2 (%v)", n, e.events())
	}
}

// TestHistoryCutoffAndRetention: history older than WAGATE_HISTORY_SYNC_DAYS
// is not stored; retention removes old messages.
func TestHistoryCutoffAndRetention(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550107000", messaging.Options{HistorySyncDays: 7, Retention: 30 * 24 * time.Hour})
	const chatPN = "15550107001@s.whatsapp.net"
	e.sim.Contact("15550107001")
	if err := e.phone.SendHistory(e.ctx, []wasim.HistoryMessage{
		{Chat: "15550107001", Text: "recent", ID: "HIST0RECENT", Timestamp: time.Now().Add(-24 * time.Hour)},
		{Chat: "15550107001", Text: "too old", ID: "HIST0OLD", Timestamp: time.Now().Add(-10 * 24 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, "HIST0RECENT")
	if _, err := e.svc.GetMessage(e.ctx, e.sid, chatPN, "HIST0OLD"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("history beyond the cutoff stored: %v", err)
	}
	if n := len(e.events()); n != 0 {
		t.Fatalf("history produced events: %v", e.events())
	}
	// A message that aged past retention is removed by the cleanup.
	if _, err := e.pool.Exec(e.ctx, `UPDATE messages SET ts = now() - interval '31 days' WHERE id = 'HIST0RECENT'`); err != nil {
		t.Fatal(err)
	}
	e.svc.CleanupOnce(e.ctx)
	if _, err := e.svc.GetMessage(e.ctx, e.sid, chatPN, "HIST0RECENT"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("expired message kept: %v", err)
	}
}
