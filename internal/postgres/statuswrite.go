package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// UpdateStatus implements gateway.SessionStatusStore: it writes u and records
// a session.state event {state, previousState, jid?, lastError?} in one
// transaction, with a delivery for every webhook of the session that takes
// it. With a lease fence in ctx (gateway.WithLeaseFence) nothing is written
// unless the session's lease still has the fence's owner and epoch
// (CodeConflict + MsgStaleLease).
//
// Writes of many sessions at once (a restore, a failover: every session
// writes "starting" and then "connected") are group-committed: while one
// transaction runs, the writes that arrive queue up, and the next
// transaction writes all of them (up to maxStatusBatch, one per session) in
// one statement. Each caller still gets its own session's result.
func (s *Store) UpdateStatus(ctx context.Context, id uuid.UUID, u gateway.StatusUpdate) error {
	w, err := newStatusWrite(ctx, id, u)
	if err != nil {
		return err
	}
	return s.status.do(ctx, s, w)
}

// statusWrite is one UpdateStatus, as the statements take it.
type statusWrite struct {
	id          uuid.UUID
	state       string
	jid         *string
	phone       *string
	pushName    *string
	connectedAt *time.Time
	lastSeenAt  *time.Time
	lastError   *string
	clearError  bool
	eventID     string
	data        string // the event without previousState (added from the locked row)
	fenceOwner  *string
	fenceEpoch  int64

	done chan error // the result, once written (buffered)
}

func newStatusWrite(ctx context.Context, id uuid.UUID, u gateway.StatusUpdate) (*statusWrite, error) {
	w := &statusWrite{
		id: id, state: string(u.State), jid: u.JID, phone: u.Phone, pushName: u.PushName,
		connectedAt: u.ConnectedAt, lastSeenAt: u.LastSeenAt,
		eventID: "evt_" + uuid.NewString(), done: make(chan error, 1),
	}
	if u.LastError != nil {
		if *u.LastError == "" {
			w.clearError = true
		} else {
			w.lastError = u.LastError
		}
	}
	data, err := json.Marshal(gateway.SessionStateEvent{State: w.state, JID: u.JID, LastError: w.lastError})
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	w.data = string(data)
	if fence, ok := gateway.LeaseFenceFrom(ctx); ok {
		w.fenceOwner, w.fenceEpoch = &fence.Owner, fence.Epoch
	}
	return w, nil
}

// maxStatusBatch bounds the writes of one group commit.
const maxStatusBatch = 256

// statusBatchTimeout bounds one group commit's transaction: it writes for
// callers whose own contexts differ, so it runs under none of them.
const statusBatchTimeout = 15 * time.Second

// statusBatcher queues the status writes of one Store. One flushing
// goroutine runs while writes are queued, one batch at a time, so the
// writes that arrive while a batch commits form the next one. The batch
// statement never waits for a row lock (NOWAIT): when a row is locked the
// batch's writes are written one by one in goroutines of their own, which
// wait for their locks as a single write does, while the flusher goes on.
type statusBatcher struct {
	mu       sync.Mutex
	queue    []*statusWrite
	running  bool
	inflight map[uuid.UUID]int // sessions with a write being written one by one
}

// do queues w and waits for its result. A caller whose ctx ends first gets
// ctx's error, but its write may still be committed (as with any statement
// whose context ends while it runs).
func (b *statusBatcher) do(ctx context.Context, s *Store, w *statusWrite) error {
	b.mu.Lock()
	b.queue = append(b.queue, w)
	b.kick(s)
	b.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return interpretError(ctx.Err(), "", "")
	}
}

// kick starts the flusher unless it runs. Caller holds mu.
func (b *statusBatcher) kick(s *Store) {
	if !b.running && len(b.queue) > 0 {
		b.running = true
		go b.run(s)
	}
}

