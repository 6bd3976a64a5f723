// Package eventstream is the live, resumable event stream behind
// GET /sessions/{id}/events/stream and GET /events/stream: every recorded
// event after the client's last one, replayed from the event log, then the
// live events, each exactly once and in stream-position order.
//
// One Hub per node reads the log's tail once per wake-up (LISTEN/NOTIFY on
// postgres.EventChannel, plus a slow poll) and hands each event to the live
// subscribers; a subscriber first replays from the log at its own pace and
// joins the hub only once its position has reached the hub's (under the
// hub's lock, so no event falls between replay and live). A live subscriber
// whose bounded buffer is full is dropped with gateway.ErrSlowConsumer: the
// client reconnects with its last event id and replays what it missed, so
// a slow client costs a bounded buffer, never unbounded memory, and loses
// nothing.
package eventstream

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Defaults of Config.
const (
	DefaultBuffer = 1024
	DefaultBatch  = 500
	DefaultPoll   = 2 * time.Second
)

// Config configures a Hub. Zero fields take the defaults.
type Config struct {
	// Buffer caps the events queued for one live client (1024); a client
	// further behind is disconnected with gateway.ErrSlowConsumer.
	Buffer int
	// Batch is the number of events read per query (500).
	Batch int
	// Poll is how often the hub sequences and reads without a wake-up (2s):
	// a safety net for notifications lost while the listener reconnects.
	Poll time.Duration
	// Log is the hub's logger.
	Log zerolog.Logger
}

// EventTypes are the event types a stream can filter on: those of
// openapi.yaml's EventType that are recorded (webhook.test is not).
var EventTypes = []string{
	gateway.EventMessage, gateway.EventMessageSent, gateway.EventMessageReceipt, gateway.EventMessageEdited,
	gateway.EventMessageRevoked, gateway.EventMessageReaction,
	gateway.EventChatArchived, gateway.EventChatUnarchived, gateway.EventChatMarkedUnread, gateway.EventChatDeleted,
	gateway.EventSessionState, "session.qr", "webhook.test",
}

// Hub implements gateway.EventStream for one node.
type Hub struct {
	log gateway.EventLog
	cfg Config

	wake    chan struct{} // cap 1: a pending wake-up
	needSeq atomic.Bool   // events committed since the last sequencing

	mu      sync.Mutex
	started bool
	cursor  int64 // every event up to here was handed to the live subscribers
	subs    map[*subscription]struct{}
}

var _ gateway.EventStream = (*Hub)(nil)

// New returns a hub on log; Start runs it.
func New(log gateway.EventLog, cfg Config) *Hub {
	cfg.Buffer = cmp.Or(cfg.Buffer, DefaultBuffer)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	return &Hub{log: log, cfg: cfg, wake: make(chan struct{}, 1), subs: map[*subscription]struct{}{}}
}

