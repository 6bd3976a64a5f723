package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Defaults of the event stream's timing (Deps.StreamHeartbeat,
// Deps.StreamWriteTimeout).
const (
	DefaultStreamHeartbeat    = 15 * time.Second
	DefaultStreamWriteTimeout = 30 * time.Second
)

// Control messages of the event stream: never an event type, never with an
// SSE id (so a browser's Last-Event-ID stays the last event's).
const (
	StreamEventReset  = "stream.reset"
	StreamEventClosed = "stream.closed"
)

// Reasons of stream.closed and stream.reset.
const (
	StreamReasonSlowConsumer = "slow_consumer"
	StreamReasonShutdown     = "shutdown"
	StreamReasonError        = "error"
	StreamReasonUnknownAfter = "unknown_event"
	StreamReasonUnauthorized = "unauthorized"
)

// streamRecheckEvery is how often an open stream checks that its key still
// authenticates and may still see its session: revocations reach every
// node's auth cache within milliseconds, so a revoked key's stream ends
// within about this long. The check is answered from memory.
const streamRecheckEvery = time.Second

// Close codes of the WebSocket stream besides the standard ones.
const (
	// WSCloseSlowConsumer closes a WebSocket whose client did not keep up.
	WSCloseSlowConsumer websocket.StatusCode = 4008
	// WSCloseUnauthorized closes a WebSocket whose key was revoked, or whose
	// session was deleted, while it was open.
	WSCloseUnauthorized websocket.StatusCode = 4001
)

// errStreamUnauthorized is the cancel cause of a stream whose caller lost
// its access while it was open.
var errStreamUnauthorized = errors.New("the stream's key or session is no longer valid")

// streamRecheck tells whether the caller of an open stream may still read
// it (nil) or not (an error). The contract middleware puts one in the
// request context of the stream operations.
type streamRecheck func(context.Context) error

// Events implements the events tag on the event stream.
type Events struct {
	Stream       gateway.EventStream // nil: the operations answer 503
	Heartbeat    time.Duration
	WriteTimeout time.Duration
}

