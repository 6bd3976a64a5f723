package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.WebhookStore = (*Store)(nil)

// riverInserter is an insert-only River client: it has no pool and no
// workers and inserts jobs only in the caller's transaction, so it holds no
// state and one per process is enough. The webhook package runs the
// workers.
var riverInserter = sync.OnceValues(func() (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(nil), &river.Config{})
})

// migrateRiver applies River's own schema migrations (river_job and its
// companions, recorded in river_migration) with rivermigrate. Migrate calls
// it under its advisory lock: RecordEvent inserts River jobs, so every
// database with our tables has River's too.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool, log zerolog.Logger) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{
		Logger: slog.New(zerolog.NewSlogHandler(log.Level(zerolog.WarnLevel))),
	})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.Info().Int("version", v.Version).Str("name", v.Name).Msg("applied river migration")
	}
	return nil
}

// insertWebhookJobs queues one delivery job per delivery in tx.
func insertWebhookJobs(ctx context.Context, tx pgx.Tx, jobs []webhookJobRef) error {
	if len(jobs) == 0 {
		return nil
	}
	client, err := riverInserter()
	if err != nil {
		return fmt.Errorf("river insert client: %w", err)
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{
			Args: gateway.WebhookJob{DeliveryID: j.id, Generation: j.generation},
			InsertOpts: &river.InsertOpts{
				Queue:       gateway.WebhookQueue(j.url),
				MaxAttempts: gateway.WebhookJobMaxAttempts,
			},
		}
	}
	if _, err := client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert webhook jobs: %w", err)
	}
	return nil
}

type webhookJobRef struct {
	id         int64
	generation int
	url        string
}

func collectJobRefs(rows pgx.Rows) ([]webhookJobRef, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhookJobRef, error) {
		var j webhookJobRef
		err := r.Scan(&j.id, &j.generation, &j.url)
		return j, err
	})
}

// webhookTakes is the condition under which webhook w (an alias in the
// query) gets a delivery of an event of type typ (an SQL expression): it
// is enabled and its filter is empty or names the type.
func webhookTakes(typ string) string {
	return "w.enabled AND (cardinality(w.events) = 0 OR " + typ + " = ANY (w.events))"
}

// enqueueWebhookDeliveries creates a delivery for every enabled webhook of
// the session whose filter takes typ, and queues their jobs, all in tx (the
// transaction of the event). Called by RecordEvent.
func enqueueWebhookDeliveries(ctx context.Context, tx pgx.Tx, eventID string, sessionID uuid.UUID, typ string) error {
	rows, err := tx.Query(ctx, `
		INSERT INTO webhook_deliveries (session_id, webhook_id, event_id, event_type, url)
		SELECT w.session_id, w.id, $2, $3, w.url FROM webhooks w
		WHERE w.session_id = $1 AND `+webhookTakes("$3")+`
		RETURNING id, generation, url`, sessionID, eventID, typ)
	if err != nil {
		return err
	}
	jobs, err := collectJobRefs(rows)
	if err != nil {
		return err
	}
	return insertWebhookJobs(ctx, tx, jobs)
}

// createSessionWebhook stores the session's webhookUrl as its default
// webhook (every event, generated secret). Called by CreateSession in the
// session's transaction.
func createSessionWebhook(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID, url string) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO webhooks (id, session_id, url, secret, session_default)
		VALUES ($1, $2, $3, $4, true)`, uuid.New(), sessionID, url, newWebhookSecret())
	return err
}

// newWebhookSecret returns "whsec_" + 48 hex characters.
func newWebhookSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + hex.EncodeToString(b)
}

const webhookColumns = `id, session_id, url, events, enabled, secret, session_default, created_at`

func scanWebhook(row pgx.Row) (gateway.Webhook, error) {
	var w gateway.Webhook
	err := row.Scan(&w.ID, &w.SessionID, &w.URL, &w.Events, &w.Enabled, &w.Secret, &w.SessionDefault, &w.CreatedAt)
	if w.Events == nil {
		w.Events = []string{}
	}
	return w, err
}

// sessionMustExist returns CodeNotFound/MsgSessionNotFound for an unknown session.
func sessionMustExist(ctx context.Context, q Querier, sessionID uuid.UUID) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`, sessionID).Scan(&ok); err != nil {
		return interpretError(err, "", "")
	}
	if !ok {
		return gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	}
	return nil
}

