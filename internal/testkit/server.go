package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/metrics"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// Server is the real wagate HTTP server on an httptest listener, backed by a
// migrated test database.
type Server struct {
	TB       testing.TB
	URL      string
	Echo     *echo.Echo
	Pool     *pgxpool.Pool
	Store    *postgres.Store
	Deps     httpapi.Deps
	AdminKey string
	// Runtime is the fake runtime, when no other runtime was configured.
	Runtime *FakeRuntime
}

// Options customise NewServer. Zero values give: a fresh database per test,
// the real services (sessions, messaging, webhooks, metrics) on that
// database with a FakeRuntime as their WhatsApp side (sessions never link:
// messaging answers MsgNotAuthenticated), the default rate limits, 1 MiB
// bodies.
type Options struct {
	// Pool is the database to use (NewDB(tb) when nil; SharedDB is an option).
	Pool *pgxpool.Pool
	// Runtime replaces the FakeRuntime as the sessions' WhatsApp side.
	Runtime gateway.SessionRuntime
	// Sessions configures the session service (e.g. CheckWebhookURL).
	Sessions sessions.Options
	// RateLimits replaces the default limits (100/30/10/5).
	RateLimits *httpapi.RateLimits
	// Deps edits the dependencies before the server is built (e.g. a real
	// Messaging or Webhooks service).
	Deps func(*httpapi.Deps)
}

// Logger returns a logger for tests: silent unless TESTKIT_LOG=1, then to
// tb.Log.
func Logger(tb testing.TB) zerolog.Logger {
	if os.Getenv("TESTKIT_LOG") != "1" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: tbWriter{tb}, NoColor: true}).With().Timestamp().Logger()
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// NewServer starts the server for tb; everything is torn down in cleanup.
func NewServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	pool := o.Pool
	if pool == nil {
		pool = NewDB(tb)
	}
	store := postgres.NewStore(pool)
	adminKey, err := gateway.NewKey(gateway.AdminKeyPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{TB: tb, Pool: pool, Store: store, AdminKey: adminKey}
	rt := o.Runtime
	if rt == nil {
		s.Runtime = &FakeRuntime{Store: store}
		rt = s.Runtime
	}
	limits := httpapi.RateLimits{General: 100, Messages: 30, Sessions: 10, QRSeconds: 5}
	if o.RateLimits != nil {
		limits = *o.RateLimits
	}
	msgs := postgres.NewMessages(pool)
	hooks, err := webhook.New(pool, store, webhook.Config{Log: Logger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	svc := sessions.New(store, store, rt, o.Sessions)
	d := httpapi.Deps{
		Logger:            Logger(tb),
		Sessions:          store,
		Keys:              store,
		Idempotency:       msgs,
		SessionService:    svc,
		KeyService:        svc,
		Messaging:         messaging.New(msgs, UnlinkedMessaging{}, messaging.Options{Log: Logger(tb), Recipients: store}),
		Webhooks:          hooks,
		Metrics:           metrics.New(),
		Ready:             store,
		AdminKeyHash:      gateway.HashKey(adminKey),
		RateLimits:        limits,
		MaxBodyBytes:      1 << 20,
		MaxImageBodyBytes: 16 << 20,
	}
	if o.Deps != nil {
		o.Deps(&d)
	}
	e, err := httpapi.New(d)
	if err != nil {
		tb.Fatalf("testkit: build server: %v", err)
	}
	ts := httptest.NewServer(e)
	tb.Cleanup(ts.Close)
	s.URL, s.Echo, s.Deps = ts.URL, e, d
	return s
}

// HTTPClient returns an http.Client whose every exchange is validated
// against the contract.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &ContractTransport{TB: s.TB}}
}

// Client returns the generated client sending key in X-API-Key ("" sends
// none), validated against the contract.
func (s *Server) Client(key string) *client.ClientWithResponses {
	s.TB.Helper()
	c, err := client.NewClientWithResponses(s.URL,
		client.WithHTTPClient(s.HTTPClient()),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			if key != "" {
				r.Header.Set("X-API-Key", key)
			}
			return nil
		}))
	if err != nil {
		s.TB.Fatal(err)
	}
	return c
}

