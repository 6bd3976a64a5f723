package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Idempotency timing. A request holding a key that is still running is
// waited for up to idemWait; after that the duplicate gets 409. A claim
// whose holder has not finished within idemStale is considered abandoned
// (the process died) and may be taken over.
const (
	idemWait  = 10 * time.Second
	idemPoll  = 50 * time.Millisecond
	idemStale = 2 * time.Minute
)

// idempotencyHeader is the request header carrying the client's key.
const idempotencyHeader = "Idempotency-Key"

// idempotency is the middleware of every operation whose policy says
// x-wagate-idempotent: with an Idempotency-Key, the first successful answer
// (status, content type and body, byte for byte) is stored for the session
// and replayed for the same key within gateway.IdempotencyTTL without
// running the handler again. The same key for a different request is
// refused (409 MsgIdempotencyReused); a duplicate that arrives while the
// first is still running waits for its answer up to idemWait, then gets
// 409 MsgIdempotencyBusy. A failed request (an error or a status >= 300)
// stores nothing, so a retry acts again. Without a key the handler just
// runs.
type idempotency struct {
	store gateway.IdempotencyStore
}

// storedAnswer is what the store keeps for a completed key. The body is a
// string so that the jsonb column keeps its bytes as they were sent.
type storedAnswer struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body"`
}

func (m *idempotency) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		r := routedFrom(req.Context())
		key := req.Header.Get(idempotencyHeader)
		if r == nil || !r.policy.idempotent || key == "" {
			return next(c)
		}
		s, ok := sessionFrom(req.Context())
		if !ok { // the policy check makes this unreachable
			return gateway.E(gateway.CodeInternal, gateway.MsgInternal)
		}
		fp, err := fingerprint(r, req)
		if err != nil {
			return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
		}
		return m.serve(c, s.ID, key, fp, next)
	}
}

func (m *idempotency) serve(c echo.Context, sid uuid.UUID, key, fp string, next echo.HandlerFunc) error {
	ctx := c.Request().Context()
	deadline := time.Now().Add(idemWait)
	for {
		state, stored, err := m.store.Claim(ctx, sid, key, fp, idemStale)
		if err != nil {
			return err
		}
		switch state {
		case gateway.IdemDone:
			return replay(c, stored)
		case gateway.IdemMismatch:
			return gateway.E(gateway.CodeConflict, gateway.MsgIdempotencyReused)
		case gateway.IdemClaimed:
			return m.run(c, sid, key, next)
		case gateway.IdemPending:
			if time.Now().After(deadline) {
				return gateway.E(gateway.CodeConflict, gateway.MsgIdempotencyBusy)
			}
			t := time.NewTimer(idemPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		default:
			return gateway.Errorf(gateway.CodeInternal, "unknown idempotency state %d", state)
		}
	}
}

// run runs the handler for a claimed key, recording its answer, then
// completes the key with it or releases the key.
func (m *idempotency) run(c echo.Context, sid uuid.UUID, key string, next echo.HandlerFunc) (err error) {
	res := c.Response()
	rec := &recorder{ResponseWriter: res.Writer}
	res.Writer = rec
	// The claim must be settled even if the client went away.
	ctx := context.WithoutCancel(c.Request().Context())
	log := zerolog.Ctx(ctx)
	release := func() {
		if rerr := m.store.Release(ctx, sid, key); rerr != nil {
			log.Error().Err(rerr).Msg("could not release idempotency key")
		}
	}
	panicked := true
	defer func() {
		res.Writer = rec.ResponseWriter
		if panicked { // recoverPanic answers; a retry may act again
			release()
		}
	}()
	err = next(c)
	panicked = false
	if err != nil || res.Status >= 300 || !res.Committed {
		release()
		return err
	}
	b, merr := json.Marshal(storedAnswer{Status: res.Status, ContentType: res.Header().Get(echo.HeaderContentType), Body: rec.body.String()})
	if merr == nil {
		merr = m.store.Complete(ctx, sid, key, b)
	}
	if merr != nil {
		log.Error().Err(merr).Msg("could not store idempotent result")
	}
	return nil
}

// replay writes a stored answer again.
func replay(c echo.Context, stored []byte) error {
	var a storedAnswer
	if err := json.Unmarshal(stored, &a); err != nil || a.Status == 0 {
		return gateway.Errorf(gateway.CodeInternal, "stored idempotent answer is unreadable: %v", err)
	}
	ct := a.ContentType
	if ct == "" {
		ct = echo.MIMEApplicationJSON
	}
	return c.Blob(a.Status, ct, []byte(a.Body))
}

// recorder copies what the handler writes.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// fingerprint identifies a request for its Idempotency-Key, the same rule
// for every idempotent operation: the operation, its path parameters, its
// query (without api_key) and the validated body re-encoded as JSON (object
// keys sorted, defaults applied), so that the same request written
// differently is recognised and a different one (another chat, text or
// image) is told apart; of a multipart/form-data upload, its length. Only
// its SHA-256 is stored.
func fingerprint(r *routed, req *http.Request) (string, error) {
	h := sha256.New()
	h.Write([]byte(r.op.OperationID))
	names := make([]string, 0, len(r.params))
	for k := range r.params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.Write([]byte{0})
		h.Write([]byte(k + "=" + r.params[k]))
	}
	q := req.URL.Query()
	q.Del("api_key")
	h.Write([]byte{0})
	h.Write([]byte(q.Encode()))
	h.Write([]byte{0})
	if vb, ok := req.Body.(interface{ ValidatedValue() any }); ok {
		b, err := json.Marshal(vb.ValidatedValue())
		if err != nil {
			return "", err
		}
		h.Write(b)
	} else if _, ok := req.Body.(*cappedBody); ok {
		// A multipart body is streamed to the handler, not read here: its
		// length stands for it (a retry of the same upload has the same
		// length; its boundary may differ).
		fmt.Fprintf(h, "multipart:%d", req.ContentLength)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
