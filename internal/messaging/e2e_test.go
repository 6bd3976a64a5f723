package messaging_test

import (
	"net/http"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestMessageOperationsEndToEnd sends, replies, edits, reacts, pins,
// unpins and revokes through the HTTP API; the simulated contact decrypts
// each protocol message and the test checks its target, and the store.
func TestMessageOperationsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550101000", messaging.Options{})
	contact := e.sim.Contact("15550101001")
	const chatPN = "15550101001@s.whatsapp.net"

	// Send to "+number": the answer names the normalised phone JID.
	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: "+15550101001", Text: "hello"})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %d %s", err, statusOf(send), send.Body)
	}
	if s := send.JSON200; !s.Success || s.To != chatPN || s.Type != "text" || s.Status != "sent" || s.MessageId == "" {
		t.Fatalf("send response %s", send.Body)
	}
	own := send.JSON200.MessageId
	got := e.received(contact, "the text", func(r wasim.Received) bool { return r.ID == own })
	if got.Kind != wasim.KindText || got.Text != "hello" {
		t.Fatalf("contact got %+v", got)
	}
	if m := e.message("15550101001", own); !m.FromMe || m.Text == nil || *m.Text != "hello" || m.ChatJid != chatPN {
		t.Fatalf("stored %+v", m)
	}

	// The contact writes; a reply quotes it with its real sender.
	theirs, err := contact.SendText(e.ctx, e.own, "hi there")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, theirs)
	reply, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: chatPN, Text: "re", QuotedMessageId: &theirs})
	if err != nil || reply.JSON200 == nil {
		t.Fatalf("reply: %v %s", err, reply.Body)
	}
	got = e.received(contact, "the reply", func(r wasim.Received) bool { return r.ID == reply.JSON200.MessageId })
	ci := got.Message.GetExtendedTextMessage().GetContextInfo()
	if ci.GetStanzaID() != theirs || ci.GetParticipant() != chatPN || ci.GetQuotedMessage().GetConversation() != "hi there" {
		t.Fatalf("reply context %v", ci)
	}
	if m := e.message(chatPN, reply.JSON200.MessageId); m.QuotedMessageId == nil || *m.QuotedMessageId != theirs {
		t.Fatalf("stored reply %+v", m)
	}

	// Edit own text.
	ed, err := e.c.EditMessageWithResponse(e.ctx, e.sid, chatPN, own, nil, client.EditMessageJSONRequestBody{Text: "hello, edited"})
	wantOK(t, "edit", statusOf(ed), ed.Body, err, gateway.MsgMessageEdited)
	got = e.received(contact, "the edit", func(r wasim.Received) bool { return r.Kind == wasim.KindEdit })
	if got.TargetID != own || got.Text != "hello, edited" {
		t.Fatalf("edit %+v", got)
	}
	if m := e.message(chatPN, own); !m.Edited || *m.Text != "hello, edited" {
		t.Fatalf("stored after edit %+v", m)
	}

	// React to the contact's message (the key names its author), then remove.
	re, err := e.c.ReactToMessageWithResponse(e.ctx, e.sid, theirs, nil, client.ReactToMessageJSONRequestBody{ChatId: "15550101001", Emoji: ptr("👍")})
	wantOK(t, "react", statusOf(re), re.Body, err, gateway.MsgReactionSent)
	got = e.received(contact, "the reaction", func(r wasim.Received) bool { return r.Kind == wasim.KindReaction && r.Emoji == "👍" })
	if got.TargetID != theirs || got.Message.GetReactionMessage().GetKey().GetFromMe() {
		t.Fatalf("reaction %+v key %v", got, got.Message.GetReactionMessage().GetKey())
	}
	if m := e.message(chatPN, theirs); len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" {
		t.Fatalf("stored reactions %+v", m.Reactions)
	}
	re, err = e.c.ReactToMessageWithResponse(e.ctx, e.sid, theirs, nil, client.ReactToMessageJSONRequestBody{ChatId: chatPN, Emoji: ptr("")})
	wantOK(t, "unreact", statusOf(re), re.Body, err, gateway.MsgReactionSent)
	got = e.received(contact, "the removal", func(r wasim.Received) bool { return r.Kind == wasim.KindReaction && r.Emoji == "" })
	if got.TargetID != theirs {
		t.Fatalf("removal %+v", got)
	}
	if m := e.message(chatPN, theirs); len(m.Reactions) != 0 {
		t.Fatalf("reactions after removal %+v", m.Reactions)
	}

	// Pin: 24 h by default, 7 d on request; unpin.
	pin, err := e.c.PinMessageWithResponse(e.ctx, e.sid, chatPN, own, nil, client.PinMessageJSONRequestBody{})
	wantOK(t, "pin", statusOf(pin), pin.Body, err, gateway.MsgMessagePinned)
	got = e.received(contact, "the pin", func(r wasim.Received) bool { return r.Kind == wasim.KindPin && r.PinDurationSeconds == 86400 })
	if got.TargetID != own || got.EditAttr != "2" {
		t.Fatalf("pin %+v", got)
	}
	d7 := client.PinMessageRequestDuration("7d")
	pin, err = e.c.PinMessageWithResponse(e.ctx, e.sid, chatPN, theirs, nil, client.PinMessageJSONRequestBody{Duration: &d7})
	wantOK(t, "pin 7d", statusOf(pin), pin.Body, err, gateway.MsgMessagePinned)
	got = e.received(contact, "the 7d pin", func(r wasim.Received) bool { return r.Kind == wasim.KindPin && r.TargetID == theirs })
	if got.PinDurationSeconds != 7*86400 {
		t.Fatalf("7d pin %+v", got)
	}
	if m := e.message(chatPN, theirs); m.PinnedUntil == nil || m.PinnedUntil.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("stored pin %+v", m.PinnedUntil)
	}
	unpin, err := e.c.UnpinMessageWithResponse(e.ctx, e.sid, chatPN, own, nil)
	wantOK(t, "unpin", statusOf(unpin), unpin.Body, err, gateway.MsgMessageUnpinned)
	got = e.received(contact, "the unpin", func(r wasim.Received) bool { return r.Kind == wasim.KindUnpin })
	if got.TargetID != own {
		t.Fatalf("unpin %+v", got)
	}
	if m := e.message(chatPN, own); m.PinnedUntil != nil {
		t.Fatalf("still pinned %+v", m.PinnedUntil)
	}

	// Delete for everyone.
	del, err := e.c.DeleteMessageWithResponse(e.ctx, e.sid, "+15550101001", own, nil)
	wantOK(t, "delete", statusOf(del), del.Body, err, gateway.MsgMessageDeleted)
	got = e.received(contact, "the revoke", func(r wasim.Received) bool { return r.Kind == wasim.KindRevoke })
	if got.TargetID != own || got.EditAttr != "7" {
		t.Fatalf("revoke %+v", got)
	}
	if m := e.message(chatPN, own); !m.Revoked || m.Text != nil {
		t.Fatalf("stored after revoke %+v", m)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	for _, want := range []string{"message.sent", "message", "message.edited", "message.reaction", "message.revoked"} {
		if e.countEvents(want) == 0 {
			t.Errorf("no %s event in %v", want, e.events())
		}
	}
}

