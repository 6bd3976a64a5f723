package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Events records webhook events that change no stored state (presence,
// typing, calls): gateway.EventRecorder.
type Events struct{ pool *pgxpool.Pool }

// NewEvents returns the event recorder on pool.
func NewEvents(pool *pgxpool.Pool) *Events { return &Events{pool: pool} }

var _ gateway.EventRecorder = (*Events)(nil)

// RecordEvent implements gateway.EventRecorder: the event and its webhook
// deliveries in one transaction.
func (e *Events) RecordEvent(ctx context.Context, sid uuid.UUID, typ string, data any) error {
	return InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := RecordEvent(ctx, tx, sid, typ, data)
		return err
	})
}
