package postgres_test

import (
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// TestReceiptsPerRecipient: a group message's receipts are stored member
// by member (only forward), its status is the best progress, and each
// member's progress records a message.receipt event naming the member; a
// sent message without receipts is "sent".
func TestReceiptsPerRecipient(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	group := gateway.ChatRef{JID: "120363000000000014@g.us"}
	const alice, bob = "15550003333@s.whatsapp.net", "15550004444@s.whatsapp.net"
	if err := b.store.SaveSent(b.ctx, b.sid, inbound("G1", group.JID, ownPN, true, now, "hello group")); err != nil {
		t.Fatal(err)
	}
	m, err := b.store.GetMessage(b.ctx, b.sid, group, "G1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "status before receipts", m.Status, "sent")
	eq(t, "receipts before", len(m.Receipts), 0)

	receipt := func(who string, rt gateway.ReceiptType, at time.Time) {
		t.Helper()
		if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{{Kind: gateway.ChangeReceipt, Chat: group,
			TargetIDs: []string{"G1"}, Receipt: rt, Sender: who, Timestamp: at}}); err != nil {
			t.Fatal(err)
		}
	}
	receipt(alice, gateway.ReceiptDelivered, now.Add(time.Second))
	receipt(bob, gateway.ReceiptDelivered, now.Add(2*time.Second)) // the aggregate stays delivered: still an event
	receipt(alice, gateway.ReceiptRead, now.Add(3*time.Second))
	receipt(alice, gateway.ReceiptDelivered, now.Add(4*time.Second)) // backwards: nothing
	m, err = b.store.GetMessage(b.ctx, b.sid, group, "G1")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "status", m.Status, "read")
	eq(t, "receipts", len(m.Receipts), 2)
	eq(t, "alice", m.Receipts[0].Recipient+" "+m.Receipts[0].Status+" "+m.Receipts[0].At.Format(time.RFC3339Nano),
		alice+" read "+now.Add(3*time.Second).Format(time.RFC3339Nano))
	eq(t, "bob", m.Receipts[1].Recipient+" "+m.Receipts[1].Status, bob+" delivered")
	eq(t, "events", b.events(t), []string{"message.sent", "message.receipt", "message.receipt", "message.receipt"})
	var recipients []string
	rows, err := b.pool.Query(b.ctx, `SELECT data->>'recipient' FROM events WHERE session_id = $1 AND type = 'message.receipt' ORDER BY created_at, id`, b.sid)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		recipients = append(recipients, r)
	}
	rows.Close()
	eq(t, "event recipients", recipients, []string{alice, bob, alice})
}

// TestReceiptsFoldWithLIDMerge: receipts stored while a contact was known
// only by its LID (as chat and as recipient) move with the chat when the
// number is learnt, so the message has one recipient row, the phone
// JID's, with the furthest status.
func TestReceiptsFoldWithLIDMerge(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	lidRef := gateway.ChatRef{JID: contactLID}
	if err := b.store.SaveSent(b.ctx, b.sid, inbound("LOUT", contactLID, ownPN, true, now, "to the lid")); err != nil {
		t.Fatal(err)
	}
	receipt := func(ref gateway.ChatRef, who string, rt gateway.ReceiptType, at time.Time) {
		t.Helper()
		if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{{Kind: gateway.ChangeReceipt, Chat: ref,
			TargetIDs: []string{"LOUT"}, Receipt: rt, Sender: who, Timestamp: at}}); err != nil {
			t.Fatal(err)
		}
	}
	receipt(lidRef, contactLID, gateway.ReceiptRead, now.Add(2*time.Second))
	if err := b.store.MergeChat(b.ctx, b.sid, pnRef); err != nil {
		t.Fatal(err)
	}
	// Now addressed by phone: a late, lower receipt does not move it back.
	receipt(pnRef, contactPN, gateway.ReceiptDelivered, now.Add(3*time.Second))
	m, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "LOUT")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "chat", m.ChatJID, contactPN)
	eq(t, "status", m.Status, "read")
	eq(t, "one recipient", len(m.Receipts), 1)
	eq(t, "recipient", m.Receipts[0].Recipient+" "+m.Receipts[0].Status+" "+m.Receipts[0].At.Format(time.RFC3339Nano),
		contactPN+" read "+now.Add(2*time.Second).Format(time.RFC3339Nano))
	var left int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM message_receipts WHERE session_id = $1 AND (chat_jid = $2 OR recipient = $2)`,
		b.sid, contactLID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	eq(t, "rows left under the LID", left, 0)
}
