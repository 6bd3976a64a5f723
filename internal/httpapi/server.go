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
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Deps are everything the HTTP layer needs: the domain services behind the
// tags and the stores the middleware authenticates with, all as ports from
// internal/gateway. Every one is required except Sandbox, Cluster, Middlewares,
// Routes and Now; New refuses to build a server without them.
type Deps struct {
	Logger zerolog.Logger
	// Sessions and Keys are read by the authentication middleware (the
	// presented key, the session a request acts on).
	Sessions gateway.SessionStore
	Keys     gateway.KeyStore
	// Idempotency keeps Idempotency-Key answers (the idempotency
	// middleware).
	Idempotency gateway.IdempotencyStore
	// SessionService serves the sessions tag, KeyService the admin tag.
	SessionService gateway.SessionService
	KeyService     gateway.KeyService
	// Messaging serves the messaging, chats and contacts tags.
	Messaging gateway.MessagingService
	// Groups serves the groups tag.
	Groups gateway.GroupService
	// Webhooks serves the webhooks tag.
	Webhooks gateway.WebhookService
	// Events serves the events tag (the event stream); nil answers 503.
	Events gateway.EventStream
	// StreamHeartbeat is the idle time after which a stream sends a
	// heartbeat (DefaultStreamHeartbeat when 0); StreamWriteTimeout bounds
	// one write to a stream client (DefaultStreamWriteTimeout when 0).
	StreamHeartbeat    time.Duration
	StreamWriteTimeout time.Duration
	// Conversation serves the presence and calls tags and the contact
	// directory; optional (nil answers 503).
	Conversation gateway.ConversationService
	// SessionSettings serves PATCH /sessions/{id}; optional (nil answers 503).
	SessionSettings gateway.SessionSettingsService
	// Sandbox serves the sandbox tag in sandbox mode; nil outside it (the
	// sandbox operations then answer 404 like an unknown route).
	Sandbox gateway.Sandbox
	// Cluster serves the cluster tag; nil answers 404 there.
	Cluster gateway.ClusterService
	// Owners resolves the node that runs a session's client: the node
	// field of session answers and, with ClusterSecret, the forwarding of
	// live operations to it (forward.go). Optional.
	Owners gateway.OwnerResolver
	// ClusterSecret (WAGATE_CLUSTER_SECRET) signs requests forwarded
	// between nodes; empty turns forwarding off (one node).
	ClusterSecret string
	Ready         gateway.ReadinessChecker
	// ClassifyError, when set, turns an error that would answer 500 into
	// the error to answer instead, or returns nil to keep it: cmd/wagate
	// passes postgres.ClassifyError, so a database outage answers 503
	// "Database temporarily unavailable. Please retry." with Retry-After
	// whatever store method failed.
	ClassifyError func(error) error
	// Metrics serves GET /metrics.
	Metrics MetricsSource
	// AdminKeyHash is the SHA-256 of the master admin key.
	AdminKeyHash gateway.KeyHash
	// RateLimits are the default limits (0 turns one off).
	RateLimits RateLimits
	// RateLedger, when set, makes the general and the session-creation
	// limits hold across all nodes (ratelimit_shared.go); nil counts them
	// on this node alone, exactly (one node).
	RateLedger gateway.RateLedger
	// MaxBodyBytes caps request bodies of operations with
	// x-wagate-body-limit: default (and stray bodies of the others). The
	// media classes are capped from their kind's file limit
	// (Messaging.MaxSendBytes, policy.go); MaxImageBodyBytes, when
	// positive, overrides the cap of x-wagate-body-limit: media.
	MaxBodyBytes      int64
	MaxImageBodyBytes int64
	// Middlewares run outermost, before wagate's own (e.g. metrics).
	Middlewares []echo.MiddlewareFunc
	// Routes registers extra routes outside the API contract (e.g. /docs).
	Routes func(e *echo.Echo)
	// Now is the clock of the rate limiters (time.Now when nil).
	Now func() time.Time
}