// Notify is the listener's callback (postgres.ListenEvents): payload "new"
// (events committed: sequence them) or "pos" (positions assigned). It
// never blocks.
func (h *Hub) Notify(payload string) {
	if payload != "pos" {
		h.needSeq.Store(true)
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Start reads the current position and runs the hub until ctx ends.
func (h *Hub) Start(ctx context.Context) error {
	if _, err := h.log.SequenceEvents(ctx); err != nil {
		return err
	}
	hw, err := h.log.LatestPosition(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cursor, h.started = hw, true
	h.mu.Unlock()
	go h.run(ctx)
	return nil
}

// Position is the position up to which the hub handed events to its live
// subscribers.
func (h *Hub) Position() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cursor
}

func (h *Hub) run(ctx context.Context) {
	t := time.NewTicker(h.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.started = false
			for s := range h.subs {
				s.drop(errShutdown)
			}
			h.mu.Unlock()
			return
		case <-h.wake:
		case <-t.C:
			h.needSeq.Store(true)
		}
		if h.needSeq.Swap(false) {
			if _, err := h.log.SequenceEvents(ctx); err != nil && ctx.Err() == nil {
				h.needSeq.Store(true)
				h.cfg.Log.Error().Err(err).Msg("event stream could not sequence events")
			}
		}
		if err := h.pump(ctx); err != nil && ctx.Err() == nil {
			h.cfg.Log.Error().Err(err).Msg("event stream could not read events")
		}
	}
}

// pump hands every event after the cursor to the live subscribers.
func (h *Hub) pump(ctx context.Context) error {
	for {
		h.mu.Lock()
		idle, after := len(h.subs) == 0, h.cursor
		h.mu.Unlock()
		if idle {
			hw, err := h.log.LatestPosition(ctx)
			if err != nil {
				return err
			}
			h.mu.Lock()
			if len(h.subs) == 0 {
				// Nobody to hand events to: move on. A subscriber joining
				// later compares its position with this one.
				h.cursor = max(h.cursor, hw)
				h.mu.Unlock()
				return nil
			}
			h.mu.Unlock()
		}
		evs, hw, err := h.log.EventsAfter(ctx, uuid.Nil, after, h.cfg.Batch)
		if err != nil {
			return err
		}
		out := make([]liveEvent, 0, len(evs))
		for _, e := range evs {
			se, err := streamEvent(e)
			if err != nil {
				return err
			}
			out = append(out, liveEvent{StreamEvent: se, session: e.SessionID})
		}
		h.mu.Lock()
		for _, e := range out {
			for s := range h.subs {
				s.offer(e)
			}
			h.cursor = e.Pos
		}
		if len(evs) < h.cfg.Batch {
			h.cursor = max(h.cursor, hw)
		}
		h.mu.Unlock()
		if len(evs) < h.cfg.Batch {
			return nil
		}
	}
}

func streamEvent(e gateway.StoredEvent) (gateway.StreamEvent, error) {
	env, err := gateway.EventEnvelope(e.ID, e.Type, e.SessionID, e.Time, e.Data)
	if err != nil {
		return gateway.StreamEvent{}, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return gateway.StreamEvent{Pos: e.Pos, ID: e.ID, Type: e.Type, Envelope: env}, nil
}

type liveEvent struct {
	gateway.StreamEvent
	session uuid.UUID
}

// Subscribe implements gateway.EventStream.
func (h *Hub) Subscribe(ctx context.Context, r gateway.StreamRequest) (gateway.EventSubscription, bool, error) {
	for _, t := range r.Types {
		if !slices.Contains(EventTypes, t) {
			return nil, false, gateway.Errorf(gateway.CodeInvalid, "Unknown event type %q", t)
		}
	}
	s := &subscription{
		h: h, session: r.SessionID, buffer: cmp.Or(r.Buffer, h.cfg.Buffer),
		kicked: make(chan struct{}),
	}
	if len(r.Types) > 0 {
		s.types = map[string]bool{}
		for _, t := range r.Types {
			s.types[t] = true
		}
	}
	s.ch = make(chan gateway.StreamEvent, s.buffer)
	reset, now := false, false
	switch r.After {
	case "":
		now = true
	case gateway.StreamFromStart:
		s.cursor = 0
	default:
		pos, err := h.log.EventPosition(ctx, r.SessionID, r.After)
		switch {
		case gateway.ErrorCode(err) == gateway.CodeNotFound:
			reset, now = true, true
		case err != nil:
			return nil, false, err
		default:
			s.cursor = pos
		}
	}
	if now {
		// From now on: after every event committed before this request
		// (the hub may not have read the latest ones yet).
		if _, err := h.log.SequenceEvents(ctx); err != nil {
			return nil, false, err
		}
		hw, err := h.log.LatestPosition(ctx)
		if err != nil {
			return nil, false, err
		}
		s.cursor = hw
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		return nil, false, gateway.E(gateway.CodeUnavailable, "The event stream is not running")
	}
	if now && s.cursor <= h.cursor {
		s.cursor = h.cursor
		s.join()
	}
	return s, reset, nil
}

// subscription implements gateway.EventSubscription.
type subscription struct {
	h       *Hub
	session uuid.UUID       // uuid.Nil: every session
	types   map[string]bool // nil: every type
	buffer  int

	// Replay state, owned by the client's goroutine until it is live.
	cursor int64
	live   bool

	// Live state, under h.mu.
	joinedAt int64 // events up to here came from the replay
	ch       chan gateway.StreamEvent
	kicked   chan struct{} // closed when dropped by the hub
	err      error         // why, set before kicked is closed
	gone     bool
}

func (s *subscription) wants(typ string) bool { return s.types == nil || s.types[typ] }

// join makes s live at s.cursor; h.mu is held.
func (s *subscription) join() {
	s.live, s.joinedAt = true, s.cursor
	s.h.subs[s] = struct{}{}
}

// offer queues e for s, or drops s when its buffer is full; h.mu is held.
func (s *subscription) offer(e liveEvent) {
	if e.Pos <= s.joinedAt || (s.session != uuid.Nil && e.session != s.session) || !s.wants(e.Type) {
		return
	}
	select {
	case s.ch <- e.StreamEvent:
	default:
		s.drop(gateway.ErrSlowConsumer)
	}
}

// errShutdown ends the subscriptions of a hub that stops.
var errShutdown = gateway.E(gateway.CodeUnavailable, "The server is shutting down")

// drop ends s with err (what Next returns); h.mu is held.
func (s *subscription) drop(err error) {
	if !s.gone {
		s.gone, s.err = true, err
		close(s.kicked)
		delete(s.h.subs, s)
	}
}

// Next implements gateway.EventSubscription.
func (s *subscription) Next(ctx context.Context, wait time.Duration) ([]gateway.StreamEvent, error) {
	for !s.live {
		evs, hw, err := s.h.log.EventsAfter(ctx, s.session, s.cursor, s.h.cfg.Batch)
		if err != nil {
			return nil, err
		}
		out := make([]gateway.StreamEvent, 0, len(evs))
		for _, e := range evs {
			if s.wants(e.Type) {
				se, err := streamEvent(e)
				if err != nil {
					return nil, err
				}
				out = append(out, se)
			}
			s.cursor = e.Pos
		}
		if len(evs) < s.h.cfg.Batch {
			s.cursor = max(s.cursor, hw)
			s.h.mu.Lock()
			started := s.h.started
			if started && s.cursor >= s.h.cursor {
				s.join()
			}
			s.h.mu.Unlock()
			if !started {
				return nil, errShutdown
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	select {
	case <-s.kicked:
		return nil, s.err
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-s.kicked:
		return nil, s.err
	case e := <-s.ch:
		out := []gateway.StreamEvent{e}
		for len(out) < s.h.cfg.Batch {
			select {
			case e := <-s.ch:
				out = append(out, e)
			default:
				return out, nil
			}
		}
		return out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, nil
	}
}

// Close implements gateway.EventSubscription.
func (s *subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if !s.gone {
		s.gone = true
		delete(s.h.subs, s)
	}
}
