package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// EventChannel is the LISTEN/NOTIFY channel of the event stream (migration
// 0050): 'new' when events commit, 'pos' when the sequencer numbered some.
const EventChannel = "wagate_events"

// sequencerLockID is the advisory lock that makes one sequencer run at a
// time across every node (see migration 0050).
const sequencerLockID int64 = 0x77616761_65760050 // "wagaev" + 0050

// sequenceBatch bounds the events one sequencer transaction numbers.
const sequenceBatch = 5000

// EventLog implements gateway.EventLog on the events table.
type EventLog struct{ pool *pgxpool.Pool }

var _ gateway.EventLog = (*EventLog)(nil)

// NewEventLog returns the event log of pool's database.
func NewEventLog(pool *pgxpool.Pool) *EventLog { return &EventLog{pool: pool} }

// The high-water mark is read by the same statement (one snapshot) as the
// events: fewer than limit rows means nothing else of the scope up to it.
const (
	eventsAfterAll = `WITH hw AS (SELECT coalesce(max(pos), 0) AS m FROM events)
		SELECT hw.m, e.pos, e.id, e.session_id, e.type, e.data, e.created_at
		FROM hw LEFT JOIN LATERAL (
			SELECT pos, id, session_id, type, data, created_at FROM events
			WHERE pos > $1 ORDER BY pos LIMIT $2) e ON true
		ORDER BY e.pos`
	eventsAfterSession = `WITH hw AS (SELECT coalesce(max(pos), 0) AS m FROM events)
		SELECT hw.m, e.pos, e.id, e.session_id, e.type, e.data, e.created_at
		FROM hw LEFT JOIN LATERAL (
			SELECT pos, id, session_id, type, data, created_at FROM events
			WHERE session_id = $3 AND pos > $1 ORDER BY pos LIMIT $2) e ON true
		ORDER BY e.pos`
)

// EventsAfter implements gateway.EventLog.
func (l *EventLog) EventsAfter(ctx context.Context, sessionID uuid.UUID, after int64, limit int) ([]gateway.StoredEvent, int64, error) {
	q, args := eventsAfterAll, []any{after, limit}
	if sessionID != uuid.Nil {
		q, args = eventsAfterSession, append(args, sessionID)
	}
	rows, err := l.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, interpretError(err, "", "")
	}
	defer rows.Close()
	var out []gateway.StoredEvent
	var hw int64
	for rows.Next() {
		var (
			pos  *int64
			id   *string
			sid  *uuid.UUID
			typ  *string
			data []byte
			at   *time.Time
		)
		if err := rows.Scan(&hw, &pos, &id, &sid, &typ, &data, &at); err != nil {
			return nil, 0, interpretError(err, "", "")
		}
		if pos == nil { // the LEFT JOIN's empty row
			continue
		}
		out = append(out, gateway.StoredEvent{Pos: *pos, ID: *id, SessionID: *sid, Type: *typ, Data: data, Time: *at})
	}
	if err := rows.Err(); err != nil {
		return nil, 0, interpretError(err, "", "")
	}
	return out, hw, nil
}

// EventPosition implements gateway.EventLog. An event that is committed
// but not numbered yet (a client cannot have seen it, but may guess its id
// from a webhook delivery) is numbered first.
func (l *EventLog) EventPosition(ctx context.Context, sessionID uuid.UUID, id string) (int64, error) {
	for attempt := 0; ; attempt++ {
		var pos *int64
		var sid uuid.UUID
		err := l.pool.QueryRow(ctx, `SELECT pos, session_id FROM events WHERE id = $1`, id).Scan(&pos, &sid)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && sessionID != uuid.Nil && sid != sessionID) {
			return 0, gateway.E(gateway.CodeNotFound, "Event not found")
		}
		if err != nil {
			return 0, interpretError(err, "", "")
		}
		if pos != nil {
			return *pos, nil
		}
		if attempt > 0 {
			return 0, gateway.E(gateway.CodeNotFound, "Event not found")
		}
		if _, err := l.SequenceEvents(ctx); err != nil {
			return 0, err
		}
	}
}

// LatestPosition implements gateway.EventLog.
func (l *EventLog) LatestPosition(ctx context.Context) (int64, error) {
	var hw int64
	err := l.pool.QueryRow(ctx, `SELECT coalesce(max(pos), 0) FROM events`).Scan(&hw)
	return hw, interpretError(err, "", "")
}

// SequenceEvents implements gateway.EventLog: under an advisory lock held
// to its commit, it numbers the committed events without a position,
// max(pos)+1 onwards in insertion order, and announces 'pos' on
// EventChannel. Because one numbering transaction runs at a time and
// commits before the next one reads max(pos), positions become visible in
// increasing order, each once: a reader that has seen position p never
// finds a new event at or below p.
func (l *EventLog) SequenceEvents(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int64
		err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sequencerLockID); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `
				WITH base AS (SELECT coalesce(max(pos), 0) AS b FROM events),
				todo AS (
					SELECT id, row_number() OVER (ORDER BY seq) AS n
					FROM (SELECT id, seq FROM events WHERE pos IS NULL ORDER BY seq LIMIT $1) x)
				UPDATE events e SET pos = base.b + todo.n FROM base, todo WHERE e.id = todo.id`, sequenceBatch)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
			if n > 0 {
				_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'pos')`, EventChannel)
			}
			return err
		})
		if err != nil {
			return total, interpretError(err, "", "")
		}
		total += int(n)
		if n < sequenceBatch {
			return total, nil
		}
	}
}

// ListenEvents calls wake for every notification on EventChannel, and once
// each time it (re)connects, until ctx ends, on a dedicated connection.
// A lost connection is retried with backoff (100 ms doubling to 5 s).
func ListenEvents(ctx context.Context, pool *pgxpool.Pool, wake func(payload string), log zerolog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenEventsOnce(ctx, pool, wake, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg("event stream listener lost its connection")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listenEventsOnce(ctx context.Context, pool *pgxpool.Pool, wake func(string), connected func()) error {
	cfg := pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil // not counted with the pool's queries
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+EventChannel); err != nil {
		return err
	}
	connected()
	wake("new") // catch up with what was missed while not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}
