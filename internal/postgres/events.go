package postgres

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// RecordEvent inserts one event row in tx and returns its id ("evt_<uuid>").
// It is the single place events are inserted: webhook delivery hooks in here
// so that an event and its deliveries commit together.
func RecordEvent(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID, typ string, data any) (string, error) {
	payload, err := json.Marshal(data)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	if string(payload) == "null" {
		payload = []byte("{}")
	}
	id := "evt_" + uuid.NewString()
	_, err = tx.Exec(ctx,
		`INSERT INTO events (id, session_id, type, data) VALUES ($1, $2, $3, $4)`,
		id, sessionID, typ, payload)
	if err != nil {
		return "", interpretError(err, gateway.MsgSessionNotFound, "")
	}
	if err := enqueueWebhookDeliveries(ctx, tx, id, sessionID, typ); err != nil {
		return "", interpretError(err, "", "")
	}
	return id, nil
}
