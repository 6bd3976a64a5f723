// Command wagate is the self-hosted WhatsApp HTTP API gateway. It only wires
// the packages together: config -> pool -> migrations -> stores -> services
// (webhooks, the WhatsApp runtime, messaging, sessions) -> HTTP server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/config"
	"github.com/wagate-dev/wagate/internal/conversation"
	"github.com/wagate-dev/wagate/internal/dashboard"
	"github.com/wagate-dev/wagate/internal/docsui"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/mcp"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/metrics"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/webhook"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run parses the command line and runs a subcommand; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stdout, stderr)
	}
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "migrate" || args[0] == "help" || args[0] == "simulator") {
		cmd, args = args[0], args[1:]
	}
	args, getenv = sandboxFlag(args, getenv)
	if cmd == "help" {
		config.Usage(stdout)
		return 0
	}
	cfg, rest, err := config.Load(getenv, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wagate: configuration:", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "wagate: unexpected arguments %q (see wagate --help)\n", rest)
		return 2
	}
	log := zerolog.New(stderr).Level(cfg.Level()).With().Timestamp().Logger()
	m := &Main{Config: cfg, Logger: log, Stderr: stderr}
	defer m.Close()
	if cmd == "migrate" {
		if err := m.Migrate(ctx); err != nil {
			log.Error().Err(err).Msg("migrate failed")
			return 1
		}
		return 0
	}
	if cmd == "simulator" {
		if err := m.RunSimulator(ctx); err != nil {
			log.Error().Err(err).Msg("simulator stopped")
			return 1
		}
		return 0
	}
	if err := m.Run(ctx); err != nil {
		log.Error().Err(err).Msg("wagate stopped")
		return 1
	}
	return 0
}

// Main is the running program: tests start it in-process with Addr ":0".
type Main struct {
	Config config.Config
	Logger zerolog.Logger
	// Stderr receives the generated admin key on the very first start.
	Stderr io.Writer

	Pool  *pgxpool.Pool
	Store *postgres.Store
	Echo  *echo.Echo
	// Addr is the address actually listened on, once Start returned.
	Addr     net.Addr
	listener net.Listener

	whatsappParts
	clusterParts
	webhookParts
	eventParts
	authParts
	// stopRetention ends the periodic message retention pass.
	stopRetention context.CancelFunc
}

// open connects the pool (creating the database) and migrates: wagate's
// own migrations, River's, and the other schema owners of the process
// (schemaOwners), all under one advisory lock.
func (m *Main) open(ctx context.Context, simulator bool) error {
	if m.Pool != nil {
		return nil
	}
	pool, err := postgres.Open(ctx, m.Config.DatabaseURL, m.Logger)
	if err != nil {
		return err
	}
	m.Pool = pool
	if _, err := postgres.Migrate(ctx, pool, m.Logger, m.schemaOwners(simulator)...); err != nil {
		return err
	}
	m.Store = postgres.NewStore(pool)
	return nil
}

// Migrate applies pending migrations (wagate's, River's and whatsmeow's).
func (m *Main) Migrate(ctx context.Context) error { return m.open(ctx, false) }

// adminKeyHash returns the hash of the master admin key: WAGATE_ADMIN_KEY
// when set, otherwise the stored one, generated (and printed once) on the
// very first start.
func (m *Main) adminKeyHash(ctx context.Context) (gateway.KeyHash, error) {
	if m.Config.AdminKey != "" {
		return gateway.HashKey(m.Config.AdminKey), nil
	}
	raw, hash, err := m.Store.EnsureAdminKey(ctx)
	if err != nil {
		return hash, err
	}
	if raw != "" && m.Stderr != nil {
		fmt.Fprintf(m.Stderr, "\n  wagate generated the admin key (shown only this once; only its hash is stored):\n\n    %s\n\n  Set WAGATE_ADMIN_KEY to use your own instead.\n\n", raw)
	}
	return hash, nil
}