// notFound tells an unknown session from an unknown webhook or delivery.
func (s *Store) notFound(ctx context.Context, sessionID uuid.UUID, msg string) error {
	if err := sessionMustExist(ctx, s.pool, sessionID); err != nil {
		return err
	}
	return gateway.E(gateway.CodeNotFound, msg)
}

// ListWebhooks implements gateway.WebhookStore. Secrets are left out.
func (s *Store) ListWebhooks(ctx context.Context, sessionID uuid.UUID) ([]gateway.Webhook, error) {
	if err := sessionMustExist(ctx, s.pool, sessionID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE session_id = $1 ORDER BY created_at, id`, sessionID)
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.Webhook, error) {
		w, err := scanWebhook(r)
		w.Secret = ""
		return w, err
	})
	if out == nil {
		out = []gateway.Webhook{}
	}
	return out, interpretError(err, "", "")
}

// CreateWebhook implements gateway.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w gateway.Webhook) (gateway.Webhook, error) {
	if w.Secret == "" {
		w.Secret = newWebhookSecret()
	}
	if w.Events == nil {
		w.Events = []string{}
	}
	out, err := scanWebhook(s.pool.QueryRow(ctx, `
		INSERT INTO webhooks (id, session_id, url, events, secret)
		SELECT $1, id, $3, $4, $5 FROM sessions WHERE id = $2
		RETURNING `+webhookColumns, uuid.New(), w.SessionID, w.URL, w.Events, w.Secret))
	return out, interpretError(err, gateway.MsgSessionNotFound, "")
}

// GetWebhook implements gateway.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) (gateway.Webhook, error) {
	out, err := scanWebhook(s.pool.QueryRow(ctx,
		`SELECT `+webhookColumns+` FROM webhooks WHERE session_id = $1 AND id = $2`, sessionID, webhookID))
	if errors.Is(err, pgx.ErrNoRows) {
		return out, s.notFound(ctx, sessionID, gateway.MsgWebhookNotFound)
	}
	return out, interpretError(err, "", "")
}

// UpdateWebhook implements gateway.WebhookStore. The secret is left out.
func (s *Store) UpdateWebhook(ctx context.Context, sessionID, webhookID uuid.UUID, p gateway.WebhookPatch) (gateway.Webhook, error) {
	var events []string
	if p.Events != nil {
		events = *p.Events
		if events == nil {
			events = []string{}
		}
	}
	out, err := scanWebhook(s.pool.QueryRow(ctx, `
		UPDATE webhooks SET
			url = COALESCE($3, url),
			events = COALESCE($4, events),
			enabled = COALESCE($5, enabled),
			updated_at = now()
		WHERE session_id = $1 AND id = $2
		RETURNING `+webhookColumns, sessionID, webhookID, p.URL, events, p.Enabled))
	out.Secret = ""
	if errors.Is(err, pgx.ErrNoRows) {
		return out, s.notFound(ctx, sessionID, gateway.MsgWebhookNotFound)
	}
	return out, interpretError(err, "", "")
}

// DeleteWebhook implements gateway.WebhookStore; its deliveries and their
// attempts go with it, and their queued jobs find nothing to do.
func (s *Store) DeleteWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE session_id = $1 AND id = $2`, sessionID, webhookID)
	if err != nil {
		return interpretError(err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return s.notFound(ctx, sessionID, gateway.MsgWebhookNotFound)
	}
	return nil
}

// RotateWebhookSecret implements gateway.WebhookStore.
func (s *Store) RotateWebhookSecret(ctx context.Context, sessionID, webhookID uuid.UUID) (gateway.Webhook, error) {
	out, err := scanWebhook(s.pool.QueryRow(ctx, `
		UPDATE webhooks SET secret = $3, updated_at = now()
		WHERE session_id = $1 AND id = $2
		RETURNING `+webhookColumns, sessionID, webhookID, newWebhookSecret()))
	if errors.Is(err, pgx.ErrNoRows) {
		return out, s.notFound(ctx, sessionID, gateway.MsgWebhookNotFound)
	}
	return out, interpretError(err, "", "")
}

const deliveryColumns = `id, session_id, event_id, event_type, webhook_id, url, status, attempts,
	last_status_code, last_latency_ms, last_error, next_attempt_at, created_at`

func scanDelivery(row pgx.Row, extra ...any) (gateway.Delivery, error) {
	var d gateway.Delivery
	var status string
	dest := append([]any{&d.ID, &d.SessionID, &d.EventID, &d.EventType, &d.WebhookID, &d.URL, &status, &d.Attempts,
		&d.LastStatusCode, &d.LastLatencyMs, &d.LastError, &d.NextAttemptAt, &d.CreatedAt}, extra...)
	err := row.Scan(dest...)
	d.Status = gateway.DeliveryStatus(status)
	return d, err
}

// ListDeliveries implements gateway.WebhookStore: newest first; the cursor
// is the id of the last delivery of the previous page.
func (s *Store) ListDeliveries(ctx context.Context, sessionID uuid.UUID, f gateway.DeliveryFilter) ([]gateway.Delivery, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	before := int64(-1)
	if f.Cursor != "" {
		n, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", gateway.E(gateway.CodeInvalid, gateway.MsgInvalidCursor)
		}
		before = n
	}
	var status *string
	if f.Status != nil {
		status = (*string)(f.Status)
	}
	if err := sessionMustExist(ctx, s.pool, sessionID); err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE session_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3 < 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, sessionID, status, before, limit+1)
	if err != nil {
		return nil, "", interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, "", interpretError(err, "", "")
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	if out == nil {
		out = []gateway.Delivery{}
	}
	return out, next, nil
}