// StreamSessionEvents implements api.StrictServerInterface.
func (h *Events) StreamSessionEvents(ctx context.Context, req api.StreamSessionEventsRequestObject) (api.StreamSessionEventsResponseObject, error) {
	p := req.Params
	r, err := h.open(ctx, req.Id, p.LastEventID, p.After, p.Events)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// StreamEvents implements api.StrictServerInterface.
func (h *Events) StreamEvents(ctx context.Context, req api.StreamEventsRequestObject) (api.StreamEventsResponseObject, error) {
	p := req.Params
	r, err := h.open(ctx, uuid.Nil, p.LastEventID, p.After, p.Events)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// validAfter accepts "", "start" and evt_<uuid>.
func validAfter(s string) bool {
	if s == "" || s == gateway.StreamFromStart {
		return true
	}
	id, ok := strings.CutPrefix(s, "evt_")
	return ok && isUUIDText(id)
}

// open subscribes before anything is written, so that every refusal is an
// ordinary error answer.
func (h *Events) open(ctx context.Context, sessionID uuid.UUID, lastEventID, after *string, events *[]api.EventType) (*streamResponse, error) {
	if h.Stream == nil {
		return nil, gateway.E(gateway.CodeUnavailable, "The event stream is not available")
	}
	from, what := "", "after"
	if after != nil {
		from = strings.TrimSpace(*after)
	}
	if lastEventID != nil && strings.TrimSpace(*lastEventID) != "" {
		from, what = strings.TrimSpace(*lastEventID), "Last-Event-ID"
	}
	if !validAfter(from) {
		return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid %s: must be an event id (evt_<uuid>) or start", what)
	}
	var types []string
	if events != nil {
		for _, e := range *events {
			types = append(types, string(e))
		}
	}
	req, _ := ctx.Value(ctxHTTPRequest).(*http.Request)
	if req == nil {
		return nil, gateway.E(gateway.CodeInternal, gateway.MsgInternal)
	}
	var recheck streamRecheck
	if rt := routedFrom(ctx); rt != nil {
		recheck = rt.recheck
	}
	sub, reset, err := h.Stream.Subscribe(ctx, gateway.StreamRequest{SessionID: sessionID, After: from, Types: types})
	if err != nil {
		return nil, err
	}
	return &streamResponse{h: h, ctx: ctx, req: req, sub: sub, reset: reset, after: from, recheck: recheck}, nil
}

// streamResponse writes the stream as SSE or, on an Upgrade request, as a
// WebSocket.
type streamResponse struct {
	h     *Events
	ctx   context.Context
	req   *http.Request
	sub   gateway.EventSubscription
	reset bool
	after string
	// recheck, when set, is run every streamRecheckEvery; its failure ends
	// the stream with stream.closed "unauthorized".
	recheck streamRecheck
	// base is the request's own context: ctx without the recheck's cancel
	// (a WebSocket's reader must outlive a revocation long enough to say so).
	base context.Context
}

// VisitStreamSessionEventsResponse implements api.StreamSessionEventsResponseObject.
func (r *streamResponse) VisitStreamSessionEventsResponse(w http.ResponseWriter) error {
	return r.serve(w)
}

// VisitStreamEventsResponse implements api.StreamEventsResponseObject.
func (r *streamResponse) VisitStreamEventsResponse(w http.ResponseWriter) error {
	return r.serve(w)
}

func (r *streamResponse) serve(w http.ResponseWriter) error {
	defer r.sub.Close()
	r.base = r.ctx
	if r.recheck != nil {
		ctx, cancel := context.WithCancelCause(r.ctx)
		defer cancel(nil)
		r.ctx = ctx
		go r.watchAccess(ctx, cancel)
	}
	if isWebSocket(r.req) {
		r.serveWS(w)
	} else {
		r.serveSSE(w)
	}
	return nil
}

// watchAccess cancels ctx with errStreamUnauthorized once the caller's key
// or session stops passing the check. Other errors of the check (the
// database briefly unreachable with the cache's feed down) keep the stream:
// a revocation is a definite answer, not a failed lookup.
func (r *streamResponse) watchAccess(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(streamRecheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.recheck(ctx)
		switch gateway.ErrorCode(err) {
		case gateway.CodeUnauthorized, gateway.CodeForbidden, gateway.CodeNotFound:
			zerolog.Ctx(ctx).Info().Err(err).Msg("event stream cut: the caller lost access")
			cancel(errStreamUnauthorized)
			return
		}
	}
}

// revoked tells whether ctx ended because the caller lost access.
func revoked(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errStreamUnauthorized)
}

func unauthorizedControl(last string) control {
	return control{Reason: StreamReasonUnauthorized, LastEventID: last,
		Message: "The API key was revoked or has expired, or the session was deleted, while the stream was open"}
}

func isWebSocket(req *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(req.Header.Get("Upgrade")), "websocket")
}

// control is the data of stream.reset and stream.closed.
type control struct {
	Reason      string `json:"reason"`
	Message     string `json:"message"`
	LastEventID string `json:"lastEventId,omitempty"`
}

func (r *streamResponse) resetControl() control {
	return control{Reason: StreamReasonUnknownAfter, LastEventID: r.after,
		Message: "Event " + r.after + " is not stored (older than the event retention, or never recorded in this stream): " +
			"the stream starts live from now; reload the state you keep from the REST API"}
}

// closedControl says why the stream ends (err from Next).
func closedControl(err error, last string) control {
	c := control{Reason: StreamReasonError, Message: "The event stream failed; reconnect with lastEventId to resume", LastEventID: last}
	switch {
	case errors.Is(err, gateway.ErrSlowConsumer):
		c.Reason, c.Message = StreamReasonSlowConsumer,
			"The client did not read the stream fast enough and fell too far behind; reconnect with lastEventId to resume without loss"
	case gateway.ErrorCode(err) == gateway.CodeUnavailable:
		c.Reason, c.Message = StreamReasonShutdown, "The server is shutting down; reconnect with lastEventId to resume without loss"
	}
	return c
}

func (r *streamResponse) heartbeat() time.Duration {
	if r.h.Heartbeat > 0 {
		return r.h.Heartbeat
	}
	return DefaultStreamHeartbeat
}

func (r *streamResponse) writeTimeout() time.Duration {
	if r.h.WriteTimeout > 0 {
		return r.h.WriteTimeout
	}
	return DefaultStreamWriteTimeout
}