// run writes the queue, a batch at a time, until nothing can be taken.
func (b *statusBatcher) run(s *Store) {
	for {
		b.mu.Lock()
		batch := b.take()
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), statusBatchTimeout)
		results, err := s.writeStatuses(ctx, batch)
		cancel()
		if err == nil {
			for i, w := range batch {
				w.done <- results[i]
			}
			continue
		}
		// A locked row, or any other failure of the batch as a whole: one
		// by one, so that one session's problem is not every session's.
		b.mu.Lock()
		if b.inflight == nil {
			b.inflight = map[uuid.UUID]int{}
		}
		for _, w := range batch {
			b.inflight[w.id]++
		}
		b.mu.Unlock()
		for _, w := range batch {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), statusBatchTimeout)
				w.done <- s.writeStatus(ctx, w)
				cancel()
				b.mu.Lock()
				if b.inflight[w.id]--; b.inflight[w.id] == 0 {
					delete(b.inflight, w.id)
				}
				b.kick(s)
				b.mu.Unlock()
			}()
		}
	}
}

// take removes the next batch from the queue: in arrival order, at most
// one write per session and none of a session with a write still being
// written (a later write of a session waits, so a session's writes commit
// in their order). Caller holds mu.
func (b *statusBatcher) take() []*statusWrite {
	if len(b.queue) == 0 {
		return nil
	}
	var batch, rest []*statusWrite
	seen := make(map[uuid.UUID]bool, min(len(b.queue), maxStatusBatch))
	for _, w := range b.queue {
		if len(batch) < maxStatusBatch && !seen[w.id] && b.inflight[w.id] == 0 {
			seen[w.id] = true
			batch = append(batch, w)
			continue
		}
		seen[w.id] = true // keep the session's order behind this one
		rest = append(rest, w)
	}
	b.queue = rest
	return batch
}

// writeStatus writes one status change, waiting for its row locks as any
// single statement does.
func (s *Store) writeStatus(ctx context.Context, w *statusWrite) error {
	results, err := s.writeStatusesWith(ctx, updateStatusesWaitSQL, []*statusWrite{w})
	if err != nil {
		return err
	}
	return results[0]
}

func statusResult(found, fenced bool) error {
	switch {
	case !found:
		return gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	case !fenced:
		return gateway.E(gateway.CodeConflict, gateway.MsgStaleLease)
	}
	return nil
}

// writeStatuses writes a batch of status changes of distinct sessions in
// one transaction (updateStatusesSQL) and returns each one's result; err
// is for the transaction as a whole.
func (s *Store) writeStatuses(ctx context.Context, batch []*statusWrite) (results []error, err error) {
	return s.writeStatusesWith(ctx, updateStatusesSQL, batch)
}

func (s *Store) writeStatusesWith(ctx context.Context, sql string, batch []*statusWrite) (results []error, err error) {
	n := len(batch)
	var (
		idx         = make([]int32, n)
		ids         = make([]uuid.UUID, n)
		states      = make([]string, n)
		jids        = make([]*string, n)
		phones      = make([]*string, n)
		pushNames   = make([]*string, n)
		connectedAt = make([]*time.Time, n)
		lastSeenAt  = make([]*time.Time, n)
		lastErrors  = make([]*string, n)
		clearErrors = make([]bool, n)
		eventIDs    = make([]string, n)
		data        = make([]string, n)
		fenceOwners = make([]*string, n)
		fenceEpochs = make([]int64, n)
	)
	for i, w := range batch {
		idx[i], ids[i], states[i], jids[i], phones[i], pushNames[i] = int32(i), w.id, w.state, w.jid, w.phone, w.pushName
		connectedAt[i], lastSeenAt[i], lastErrors[i], clearErrors[i] = w.connectedAt, w.lastSeenAt, w.lastError, w.clearError
		eventIDs[i], data[i], fenceOwners[i], fenceEpochs[i] = w.eventID, w.data, w.fenceOwner, w.fenceEpoch
	}
	results = make([]error, n)
	err = InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, idx, ids, states, jids, phones, pushNames,
			connectedAt, lastSeenAt, lastErrors, clearErrors, eventIDs, data, fenceOwners, fenceEpochs,
			gateway.EventSessionState)
		if err != nil {
			return err
		}
		var jobs []webhookJobRef
		seen := 0
		for rows.Next() {
			var i *int32
			var found, fenced bool
			var id *int64
			var gen *int
			var url *string
			if err := rows.Scan(&i, &found, &fenced, &id, &gen, &url); err != nil {
				rows.Close()
				return err
			}
			if i != nil && int(*i) < n {
				results[*i] = statusResult(found, fenced)
				seen++
			}
			if id != nil && gen != nil && url != nil {
				jobs = append(jobs, webhookJobRef{id: *id, generation: *gen, url: *url})
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if seen != n {
			return gateway.E(gateway.CodeInternal, "status batch: a write without a result")
		}
		return insertWebhookJobs(ctx, tx, jobs)
	})
	return results, err
}

