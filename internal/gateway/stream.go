package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// StoredEvent is one recorded event at its stream position.
type StoredEvent struct {
	// Pos is the stream position: assigned after commit in commit order
	// (postgres.SequenceEvents), strictly increasing along the stream.
	Pos       int64
	ID        string
	SessionID uuid.UUID
	Type      string
	Time      time.Time
	Data      []byte // the JSON payload
}

// EventLog reads the recorded events in stream order (postgres.EventLog).
type EventLog interface {
	// EventsAfter returns up to limit sequenced events with a position
	// above after, of sessionID (every session when uuid.Nil), in position
	// order, and the highest position assigned when it read them: when
	// fewer than limit came back, no event of the scope lies between after
	// and that high-water mark besides those returned.
	EventsAfter(ctx context.Context, sessionID uuid.UUID, after int64, limit int) ([]StoredEvent, int64, error)
	// EventPosition returns the position of event id, of sessionID unless
	// uuid.Nil; CodeNotFound when it is not stored (never recorded, removed
	// by retention, or another session's).
	EventPosition(ctx context.Context, sessionID uuid.UUID, id string) (int64, error)
	// LatestPosition returns the highest position assigned (0 for none).
	LatestPosition(ctx context.Context) (int64, error)
	// SequenceEvents assigns positions to the committed events that have
	// none and returns how many it numbered.
	SequenceEvents(ctx context.Context) (int, error)
}

// StreamRequest says what a client of the event stream wants.
type StreamRequest struct {
	// SessionID limits the stream to one session; uuid.Nil is every
	// session (the admin stream).
	SessionID uuid.UUID
	// After is the last event id the client has seen ("" for none: the
	// stream starts live; StreamFromStart replays everything stored).
	After string
	// Types filters by event type (webhook filter syntax: empty is every
	// type).
	Types []string
	// Buffer caps the events queued for a live client that does not read
	// them (0: the stream's default); beyond it the client is disconnected
	// with ErrSlowConsumer.
	Buffer int
}

// StreamFromStart as StreamRequest.After replays every stored event.
const StreamFromStart = "start"

// StreamEvent is one event as a stream delivers it.
type StreamEvent struct {
	Pos  int64
	ID   string
	Type string
	// Envelope is the JSON body a webhook delivery of the event carries
	// (EventEnvelope), shared by every client: never modify it.
	Envelope []byte
}

// EventStream is the live, resumable stream of recorded events
// (internal/eventstream).
type EventStream interface {
	// Subscribe starts a stream. reset is true when r.After names no stored
	// event of the scope (removed by retention, never recorded, or another
	// session's): the stream then starts live, as without After.
	Subscribe(ctx context.Context, r StreamRequest) (sub EventSubscription, reset bool, err error)
}

// EventSubscription is one client's stream: replay of the stored events
// after its start, then the live ones, each once and in position order.
type EventSubscription interface {
	// Next returns the next events in order, waiting up to wait for one
	// (an empty batch when none came). It returns ErrSlowConsumer once the
	// client fell more than its buffer behind the live stream, and ctx's
	// error when ctx ends.
	Next(ctx context.Context, wait time.Duration) ([]StreamEvent, error)
	// Close ends the subscription.
	Close()
}

// ErrSlowConsumer ends a subscription whose client did not keep up.
var ErrSlowConsumer = errors.New("the client did not keep up with the event stream: its buffer of events is full")

// EventEnvelope is the JSON body of an event as webhooks deliver it and
// streams send it (the WebhookEvent schema of openapi.yaml). Its bytes
// depend only on the event.
func EventEnvelope(id, typ string, sessionID uuid.UUID, ts time.Time, data []byte) ([]byte, error) {
	if len(data) == 0 {
		data = []byte("{}")
	}
	return json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		SessionID uuid.UUID       `json:"sessionId"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{id, typ, sessionID, ts.UTC(), data})
}
