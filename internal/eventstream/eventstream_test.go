package eventstream_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/eventstream"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func newSession(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	s, err := postgres.NewStore(pool).CreateSession(context.Background(), gateway.NewSession{Name: "stream-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func start(t *testing.T, pool *pgxpool.Pool, cfg eventstream.Config) *eventstream.Hub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	h := eventstream.New(postgres.NewEventLog(pool), cfg)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); postgres.ListenEvents(ctx, pool, h.Notify, testkit.Logger(t)) }()
	return h
}

// next reads n events from sub (failing after a minute).
func next(t *testing.T, sub gateway.EventSubscription, n int) []gateway.StreamEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []gateway.StreamEvent
	for len(out) < n {
		evs, err := sub.Next(ctx, time.Second)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, evs...)
	}
	if len(out) != n {
		t.Fatalf("%d events, want %d", len(out), n)
	}
	return out
}

// TestCommitOrderNotInsertOrder is the race a cursor on an insertion
// sequence gets wrong: transaction A inserts an event first but commits
// last. A stream that has delivered B's event must still deliver A's, and
// a client resuming after B must get A.
func TestCommitOrderNotInsertOrder(t *testing.T) {
	pool := testkit.NewDB(t)
	h := start(t, pool, eventstream.Config{})
	sid := newSession(t, pool)
	ctx := context.Background()
	sub, _, err := h.Subscribe(ctx, gateway.StreamRequest{SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	txA, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(ctx) //nolint:errcheck // committed below
	idA, err := postgres.RecordEvent(ctx, txA, sid, gateway.EventChatArchived, gateway.ChatEvent{JID: "a@s.whatsapp.net"})
	if err != nil {
		t.Fatal(err)
	}
	var idB string
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		idB, err = postgres.RecordEvent(ctx, tx, sid, gateway.EventChatArchived, gateway.ChatEvent{JID: "b@s.whatsapp.net"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub, 1); got[0].ID != idB {
		t.Fatalf("first live event %s, want B %s", got[0].ID, idB)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub, 1); got[0].ID != idA {
		t.Fatalf("second live event %s, want A %s (inserted first, committed last)", got[0].ID, idA)
	}
	resumed, reset, err := h.Subscribe(ctx, gateway.StreamRequest{SessionID: sid, After: idB})
	if err != nil || reset {
		t.Fatal(err, reset)
	}
	defer resumed.Close()
	if got := next(t, resumed, 1); got[0].ID != idA {
		t.Fatalf("resumed after B: %s, want A %s", got[0].ID, idA)
	}
}

// TestSlowConsumerIsDropped: a live client that does not read is dropped
// once its buffer is full (ErrSlowConsumer), and loses nothing by
// resuming after the last event it read.
func TestSlowConsumerIsDropped(t *testing.T) {
	pool := testkit.NewDB(t)
	h := start(t, pool, eventstream.Config{Buffer: 4})
	sid := newSession(t, pool)
	ctx := context.Background()
	sub, _, err := h.Subscribe(ctx, gateway.StreamRequest{SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var ids []string
	for i := range 10 {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			id, err := postgres.RecordEvent(ctx, tx, sid, gateway.EventChatArchived, gateway.ChatEvent{JID: "x@s.whatsapp.net"})
			ids = append(ids, id)
			_ = i
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the hub has handed out the last event (the subscriber
	// reads nothing meanwhile).
	log := postgres.NewEventLog(pool)
	last, err := log.EventPosition(ctx, sid, ids[9])
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); h.Position() < last; {
		if time.Now().After(deadline) {
			t.Fatalf("hub at %d, want %d", h.Position(), last)
		}
		time.Sleep(10 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
	if _, err := sub.Next(ctx, time.Second); !errors.Is(err, gateway.ErrSlowConsumer) {
		t.Fatalf("Next after overflowing the buffer: %v, want ErrSlowConsumer", err)
	}
	// The client had read nothing: it resumes from where it started.
	again, _, err := h.Subscribe(ctx, gateway.StreamRequest{SessionID: sid, After: gateway.StreamFromStart, Buffer: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got := next(t, again, 10)
	for i, e := range got {
		if e.ID != ids[i] {
			t.Fatalf("event %d: %s, want %s", i, e.ID, ids[i])
		}
	}
}

// TestUnknownTypeRefused: the filter takes only known types.
func TestUnknownTypeRefused(t *testing.T) {
	pool := testkit.SharedDB(t)
	h := start(t, pool, eventstream.Config{})
	_, _, err := h.Subscribe(context.Background(), gateway.StreamRequest{Types: []string{"message", "nope"}})
	if gateway.ErrorCode(err) != gateway.CodeInvalid {
		t.Fatalf("err %v", err)
	}
}