// TestMessageOperationErrors: every refused operation returns the exact
// error and sends nothing.
func TestMessageOperationErrors(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550102000", messaging.Options{})
	contact := e.sim.Contact("15550102001")
	other := e.sim.Contact("15550102002")
	const chatPN = "15550102001@s.whatsapp.net"

	send, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: "15550102001", Text: "mine"})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	own := send.JSON200.MessageId
	e.received(contact, "the text", func(r wasim.Received) bool { return r.ID == own })
	theirs, err := contact.SendText(e.ctx, e.own, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, theirs)
	// A message in another chat, for the wrong-chat case.
	elsewhere, err := other.SendText(e.ctx, e.own, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	e.stored("15550102002", elsewhere)

	// Old own messages arrive through history sync from the phone.
	oldDelete := "3EB0OLD0DELETE0000000001"
	oldEdit := "3EB0OLD0EDIT000000000001"
	if err := e.phone.SendHistory(e.ctx, []wasim.HistoryMessage{
		{Chat: "15550102001", FromMe: true, Text: "three days ago", ID: oldDelete, Timestamp: time.Now().Add(-72 * time.Hour)},
		{Chat: "15550102001", FromMe: true, Text: "twenty minutes ago", ID: oldEdit, Timestamp: time.Now().Add(-20 * time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, oldDelete)
	e.stored(chatPN, oldEdit)
	// An own image (media cannot be edited).
	imageID := "3EB0IMAGE000000000000001"
	if err := e.msgs.SaveSent(e.ctx, e.sid, gateway.Message{ID: imageID, ChatJID: chatPN, Sender: e.own + "@s.whatsapp.net",
		FromMe: true, Timestamp: time.Now(), Type: gateway.TypeImage, Text: ptr("caption")}); err != nil {
		t.Fatal(err)
	}

	before := len(contact.Received())
	eventsBefore := len(e.eventsExceptReceipts())
	edit := func(what, chat, id, text string, status int, msg string) {
		t.Helper()
		r, err := e.c.EditMessageWithResponse(e.ctx, e.sid, chat, id, nil, client.EditMessageJSONRequestBody{Text: text})
		wantErr(t, what, statusOf(r), r.Body, err, status, msg)
	}
	del := func(what, chat, id string, status int, msg string) {
		t.Helper()
		r, err := e.c.DeleteMessageWithResponse(e.ctx, e.sid, chat, id, nil)
		wantErr(t, what, statusOf(r), r.Body, err, status, msg)
	}
	edit("edit foreign", chatPN, theirs, "x", http.StatusUnprocessableEntity, gateway.MsgCannotEdit)
	del("delete foreign", chatPN, theirs, http.StatusUnprocessableEntity, gateway.MsgCannotDelete)
	edit("edit too old", chatPN, oldEdit, "x", http.StatusUnprocessableEntity, gateway.MsgCannotEdit)
	del("delete too old", chatPN, oldDelete, http.StatusUnprocessableEntity, gateway.MsgCannotDelete)
	edit("edit media", chatPN, imageID, "x", http.StatusUnprocessableEntity, gateway.MsgCannotEdit)
	edit("edit wrong chat", chatPN, elsewhere, "x", http.StatusNotFound, gateway.MsgMessageNotFound)
	del("delete wrong chat", "15550102002", own, http.StatusNotFound, gateway.MsgMessageNotFound)
	edit("edit unknown", chatPN, "3EB0NOPE", "x", http.StatusNotFound, gateway.MsgMessageNotFound)
	del("delete unknown", chatPN, "3EB0NOPE", http.StatusNotFound, gateway.MsgMessageNotFound)
	edit("edit blank", chatPN, own, "   ", http.StatusBadRequest, gateway.MsgTextRequired)
	edit("edit empty", chatPN, own, "", http.StatusBadRequest, "")
	edit("edit bad chat", "not-a-number", own, "x", http.StatusBadRequest, "")

	react := func(what, chat, id, emoji string, status int, msg string) {
		t.Helper()
		r, err := e.c.ReactToMessageWithResponse(e.ctx, e.sid, id, nil, client.ReactToMessageJSONRequestBody{ChatId: chat, Emoji: &emoji})
		wantErr(t, what, statusOf(r), r.Body, err, status, msg)
	}
	react("react text", chatPN, theirs, "ok", http.StatusBadRequest, gateway.MsgBadEmoji)
	react("react two emoji", chatPN, theirs, "👍👍", http.StatusBadRequest, gateway.MsgBadEmoji)
	react("react wrong chat", chatPN, elsewhere, "👍", http.StatusNotFound, gateway.MsgMessageNotFound)
	react("react unknown", chatPN, "3EB0NOPE", "👍", http.StatusNotFound, gateway.MsgMessageNotFound)

	pin := e.srv.Do(http.MethodPost, "/sessions/"+e.sid.String()+"/chats/"+chatPN+"/messages/"+own+"/pin", e.key, []byte(`{"duration":"1h"}`))
	wantErr(t, "pin 1h", pin.Status, pin.Body, nil, http.StatusBadRequest, "")
	pu, err := e.c.PinMessageWithResponse(e.ctx, e.sid, chatPN, "3EB0NOPE", nil, client.PinMessageJSONRequestBody{})
	wantErr(t, "pin unknown", statusOf(pu), pu.Body, err, http.StatusNotFound, gateway.MsgMessageNotFound)
	st, err := e.c.StarMessageWithResponse(e.ctx, e.sid, "15550102002", own, nil, client.StarMessageJSONRequestBody{})
	wantErr(t, "star wrong chat", statusOf(st), st.Body, err, http.StatusNotFound, gateway.MsgMessageNotFound)
	bad := e.srv.Do(http.MethodPut, "/sessions/"+e.sid.String()+"/chats/"+chatPN+"/messages/"+own, e.key, []byte(`{"text":"x","extra":1}`))
	wantErr(t, "edit unknown field", bad.Status, bad.Body, nil, http.StatusBadRequest, "")

	// Nothing reached WhatsApp, nothing changed in the store.
	if n := len(contact.Received()); n != before {
		t.Fatalf("contact received %d new messages after refused operations: %+v", n-before, contact.Received()[before:])
	}
	if ev := e.eventsExceptReceipts(); len(ev) != eventsBefore {
		t.Fatalf("refused operations recorded events: %v", ev[eventsBefore:])
	}
	if m := e.message(chatPN, own); m.Edited || m.Revoked || len(m.Reactions) != 0 || m.PinnedUntil != nil || m.Starred {
		t.Fatalf("own message changed: %+v", m)
	}
	if m := e.message(chatPN, oldDelete); m.Revoked {
		t.Fatalf("old message revoked: %+v", m)
	}

	// Within the window, a history-synced own message may be deleted: the
	// rule is about age and authorship, not about where it came from.
	_ = proto.String
	_ = waE2E.Message{}
}