// resetDeliveries sets the selected deliveries back to pending under a new
// generation and queues their jobs, in one transaction. where selects from
// webhook_deliveries with $1 = session id and $2 = the extra argument.
func (s *Store) resetDeliveries(ctx context.Context, where string, sessionID uuid.UUID, arg any) ([]gateway.Delivery, error) {
	var out []gateway.Delivery
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE webhook_deliveries d SET
				status = 'pending', generation = d.generation + 1, next_attempt_at = now(), updated_at = now(),
				url = w.url
			FROM webhooks w
			WHERE w.id = d.webhook_id AND `+where+`
			RETURNING d.id, d.session_id, d.event_id, d.event_type, d.webhook_id, d.url, d.status, d.attempts,
				d.last_status_code, d.last_latency_ms, d.last_error, d.next_attempt_at, d.created_at, d.generation`,
			sessionID, arg)
		if err != nil {
			return err
		}
		var jobs []webhookJobRef
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.Delivery, error) {
			var gen int
			d, err := scanDelivery(r, &gen)
			jobs = append(jobs, webhookJobRef{id: d.ID, generation: gen, url: d.URL})
			return d, err
		})
		if err != nil {
			return err
		}
		return insertWebhookJobs(ctx, tx, jobs)
	})
	return out, err
}

// Redeliver implements gateway.WebhookStore.
func (s *Store) Redeliver(ctx context.Context, sessionID uuid.UUID, deliveryID int64) (gateway.Delivery, error) {
	out, err := s.resetDeliveries(ctx, `d.session_id = $1 AND d.id = $2`, sessionID, deliveryID)
	if err != nil {
		return gateway.Delivery{}, err
	}
	if len(out) == 0 {
		return gateway.Delivery{}, s.notFound(ctx, sessionID, gateway.MsgDeliveryNotFound)
	}
	return out[0], nil
}

// RedeliverDead implements gateway.WebhookStore.
func (s *Store) RedeliverDead(ctx context.Context, sessionID uuid.UUID) (int, error) {
	if err := sessionMustExist(ctx, s.pool, sessionID); err != nil {
		return 0, err
	}
	out, err := s.resetDeliveries(ctx, `d.session_id = $1 AND d.status = $2`, sessionID, string(gateway.DeliveryDead))
	return len(out), err
}

// WebhookTask implements gateway.WebhookStore.
func (s *Store) WebhookTask(ctx context.Context, deliveryID int64) (gateway.WebhookTask, error) {
	var t gateway.WebhookTask
	d, err := scanDelivery(s.pool.QueryRow(ctx, `
		SELECT d.id, d.session_id, d.event_id, d.event_type, d.webhook_id, w.url, d.status, d.attempts,
			d.last_status_code, d.last_latency_ms, d.last_error, d.next_attempt_at, d.created_at,
			d.generation, w.enabled, w.secret, e.session_id, e.created_at, e.data
		FROM webhook_deliveries d
		JOIN webhooks w ON w.id = d.webhook_id
		JOIN events e ON e.id = d.event_id
		WHERE d.id = $1`, deliveryID),
		&t.Generation, &t.WebhookEnabled, &t.Secret, &t.EventSessionID, &t.EventTime, &t.EventData)
	t.Delivery = d
	return t, interpretError(err, gateway.MsgDeliveryNotFound, "")
}

// RecordWebhookAttempt implements gateway.WebhookStore.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a gateway.WebhookAttempt) error {
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO webhook_attempts (delivery_id, url, started_at, status_code, latency_ms, error)
			SELECT id, $2, $3, $4, $5, $6 FROM webhook_deliveries WHERE id = $1`,
			a.DeliveryID, a.URL, a.StartedAt, a.StatusCode, a.LatencyMs, a.Error)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE webhook_deliveries SET
				attempts = attempts + 1, url = $3, last_status_code = $4, last_latency_ms = $5, last_error = $6,
				status = CASE WHEN generation = $2 THEN $7 ELSE status END,
				next_attempt_at = CASE WHEN generation = $2 THEN $8 ELSE next_attempt_at END,
				updated_at = now()
			WHERE id = $1`,
			a.DeliveryID, a.Generation, a.URL, a.StatusCode, a.LatencyMs, a.Error, string(a.Status), a.NextAttemptAt)
		return err
	})
}

// FinishDelivery implements gateway.WebhookStore.
func (s *Store) FinishDelivery(ctx context.Context, deliveryID int64, generation int, status gateway.DeliveryStatus, lastError string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE webhook_deliveries SET status = $3, last_error = $4, next_attempt_at = NULL, updated_at = now()
		WHERE id = $1 AND generation = $2`, deliveryID, generation, string(status), lastError)
	return interpretError(err, "", "")
}

// DeleteExpiredEvents removes events recorded before before, with their
// webhook deliveries and attempts (ON DELETE CASCADE), except events that
// still have a delivery pending or retrying. It deletes in batches of
// batch rows (each its own transaction, skipping rows another node is
// deleting) and returns how many events it removed.
func (s *Store) DeleteExpiredEvents(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `
			DELETE FROM events WHERE id IN (
				SELECT e.id FROM events e
				WHERE e.created_at < $1
				  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
				                  WHERE d.event_id = e.id AND d.status IN ('pending', 'retrying'))
				ORDER BY e.created_at
				LIMIT $2
				FOR UPDATE SKIP LOCKED)`, before, batch)
		if err != nil {
			return total, interpretError(err, "", "")
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
