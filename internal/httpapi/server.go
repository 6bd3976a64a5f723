// Package httpapi is wagate's HTTP adapter: the Echo server built from the
// strict handler generated from openapi.yaml, with request ids, panic
// recovery, body limits, access logs, authentication, rate limits, request
// validation against the spec, and the one error writer. Handlers live in
// one file per tag and depend on internal/gateway's ports only.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Deps are everything the HTTP layer needs. Stores and the runtime are
// interfaces from internal/gateway so that other adapters plug in.
type Deps struct {
	Logger   zerolog.Logger
	Sessions gateway.SessionStore
	Keys     gateway.KeyStore
	Runtime  gateway.SessionRuntime
	Ready    gateway.ReadinessChecker
	// Messaging serves the messaging, chats and contacts tags (501 when nil).
	Messaging gateway.MessagingService
	// AdminKeyHash is the SHA-256 of the master admin key.
	AdminKeyHash gateway.KeyHash
	// RateLimits are the default limits (0 turns one off).
	RateLimits RateLimits
	// MaxBodyBytes caps request bodies; MaxImageBodyBytes the body of
	// POST /sessions/{id}/send/image.
	MaxBodyBytes      int64
	MaxImageBodyBytes int64
	// Metrics, when set, serves GET /metrics (501 otherwise).
	Metrics MetricsSource
	// Middlewares run outermost, before wagate's own (e.g. metrics).
	Middlewares []echo.MiddlewareFunc
	// Routes registers extra routes outside the API contract (e.g. /docs).
	Routes func(e *echo.Echo)
	// Now is the clock of the rate limiters (time.Now when nil).
	Now func() time.Time
}

// MetricsSource renders metrics in the Prometheus text format.
type MetricsSource interface {
	Text() (string, error)
}

// Server implements api.StrictServerInterface by embedding one handler per
// tag. Replace one of them (e.g. Messaging) to plug in a real service.
type Server struct {
	*Sessions
	*Messaging
	*Chats
	*Contacts
	*Webhooks
	*Admin
	*Sandbox
	*Operations
}

var _ api.StrictServerInterface = (*Server)(nil)

// NewServer builds the strict server from deps.
func NewServer(d Deps) *Server {
	return &Server{
		Sessions:   &Sessions{Store: d.Sessions, Runtime: d.Runtime},
		Messaging:  &Messaging{Service: d.Messaging},
		Chats:      &Chats{Service: d.Messaging},
		Contacts:   &Contacts{Service: d.Messaging},
		Webhooks:   &Webhooks{},
		Admin:      &Admin{Keys: d.Keys, Defaults: d.RateLimits},
		Sandbox:    &Sandbox{},
		Operations: &Operations{Ready: d.Ready, Metrics: d.Metrics},
	}
}

// New builds the Echo instance serving srv (NewServer(d) when nil) with every
// middleware of the contract.
func New(d Deps, srv api.StrictServerInterface) (*echo.Echo, error) {
	if d.Sessions == nil || d.Keys == nil || d.Runtime == nil || d.Ready == nil {
		return nil, errors.New("httpapi: Sessions, Keys, Runtime and Ready are required")
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.MaxImageBodyBytes < d.MaxBodyBytes {
		d.MaxImageBodyBytes = d.MaxBodyBytes
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if srv == nil {
		srv = NewServer(d)
	}
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	ct, err := newContract(spec, d.Keys, d.Sessions, d.AdminKeyHash, newRateLimiter(d.RateLimits, d.Now))
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	e.Use(d.Middlewares...)
	e.Use(requestID(d.Logger), accessLog(), recoverPanic(), bodyLimit(d.MaxBodyBytes, d.MaxImageBodyBytes))
	if d.Routes != nil {
		d.Routes(e)
	}
	g := e.Group("", ct.middleware)
	api.RegisterHandlers(g, api.NewStrictHandler(srv, nil))
	// Unknown routes still pass through the group's middleware chain only
	// when registered on it; Echo's own 404/405 go to the error writer.
	return e, nil
}

// Serve runs e on ln until ctx is done, then shuts down gracefully within
// timeout.
func Serve(ctx context.Context, e *echo.Echo, ln net.Listener, timeout time.Duration) error {
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