// serveSSE writes text/event-stream until the client leaves or the stream
// ends. Every write has a deadline, so a client that stops reading with a
// full TCP window is cut off instead of holding the handler.
func (r *streamResponse) serveSSE(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	buf.WriteString(": wagate event stream\nretry: 2000\n\n")
	if r.reset {
		writeSSEControl(&buf, StreamEventReset, r.resetControl())
	}
	last := r.after
	if last == gateway.StreamFromStart {
		last = ""
	}
	log := zerolog.Ctx(r.ctx)
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(r.writeTimeout()))
		_, err := w.Write(buf.Bytes())
		if err == nil {
			err = rc.Flush()
		}
		buf.Reset()
		if err != nil {
			log.Debug().Err(err).Msg("event stream client went away")
			return false
		}
		return true
	}
	if !flush() {
		return
	}
	for {
		evs, err := r.sub.Next(r.ctx, r.heartbeat())
		if err != nil {
			switch {
			case revoked(r.ctx):
				writeSSEControl(&buf, StreamEventClosed, unauthorizedControl(last))
				flush()
			case r.ctx.Err() == nil:
				writeSSEControl(&buf, StreamEventClosed, closedControl(err, last))
				flush()
				log.Info().Err(err).Msg("event stream closed by the server")
			}
			return
		}
		if len(evs) == 0 {
			buf.WriteString(": heartbeat\n\n")
		}
		for _, e := range evs {
			buf.WriteString("id: ")
			buf.WriteString(e.ID)
			buf.WriteString("\nevent: ")
			buf.WriteString(e.Type)
			buf.WriteString("\ndata: ")
			buf.Write(e.Envelope)
			buf.WriteString("\n\n")
			last = e.ID
		}
		if !flush() {
			return
		}
	}
}

func writeSSEControl(buf *bytes.Buffer, event string, c control) {
	b, _ := json.Marshal(c)
	buf.WriteString("event: ")
	buf.WriteString(event)
	buf.WriteString("\ndata: ")
	buf.Write(b)
	buf.WriteString("\n\n")
}

// wsControl is a control message on the WebSocket stream.
type wsControl struct {
	Type string  `json:"type"`
	Data control `json:"data"`
}

// serveWS writes the stream as WebSocket text messages: each an event
// envelope, or a stream.* control message. Heartbeats are pings.
func (r *streamResponse) serveWS(w http.ResponseWriter) {
	log := zerolog.Ctx(r.ctx)
	// Keys are presented explicitly (header or api_key), never by cookie,
	// so a cross-origin page gains nothing it did not already have: the
	// origin is not checked.
	c, err := websocket.Accept(w, r.req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	defer func() { _ = c.CloseNow() }()
	// The client sends nothing; its close ends conn. A cancelled read
	// context closes a websocket.Conn, so the reader runs on the request's
	// own context and the stream's end (revocation) is joined separately.
	conn := c.CloseRead(r.base)
	ctx, stop := context.WithCancel(conn)
	defer stop()
	defer context.AfterFunc(r.ctx, stop)()
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(conn, r.writeTimeout())
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b) == nil
	}
	if r.reset {
		b, _ := json.Marshal(wsControl{Type: StreamEventReset, Data: r.resetControl()})
		if !write(b) {
			return
		}
	}
	last := r.after
	if last == gateway.StreamFromStart {
		last = ""
	}
	for {
		evs, err := r.sub.Next(ctx, r.heartbeat())
		if err != nil {
			if revoked(r.ctx) {
				b, _ := json.Marshal(wsControl{Type: StreamEventClosed, Data: unauthorizedControl(last)})
				write(b)
				_ = c.Close(WSCloseUnauthorized, StreamReasonUnauthorized)
				return
			}
			if ctx.Err() != nil {
				return
			}
			cc := closedControl(err, last)
			b, _ := json.Marshal(wsControl{Type: StreamEventClosed, Data: cc})
			write(b)
			code := websocket.StatusInternalError
			switch cc.Reason {
			case StreamReasonSlowConsumer:
				code = WSCloseSlowConsumer
			case StreamReasonShutdown:
				code = websocket.StatusGoingAway
			}
			_ = c.Close(code, cc.Reason)
			return
		}
		if len(evs) == 0 {
			pctx, cancel := context.WithTimeout(ctx, r.writeTimeout())
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
		for _, e := range evs {
			if !write(e.Envelope) {
				return
			}
			last = e.ID
		}
	}
}

// withHTTPRequest is the strict middleware that gives the stream handlers
// the request itself (a WebSocket upgrade needs it).
func withHTTPRequest(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	if operationID != "StreamSessionEvents" && operationID != "StreamEvents" {
		return f
	}
	return func(c echo.Context, request any) (any, error) {
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), ctxHTTPRequest, req)))
		return f(c, request)
	}
}