// Start opens the database, builds the server and starts listening; Serve
// then serves until its context ends.
//
// Wiring order: every service is built first, the HTTP server last, and
// nothing is changed after construction. The one dependency loop of the
// domain (the WhatsApp runtime stores inbound messages through messaging,
// and messaging sends through the runtime) is cut at the inbound port:
// messaging.Sink needs only the message store, so it is built first, the
// runtime (booted with it) next, and the messaging Service, which needs
// the runtime, after that.
func (m *Main) Start(ctx context.Context) error {
	if err := m.open(ctx, false); err != nil {
		return err
	}
	hash, err := m.adminKeyHash(ctx)
	if err != nil {
		return err
	}
	c := m.Config
	mx := metrics.New()
	mx.SetSessionCounter(m.Store)
	if err := m.startPprof(ctx); err != nil {
		return err
	}
	if err := m.startCluster(ctx); err != nil {
		return err
	}
	keys, sessionStore, status := m.startAuthCache(ctx)
	m.observePool(mx)
	// A session's webhookUrl passes the same guard as every other webhook.
	guard := webhook.Guard{AllowPrivate: c.WebhookAllowPrivate}
	if err := m.startWebhooks(ctx, guard, mx.WebhookDelivery); err != nil {
		return err
	}
	if err := m.startEvents(ctx); err != nil {
		return err
	}
	msgStore := postgres.NewMessages(m.Pool)
	msgOpts := m.messagingOptions(mx)
	mx.InitReconnectReasons(whatsapp.ReconnectReasons)
	// The runtime's session-state writes are fenced by lease epoch.
	sb, err := m.startWhatsApp(ctx, messaging.NewSink(msgStore, msgOpts), m.Node.FenceStatus(status), mx.Reconnect)
	if err != nil {
		return err
	}
	msgOpts.Groups = m.WA // admins delete others' group messages
	msgs := messaging.New(msgStore, m.WA, msgOpts)
	m.runRetention(msgs)
	sess := sessions.New(sessionStore, keys, m.WA, sessions.Options{CheckWebhookURL: guard.CheckURL})
	// A running session reconnects through a changed proxy.
	settings := sessions.NewSettings(postgres.NewSessionSettings(m.Pool), m.WA.Reconnect)
	groups := messaging.NewGroups(m.WA)
	d := httpapi.Deps{
		Metrics:     mx,
		Middlewares: []echo.MiddlewareFunc{mx.Middleware()},
		Routes: func(e *echo.Echo) {
			docsui.Register(e)
			dashboard.Register(e)
			mcp.Register(e, mcp.New(mcp.Deps{Sessions: sess, Messaging: msgs, Groups: groups, Store: sessionStore,
				Authenticate: httpapi.Authenticator(keys, hash), Version: "1"}))
		},
		Logger:          m.Logger,
		Sessions:        sessionStore,
		Keys:            keys,
		Idempotency:     msgStore,
		SessionService:  sess,
		KeyService:      sess,
		Messaging:       msgs,
		Groups:          groups,
		Conversation:    conversation.New(m.WA, msgStore),
		SessionSettings: settings,
		Webhooks:        m.Webhooks,
		Events:          m.Events,
		Sandbox:         sb,
		Cluster:         m.Node,
		Owners:          m.Node,
		ClusterSecret:   c.ClusterSecret,
		Ready:           m.Store,
		ClassifyError:   postgres.ClassifyError,
		AdminKeyHash:    hash,
		RateLimits: httpapi.RateLimits{
			General: c.RateLimits.General, Messages: c.RateLimits.Messages,
			Sessions: c.RateLimits.Sessions, QRSeconds: c.RateLimits.QRSeconds,
		},
		MaxBodyBytes:      c.MaxBodyBytes,
		MaxImageBodyBytes: c.MaxImageBodyBytes,
	}
	if c.ClusterSecret != "" {
		// A cluster: the general and session-creation limits hold across
		// all nodes, drawn in chunks from the database (docs/cluster.md).
		d.RateLedger = postgres.NewRateLedger(m.Pool, c.LeaseTTL)
	}
	if m.Echo, err = httpapi.New(d); err != nil {
		return err
	}
	if m.listener, err = net.Listen("tcp", c.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	m.Addr = m.listener.Addr()
	m.Logger.Info().Str("addr", m.Addr.String()).Msg("serving")
	return nil
}

// Serve serves until ctx ends, then shuts down gracefully.
func (m *Main) Serve(ctx context.Context) error {
	return httpapi.Serve(ctx, m.Echo, m.listener, m.Config.ShutdownTimeout)
}

// Run is Start then Serve.
func (m *Main) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		return err
	}
	return m.Serve(ctx)
}

// Close disconnects the sessions and releases the pool.
func (m *Main) Close() {
	if m.stopRetention != nil {
		m.stopRetention()
		m.stopRetention = nil
	}
	if m.Node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		if err := m.Node.Drain(ctx); err != nil {
			m.Logger.Warn().Err(err).Msg("could not mark the node draining")
		}
		cancel()
	}
	m.closeWhatsApp()
	m.closeCluster()
	m.stopWebhooks()
	m.closeEvents()
	m.closeAuthCache()
	if m.Pool != nil {
		m.Pool.Close()
		m.Pool = nil
	}
}
