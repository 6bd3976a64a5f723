package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

const (
	contactPN  = "15550002222@s.whatsapp.net"
	contactLID = "88880002222@lid"
	ownPN      = "15550001111@s.whatsapp.net"
)

type msgBundle struct {
	pool  *pgxpool.Pool
	store *postgres.Messages
	sid   uuid.UUID
	ctx   context.Context
}

func setupMessages(t *testing.T) *msgBundle {
	t.Helper()
	pool := testkit.SharedDB(t)
	st := postgres.NewStore(pool)
	key, err := gateway.NewKey(gateway.SessionKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.CreateSession(context.Background(), gateway.NewSession{Name: "msg-" + uuid.NewString(), KeyHash: gateway.HashKey(key)})
	if err != nil {
		t.Fatal(err)
	}
	return &msgBundle{pool: pool, store: postgres.NewMessages(pool), sid: s.ID, ctx: context.Background()}
}

func (b *msgBundle) events(t *testing.T) []string {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `SELECT type FROM events WHERE session_id = $1 AND type <> 'session.state' ORDER BY created_at, id`, b.sid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func text(s string) *string { return &s }

func inbound(id, chat, sender string, fromMe bool, ts time.Time, body string) gateway.Message {
	return gateway.Message{ID: id, ChatJID: chat, Sender: sender, FromMe: fromMe, Timestamp: ts, Type: gateway.TypeText, Text: text(body)}
}

var pnRef = gateway.ChatRef{JID: contactPN, Alts: []string{contactLID}}

func TestMessagesInboundDuplicatesAndEvents(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := inbound("IN1", contactPN, contactPN, false, now, "hello")
	for i := 0; i < 3; i++ { // redeliveries are absorbed
		if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: []gateway.Message{m}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "IN1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "text", *got.Text, "hello")
	eq(t, "timestamp", got.Timestamp, now)
	eq(t, "events", b.events(t), []string{"message"})

	chat, err := b.store.GetChat(b.ctx, b.sid, pnRef)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "unread", chat.UnreadCount, 1)
	eq(t, "last id", chat.LastMessage.ID, "IN1")

	// Own message: message.sent, resets unread, moves the last message.
	if err := b.store.SaveSent(b.ctx, b.sid, inbound("OUT1", contactPN, ownPN, true, now.Add(time.Second), "hi")); err != nil {
		t.Fatal(err)
	}
	chat, _ = b.store.GetChat(b.ctx, b.sid, pnRef)
	eq(t, "unread after reply", chat.UnreadCount, 0)
	eq(t, "last id", chat.LastMessage.ID, "OUT1")
	eq(t, "last from me", chat.LastMessage.FromMe, true)
	eq(t, "events", b.events(t), []string{"message", "message.sent"})

	// Wrong chat does not find it.
	if _, err := b.store.GetMessage(b.ctx, b.sid, gateway.ChatRef{JID: "15550009999@s.whatsapp.net"}, "IN1"); gateway.ErrorMessage(err) != gateway.MsgMessageNotFound {
		t.Fatalf("wrong chat: %v", err)
	}
}

func TestMessagesChanges(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := b.store.SaveSent(b.ctx, b.sid, inbound("OUT1", contactPN, ownPN, true, now, "v1")); err != nil {
		t.Fatal(err)
	}
	apply := func(c gateway.InboundChange) {
		t.Helper()
		c.Chat = pnRef
		for i := 0; i < 2; i++ { // every change is applied twice: redelivery records nothing
			if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{c}); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(gateway.InboundChange{Kind: gateway.ChangeEdit, TargetID: "OUT1", Text: "v2", Timestamp: now.Add(time.Second)})
	apply(gateway.InboundChange{Kind: gateway.ChangeReaction, TargetID: "OUT1", Sender: contactPN, Emoji: "👍", Timestamp: now.Add(2 * time.Second)})
	apply(gateway.InboundChange{Kind: gateway.ChangeStar, TargetID: "OUT1", Flag: true})
	until := now.Add(24 * time.Hour)
	apply(gateway.InboundChange{Kind: gateway.ChangePin, TargetID: "OUT1", Until: &until})
	apply(gateway.InboundChange{Kind: gateway.ChangeReceipt, TargetIDs: []string{"OUT1"}, Receipt: gateway.ReceiptRead})
	apply(gateway.InboundChange{Kind: gateway.ChangeReceipt, TargetIDs: []string{"OUT1"}, Receipt: gateway.ReceiptDelivered}) // older progress: nothing

	m, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "OUT1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "text", *m.Text, "v2")
	eq(t, "original", *m.OriginalText, "v1")
	eq(t, "edited", m.Edited, true)
	eq(t, "starred", m.Starred, true)
	eq(t, "pinned", m.PinnedUntil != nil && m.PinnedUntil.Equal(until), true)
	eq(t, "reactions", len(m.Reactions), 1)
	eq(t, "reaction", m.Reactions[0].Emoji+" "+m.Reactions[0].Sender, "👍 "+contactPN)

	apply(gateway.InboundChange{Kind: gateway.ChangeReaction, TargetID: "OUT1", Sender: contactPN, Emoji: "", Timestamp: now.Add(3 * time.Second)})
	apply(gateway.InboundChange{Kind: gateway.ChangePin, TargetID: "OUT1"})
	apply(gateway.InboundChange{Kind: gateway.ChangeRevoke, TargetID: "OUT1"})
	m, _ = b.store.GetMessage(b.ctx, b.sid, pnRef, "OUT1")
	eq(t, "revoked", m.Revoked, true)
	eq(t, "text after revoke", m.Text == nil, true)
	eq(t, "reactions after removal", len(m.Reactions), 0)
	eq(t, "pinned after unpin", m.PinnedUntil == nil, true)
	// An edit after the revoke changes nothing.
	apply(gateway.InboundChange{Kind: gateway.ChangeEdit, TargetID: "OUT1", Text: "v3", Timestamp: now.Add(time.Minute)})

	eq(t, "events", b.events(t), []string{"message.sent", "message.edited", "message.reaction", "message.receipt",
		"message.reaction", "message.revoked"})

	// A change to a message that is not stored still records its event.
	apply(gateway.InboundChange{Kind: gateway.ChangeRevoke, TargetID: "UNKNOWN", Sender: contactPN})
	evs := b.events(t)
	eq(t, "last event", evs[len(evs)-1], "message.revoked")
}

func TestMessagesChatFlagsAndList(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := 0; i < 5; i++ {
		chat := fmt.Sprintf("1555000300%d@s.whatsapp.net", i)
		if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: []gateway.Message{
			inbound(fmt.Sprintf("C%d", i), chat, chat, false, now.Add(time.Duration(i)*time.Second), "x"),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	ref := func(i int) gateway.ChatRef {
		return gateway.ChatRef{JID: fmt.Sprintf("1555000300%d@s.whatsapp.net", i)}
	}
	apply := func(c gateway.InboundChange) {
		t.Helper()
		for i := 0; i < 2; i++ {
			if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{c}); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: ref(1), Flag: true})
	apply(gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: ref(2), Flag: true})
	apply(gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: ref(2), Flag: false})
	apply(gateway.InboundChange{Kind: gateway.ChangeMarkUnread, Chat: ref(3), Flag: false}) // read: clears unread
	apply(gateway.InboundChange{Kind: gateway.ChangeMarkUnread, Chat: ref(4), Flag: false})
	apply(gateway.InboundChange{Kind: gateway.ChangeMarkUnread, Chat: ref(4), Flag: true})
	apply(gateway.InboundChange{Kind: gateway.ChangeDeleteChat, Chat: ref(0), Timestamp: now.Add(time.Minute)})
	// A chat archived before any message is known is listed last.
	apply(gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: gateway.ChatRef{JID: "15550004444@s.whatsapp.net"}, Flag: true})

	list := func(f gateway.ChatFilter, limit int) []string {
		var out []string
		cur := ""
		for {
			chats, next, err := b.store.ListChats(b.ctx, b.sid, f, gateway.Page{Limit: limit, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chats {
				out = append(out, c.JID[8:11])
			}
			if next == "" {
				return out
			}
			cur = next
		}
	}
	yes, no := true, false
	eq(t, "all", list(gateway.ChatFilter{}, 2), []string{"004", "003", "002", "001", "444"})
	eq(t, "archived", list(gateway.ChatFilter{Archived: &yes}, 1), []string{"001", "444"})
	eq(t, "not archived", list(gateway.ChatFilter{Archived: &no}, 10), []string{"004", "003", "002"})
	eq(t, "unread", list(gateway.ChatFilter{Unread: &yes}, 10), []string{"004", "002", "001"})

	if _, err := b.store.GetMessage(b.ctx, b.sid, ref(0), "C0"); gateway.ErrorMessage(err) != gateway.MsgMessageNotFound {
		t.Fatalf("deleted chat's message: %v", err)
	}
	eq(t, "events", b.events(t), []string{"message", "message", "message", "message", "message",
		"chat.archived", "chat.archived", "chat.unarchived", "chat.marked_unread", "chat.deleted", "chat.archived"})

	// A new message brings a deleted chat back.
	if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: []gateway.Message{
		inbound("C0b", ref(0).JID, ref(0).JID, false, now.Add(2*time.Minute), "back"),
	}}); err != nil {
		t.Fatal(err)
	}
	eq(t, "after new message", list(gateway.ChatFilter{Archived: &no}, 10), []string{"000", "004", "003", "002"})
}

func TestMessagesLIDMerge(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Arrived addressed by LID before the number was known.
	if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: []gateway.Message{
		inbound("L1", contactLID, contactLID, false, now, "by lid"),
	}}); err != nil {
		t.Fatal(err)
	}
	// Looking up by phone (with the LID as alias) finds it even before a merge.
	m, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "L1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "chat", m.ChatJID, contactPN)
	// The next message, now with the mapping known, merges the chat.
	if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{
		Chats:    []gateway.ChatRef{pnRef},
		Messages: []gateway.Message{inbound("P1", contactPN, contactPN, false, now.Add(time.Second), "by pn")},
	}); err != nil {
		t.Fatal(err)
	}
	chats, _, err := b.store.ListChats(b.ctx, b.sid, gateway.ChatFilter{}, gateway.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "one chat", len(chats), 1)
	eq(t, "chat jid", chats[0].JID, contactPN)
	eq(t, "unread", chats[0].UnreadCount, 2)
	msgs, _, err := b.store.ListMessages(b.ctx, b.sid, gateway.ChatRef{JID: contactPN}, gateway.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "messages", len(msgs), 2)
	eq(t, "newest first", msgs[0].ID+","+msgs[1].ID, "P1,L1")
}