// updateStatusesSQL writes status changes of distinct sessions, from
// arrays, in one statement: lock each session row, check its lease fence
// (no fence owner: not fenced) under a share lock on the lease row, so
// that a claim by another node waits for this write, then update the row,
// record the session.state event with the locked row's state as
// previousState (in the batch's order: the stream's order within a
// transaction), and queue a delivery for every enabled webhook of the
// session whose filter takes the event. Nothing is written for a session
// that is gone or whose fence fails. It returns a row per write (its
// index, found, fence holds) and one per queued delivery (index NULL).
//
// The batch takes its row locks NOWAIT: waiting would hold every queued
// write of the node behind one locked row, and a lease renewal updates
// many lease rows in an order of its own, so waiting for one of them while
// holding others could deadlock with it. When a row is locked the
// statement fails and the batch is written one write at a time
// (statusBatcher.run) with updateStatusesWaitSQL, which waits.
var updateStatusesSQL = strings.ReplaceAll(updateStatusesTemplate, "{lock}", " NOWAIT")

// updateStatusesWaitSQL is updateStatusesSQL waiting for its locks.
var updateStatusesWaitSQL = strings.ReplaceAll(updateStatusesTemplate, "{lock}", "")

var updateStatusesTemplate = `
WITH input AS (
	SELECT * FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::timestamptz[], $8::timestamptz[], $9::text[], $10::bool[], $11::text[], $12::text[], $13::text[], $14::bigint[])
		AS t(idx, id, state, jid, phone, push_name, connected_at, last_seen_at, last_error, clear_error, event_id, data, fence_owner, fence_epoch)
), prev AS (
	SELECT s.id, s.state FROM sessions s WHERE s.id IN (SELECT id FROM input) ORDER BY s.id FOR UPDATE{lock}
), fence AS (
	SELECT i.idx, i.fence_owner IS NULL OR EXISTS (
		SELECT FROM wagate_leases l WHERE l.session_id = i.id AND l.owner = i.fence_owner AND l.epoch = i.fence_epoch FOR SHARE{lock}
	) AS ok FROM input i
), go AS (
	SELECT i.*, prev.state AS prev_state FROM input i JOIN prev ON prev.id = i.id JOIN fence f ON f.idx = i.idx WHERE f.ok
), upd AS (
	UPDATE sessions s SET
		state = go.state,
		jid = COALESCE(go.jid, s.jid),
		phone = COALESCE(go.phone, s.phone),
		push_name = COALESCE(go.push_name, s.push_name),
		connected_at = COALESCE(go.connected_at, s.connected_at),
		last_seen_at = COALESCE(go.last_seen_at, s.last_seen_at),
		last_error = CASE WHEN go.clear_error THEN NULL ELSE COALESCE(go.last_error, s.last_error) END,
		updated_at = now()
	FROM go WHERE s.id = go.id
), ev AS (
	INSERT INTO events (id, session_id, type, data)
	SELECT go.event_id, go.id, $15, go.data::jsonb || jsonb_build_object('previousState', go.prev_state)
	FROM go ORDER BY go.idx
), wd AS (
	INSERT INTO webhook_deliveries (session_id, webhook_id, event_id, event_type, url)
	SELECT w.session_id, w.id, go.event_id, $15, w.url FROM go JOIN webhooks w ON w.session_id = go.id
	WHERE ` + webhookTakes("$15") + `
	RETURNING id, generation, url
)
SELECT i.idx, prev.id IS NOT NULL, COALESCE(f.ok, false), NULL::bigint, NULL::int, NULL::text
FROM input i LEFT JOIN prev ON prev.id = i.id LEFT JOIN fence f ON f.idx = i.idx
UNION ALL
SELECT NULL, true, true, wd.id, wd.generation, wd.url FROM wd`