// Admin returns the generated client with the master admin key.
func (s *Server) Admin() *client.ClientWithResponses { return s.Client(s.AdminKey) }

// CreateSession creates a session named name with the admin key and returns
// its id and session key.
func (s *Server) CreateSession(name string) (uuid.UUID, string) {
	s.TB.Helper()
	r, err := s.Admin().CreateSessionWithResponse(context.Background(), client.CreateSessionJSONRequestBody{Name: name})
	if err != nil {
		s.TB.Fatalf("create session %q: %v", name, err)
	}
	if r.JSON201 == nil {
		s.TB.Fatalf("create session %q: status %d: %s", name, r.StatusCode(), r.Body)
	}
	return r.JSON201.Session.Id, r.JSON201.ApiKey
}

// Response is a raw answer read by Do.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a raw request (validated against the contract) with key in
// X-API-Key ("" sends none) and a JSON content type when body is not nil.
func (s *Server) Do(method, path, key string, body []byte, header ...string) Response {
	s.TB.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.TB.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		s.TB.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.TB.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// ErrorJSON is the exact error body for text, for comparisons.
func ErrorJSON(text string) string {
	b, _ := json.Marshal(api.ErrorResponse{Success: false, Error: text})
	return string(b)
}

// FakeRuntime is a gateway.SessionRuntime for tests: it records calls and
// runs the XxxFunc fields when set (change them with Set) (otherwise: start/stop/logout/remove
// succeed, QR answers MsgQRNotAvailable with the stored state, PairCode
// returns "ABCD-EFGH").
type FakeRuntime struct {
	Store        gateway.SessionStore
	StartFunc    func(ctx context.Context, id uuid.UUID) error
	StopFunc     func(ctx context.Context, id uuid.UUID) error
	LogoutFunc   func(ctx context.Context, id uuid.UUID) error
	RemoveFunc   func(ctx context.Context, id uuid.UUID) error
	QRFunc       func(ctx context.Context, id uuid.UUID) (string, error)
	PairCodeFunc func(ctx context.Context, id uuid.UUID, phone string) (string, error)

	mu    sync.Mutex
	calls []string
}

var _ gateway.SessionRuntime = (*FakeRuntime)(nil)

// record notes a call and returns a snapshot of the behaviour fields.
func (f *FakeRuntime) record(name string, id uuid.UUID) FakeRuntime {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+id.String())
	return FakeRuntime{StartFunc: f.StartFunc, StopFunc: f.StopFunc, LogoutFunc: f.LogoutFunc,
		RemoveFunc: f.RemoveFunc, QRFunc: f.QRFunc, PairCodeFunc: f.PairCodeFunc}
}