// missing names the required dependencies that are nil.
func (d Deps) missing() []string {
	var out []string
	for name, nilDep := range map[string]bool{
		"Sessions": d.Sessions == nil, "Keys": d.Keys == nil, "Idempotency": d.Idempotency == nil,
		"SessionService": d.SessionService == nil, "KeyService": d.KeyService == nil,
		"Messaging": d.Messaging == nil, "Groups": d.Groups == nil, "Webhooks": d.Webhooks == nil, "Ready": d.Ready == nil, "Metrics": d.Metrics == nil,
	} {
		if nilDep {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// MetricsSource renders metrics in the Prometheus text format.
type MetricsSource interface {
	Text() (string, error)
}

// Server implements api.StrictServerInterface by embedding one handler per
// tag, each on its domain service.
type Server struct {
	*Sessions
	*Messaging
	*Chats
	*Contacts
	*Groups
	*Webhooks
	*Events
	*Admin
	*Sandbox
	*Cluster
	*Operations
	*Conversation
	*SessionSettings
	*SandboxCalls
	*SandboxConversation
}

var _ api.StrictServerInterface = (*Server)(nil)

// NewServer builds the strict server from d's services.
func NewServer(d Deps) *Server {
	return &Server{
		Sessions:            &Sessions{Service: d.SessionService, Owners: d.Owners},
		Messaging:           &Messaging{Service: d.Messaging},
		Chats:               &Chats{Service: d.Messaging},
		Contacts:            &Contacts{Service: d.Messaging},
		Groups:              &Groups{Service: d.Groups},
		Webhooks:            &Webhooks{Service: d.Webhooks},
		Events:              &Events{Stream: d.Events, Heartbeat: d.StreamHeartbeat, WriteTimeout: d.StreamWriteTimeout},
		Admin:               &Admin{Service: d.KeyService, Defaults: d.RateLimits},
		Sandbox:             &Sandbox{Service: d.Sandbox},
		Operations:          &Operations{Ready: d.Ready, Metrics: d.Metrics},
		Conversation:        &Conversation{Service: d.Conversation},
		SessionSettings:     &SessionSettings{Service: d.SessionSettings},
		SandboxCalls:        &SandboxCalls{Service: d.Sandbox},
		SandboxConversation: &SandboxConversation{Service: d.Sandbox},
		Cluster:             &Cluster{Service: d.Cluster},
	}
}

// New builds the Echo instance serving NewServer(d) with every middleware
// of the contract: request id, access log, panic recovery, then per
// operation of openapi.yaml (contract.go) routing, the body cap of its
// policy, authentication, rate limits of its policy, validation, and the
// idempotency middleware (idempotency.go).
func New(d Deps) (*echo.Echo, error) {
	if m := d.missing(); len(m) > 0 {
		return nil, fmt.Errorf("httpapi: missing dependencies %s", strings.Join(m, ", "))
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.MaxImageBodyBytes > 0 && d.MaxImageBodyBytes < d.MaxBodyBytes {
		d.MaxImageBodyBytes = d.MaxBodyBytes
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	ct, err := newContract(spec, d.Keys, d.Sessions, d.AdminKeyHash, newRateLimiter(d.RateLimits, d.Now, d.RateLedger, &d.Logger),
		bodyCaps(d.MaxBodyBytes, d.MaxImageBodyBytes, d.Messaging.MaxSendBytes), newForwarder(d.Owners, d.ClusterSecret, d.Now))
	if err != nil {
		return nil, err
	}
	idem := &idempotency{store: d.Idempotency}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(d.Logger, d.ClassifyError)
	e.Use(d.Middlewares...)
	e.Use(requestID(d.Logger), accessLog(), recoverPanic())
	if d.Routes != nil {
		d.Routes(e)
	}
	g := e.Group("", ct.middleware, idem.middleware)
	api.RegisterHandlers(g, api.NewStrictHandler(NewServer(d), []api.StrictMiddlewareFunc{withHTTPRequest}))
	// Unknown routes still pass through the group's middleware chain only
	// when registered on it; Echo's own 404/405 go to the error writer.
	return e, nil
}

// Serve runs e on ln until ctx is done, then shuts down gracefully within
// timeout.
func Serve(ctx context.Context, e *echo.Echo, ln net.Listener, timeout time.Duration) error {
	// No WriteTimeout: it would cut every event stream (streams bound each
	// write themselves, Deps.StreamWriteTimeout).
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