func TestMessagesListPagination(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var batch []gateway.Message
	for i := 0; i < 7; i++ {
		// Two share a timestamp: the id breaks the tie.
		batch = append(batch, inbound(fmt.Sprintf("M%d", i), contactPN, contactPN, false, now.Add(time.Duration(i/2)*time.Second), "x"))
	}
	if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: batch, HistorySync: true}); err != nil {
		t.Fatal(err)
	}
	eq(t, "history records no events", len(b.events(t)), 0)
	var ids []string
	cur := ""
	for pages := 0; pages < 10; pages++ {
		msgs, next, err := b.store.ListMessages(b.ctx, b.sid, pnRef, gateway.Page{Limit: 3, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	eq(t, "ids", ids, []string{"M6", "M5", "M4", "M3", "M2", "M1", "M0"})
	if _, _, err := b.store.ListMessages(b.ctx, b.sid, pnRef, gateway.Page{Limit: 3, Cursor: "garbage"}); gateway.ErrorCode(err) != gateway.CodeInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestMessagesIdempotencyAndRetention(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	st, _, err := b.store.Claim(b.ctx, b.sid, "k1", "fp1", time.Minute)
	eq(t, "first", st, gateway.IdemClaimed)
	if err != nil {
		t.Fatal(err)
	}
	st, _, _ = b.store.Claim(b.ctx, b.sid, "k1", "fp1", time.Minute)
	eq(t, "while running", st, gateway.IdemPending)
	st, _, _ = b.store.Claim(b.ctx, b.sid, "k1", "fp2", time.Minute)
	eq(t, "other request", st, gateway.IdemMismatch)
	if err := b.store.Complete(b.ctx, b.sid, "k1", []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	st, resp, _ := b.store.Claim(b.ctx, b.sid, "k1", "fp1", time.Minute)
	eq(t, "done", st, gateway.IdemDone)
	eq(t, "response", string(resp), `{"ok": true}`)
	// Released keys can be claimed again; stale pending claims are taken over.
	st, _, _ = b.store.Claim(b.ctx, b.sid, "k2", "fp", time.Minute)
	eq(t, "k2", st, gateway.IdemClaimed)
	if err := b.store.Release(b.ctx, b.sid, "k2"); err != nil {
		t.Fatal(err)
	}
	st, _, _ = b.store.Claim(b.ctx, b.sid, "k2", "fp", time.Minute)
	eq(t, "k2 again", st, gateway.IdemClaimed)
	st, _, _ = b.store.Claim(b.ctx, b.sid, "k2", "fp", -time.Second)
	eq(t, "k2 stale", st, gateway.IdemClaimed)

	old := time.Now().Add(-100 * 24 * time.Hour)
	if err := b.store.StoreInbound(b.ctx, b.sid, gateway.InboundBatch{Messages: []gateway.Message{
		inbound("OLD", contactPN, contactPN, false, old, "old"),
		inbound("NEW", contactPN, contactPN, false, time.Now(), "new"),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.DeleteExpired(b.ctx, time.Now().Add(-30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "OLD"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("old message survived retention: %v", err)
	}
	if _, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "NEW"); err != nil {
		t.Fatalf("new message: %v", err)
	}
}