// Set changes the behaviour fields under the runtime's lock (the server
// reads them from other goroutines): rt.Set(func(f *FakeRuntime) { f.QRFunc = ... }).
func (f *FakeRuntime) Set(change func(f *FakeRuntime)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// Calls returns the recorded calls as "Method <uuid>".
func (f *FakeRuntime) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Start implements gateway.SessionRuntime.
func (f *FakeRuntime) Start(ctx context.Context, id uuid.UUID) error {
	if fn := f.record("Start", id).StartFunc; fn != nil {
		return fn(ctx, id)
	}
	return nil
}

// Stop implements gateway.SessionRuntime.
func (f *FakeRuntime) Stop(ctx context.Context, id uuid.UUID) error {
	if fn := f.record("Stop", id).StopFunc; fn != nil {
		return fn(ctx, id)
	}
	return nil
}

// Logout implements gateway.SessionRuntime.
func (f *FakeRuntime) Logout(ctx context.Context, id uuid.UUID) error {
	if fn := f.record("Logout", id).LogoutFunc; fn != nil {
		return fn(ctx, id)
	}
	return nil
}

// Remove implements gateway.SessionRuntime.
func (f *FakeRuntime) Remove(ctx context.Context, id uuid.UUID) error {
	if fn := f.record("Remove", id).RemoveFunc; fn != nil {
		return fn(ctx, id)
	}
	return nil
}

// QR implements gateway.SessionRuntime.
func (f *FakeRuntime) QR(ctx context.Context, id uuid.UUID) (string, error) {
	if fn := f.record("QR", id).QRFunc; fn != nil {
		return fn(ctx, id)
	}
	s, err := f.Store.GetSession(ctx, id)
	if err != nil {
		return "", err
	}
	return "", gateway.E(gateway.CodeConflict, gateway.MsgQRNotAvailable(s.State))
}

// PairCode implements gateway.SessionRuntime.
func (f *FakeRuntime) PairCode(ctx context.Context, id uuid.UUID, phone string) (string, error) {
	if fn := f.record("PairCode", id).PairCodeFunc; fn != nil {
		return fn(ctx, id, phone)
	}
	return "ABCD-EFGH", nil
}

// UnlinkedMessaging is the gateway.MessagingRuntime of sessions that never
// link (the FakeRuntime's): chat ids resolve to themselves, every operation
// on WhatsApp answers CodeConflict MsgNotAuthenticated as the real runtime
// does for an unlinked session.
type UnlinkedMessaging struct{}

var _ gateway.MessagingRuntime = UnlinkedMessaging{}

var errUnlinked = gateway.E(gateway.CodeConflict, gateway.MsgNotAuthenticated)

// ResolveChat implements gateway.MessagingRuntime.
func (UnlinkedMessaging) ResolveChat(_ context.Context, _ uuid.UUID, jid string) (gateway.ChatRef, error) {
	return gateway.ChatRef{JID: jid}, nil
}

// OwnJID implements gateway.MessagingRuntime.
func (UnlinkedMessaging) OwnJID(context.Context, uuid.UUID) (string, error) { return "", errUnlinked }

// SendText implements gateway.MessagingRuntime.
func (UnlinkedMessaging) SendText(context.Context, uuid.UUID, gateway.OutgoingText) (gateway.SentMessage, error) {
	return gateway.SentMessage{}, errUnlinked
}

// SendMedia implements gateway.MessagingRuntime.
func (UnlinkedMessaging) SendMedia(context.Context, uuid.UUID, gateway.OutgoingMedia) (gateway.SentMessage, error) {
	return gateway.SentMessage{}, errUnlinked
}

// Revoke implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Revoke(context.Context, uuid.UUID, gateway.MessageKey) error {
	return errUnlinked
}

// Edit implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Edit(context.Context, uuid.UUID, gateway.MessageKey, string) (time.Time, error) {
	return time.Time{}, errUnlinked
}

// React implements gateway.MessagingRuntime.
func (UnlinkedMessaging) React(context.Context, uuid.UUID, gateway.MessageKey, string) (time.Time, error) {
	return time.Time{}, errUnlinked
}

// Pin implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Pin(context.Context, uuid.UUID, gateway.MessageKey, time.Duration) (time.Time, error) {
	return time.Time{}, errUnlinked
}

// Star implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Star(context.Context, uuid.UUID, gateway.MessageKey, bool) error {
	return errUnlinked
}

// Archive implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Archive(context.Context, uuid.UUID, gateway.Chat, bool) error {
	return errUnlinked
}

// MarkUnread implements gateway.MessagingRuntime.
func (UnlinkedMessaging) MarkUnread(context.Context, uuid.UUID, gateway.Chat) error {
	return errUnlinked
}

// DeleteChat implements gateway.MessagingRuntime.
func (UnlinkedMessaging) DeleteChat(context.Context, uuid.UUID, gateway.Chat) error {
	return errUnlinked
}

// Block implements gateway.MessagingRuntime.
func (UnlinkedMessaging) Block(context.Context, uuid.UUID, string, bool) error { return errUnlinked }

// ProfilePictureURL implements gateway.MessagingRuntime.
func (UnlinkedMessaging) ProfilePictureURL(context.Context, uuid.UUID, string) (*string, error) {
	return nil, errUnlinked
}

// DownloadMedia implements gateway.MessagingRuntime.
func (UnlinkedMessaging) DownloadMedia(context.Context, uuid.UUID, gateway.MediaRef) ([]byte, error) {
	return nil, errUnlinked
}
