package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var deliveryNames = []string{gateway.DeliverySent, gateway.DeliveryDelivered, gateway.DeliveryRead, gateway.DeliveryPlayed}

func deliveryName(level int) string {
	if level < 0 || level >= len(deliveryNames) {
		return gateway.DeliverySent
	}
	return deliveryNames[level]
}

// recordReceipts stores a receipt per recipient (c.Sender) for the own
// messages among c.TargetIDs and returns the ids whose recipient row
// progressed.
func recordReceipts(ctx context.Context, tx Querier, sid uuid.UUID, jids []string, c gateway.InboundChange, level int) ([]string, error) {
	if c.Sender == "" {
		return nil, nil
	}
	at := c.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	rows, err := tx.Query(ctx, `INSERT INTO message_receipts (session_id, chat_jid, message_id, recipient, status, at)
		SELECT m.session_id, m.chat_jid, m.id, $4, $5, $6 FROM messages m
		WHERE m.session_id = $1 AND m.chat_jid = ANY($2) AND m.id = ANY($3) AND m.from_me
		ON CONFLICT (session_id, chat_jid, message_id, recipient) DO UPDATE
			SET status = EXCLUDED.status, at = EXCLUDED.at
			WHERE message_receipts.status < EXCLUDED.status
		RETURNING message_id`, sid, jids, c.TargetIDs, c.Sender, level, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// mergeIDs returns the sorted union of a and b.
func mergeIDs(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// loadDelivery fills an own message's Status and Receipts (per recipient,
// in recipient order).
func loadDelivery(ctx context.Context, q Querier, sid uuid.UUID, chat gateway.ChatRef, m *gateway.Message) error {
	if !m.FromMe {
		return nil
	}
	var level int
	if err := q.QueryRow(ctx, `SELECT status FROM messages WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 LIMIT 1`,
		sid, chat.All(), m.ID).Scan(&level); err != nil {
		return interpretError(err, gateway.MsgMessageNotFound, "")
	}
	m.Status = deliveryName(level)
	rows, err := q.Query(ctx, `SELECT recipient, status, at FROM message_receipts
		WHERE session_id = $1 AND chat_jid = ANY($2) AND message_id = $3 ORDER BY recipient`, sid, chat.All(), m.ID)
	if err != nil {
		return interpretError(err, "", "")
	}
	defer rows.Close()
	m.Receipts = []gateway.MessageReceipt{}
	for rows.Next() {
		var r gateway.MessageReceipt
		var lv int
		if err := rows.Scan(&r.Recipient, &lv, &r.At); err != nil {
			return interpretError(err, "", "")
		}
		r.Status, r.At = deliveryName(lv), r.At.UTC()
		m.Receipts = append(m.Receipts, r)
	}
	return interpretError(rows.Err(), "", "")
}
