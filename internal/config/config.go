// Package config turns environment variables (and a few flags) into wagate's
// typed Config, with documented defaults and validation. Nothing reads the
// environment anywhere else.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
)

// Defaults.
const (
	DefaultAddr             = ":3000"
	DefaultDatabaseURL      = "postgres://postgres@127.0.0.1:5432/wagate?sslmode=disable"
	DefaultLogLevel         = "info"
	DefaultRateGeneral      = 100
	DefaultRateMessages     = 30
	DefaultRateSessions     = 10
	DefaultRateQRSeconds    = 5
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxImageBodySize = 0 // derived from the image limit (httpapi: base64 of the file + 64 KiB)
	DefaultMaxImageBytes    = 16 << 20
	DefaultMaxVideoBytes    = 64 << 20
	DefaultMaxAudioBytes    = 16 << 20
	DefaultMaxDocumentBytes = 64 << 20
	DefaultMaxStickerBytes  = 1 << 20
	DefaultMaxMediaBytes    = 64 << 20
	DefaultShutdownTimeout  = 15 * time.Second
	DefaultWebhookTimeout   = 10 * time.Second
	DefaultWebhookRescue    = time.Minute
	DefaultEventRetention   = 30 * 24 * time.Hour
	DefaultAuthCacheTTL     = 30 * time.Second
	DefaultAuthMissLookups  = 100
	DefaultAuthNegativeSize = 10000
	DefaultLeaseTTL         = 15 * time.Second
)

// Config is wagate's whole configuration.
type Config struct {
	// Addr is the HTTP listen address. WAGATE_ADDR, flag -addr. Defaults to ":3000".
	Addr string
	// DatabaseURL is the PostgreSQL connection URL; the database is created
	// when missing. DATABASE_URL, flag -database-url. Defaults to
	// DefaultDatabaseURL.
	DatabaseURL string
	// AdminKey is the master admin key (must start with "wamk_"). When empty,
	// one is generated on the very first start, printed once, and only its
	// hash is stored. WAGATE_ADMIN_KEY. Defaults to empty.
	AdminKey string
	// LogLevel is the zerolog level (trace, debug, info, warn, error).
	// WAGATE_LOG_LEVEL, flag -log-level. Defaults to "info".
	LogLevel string
	// RateLimits are the default per-node limits; 0 turns one off.
	RateLimits RateLimits
	// MaxBodyBytes caps request bodies. WAGATE_MAX_BODY_BYTES. Defaults to 1 MiB.
	MaxBodyBytes int64
	// MaxImageBodyBytes, when positive, overrides the body cap of the
	// operations with x-wagate-body-limit: media (send/image, the group
	// picture). WAGATE_MAX_IMAGE_BODY_BYTES. Defaults to 0: every media
	// body cap is derived from its kind's file limit (docs/configuration.md).
	MaxImageBodyBytes int64
	// MaxImageBytes, MaxVideoBytes, MaxAudioBytes, MaxDocumentBytes and
	// MaxStickerBytes are the largest files of the media sends per kind
	// (413 above). WAGATE_MAX_{IMAGE,VIDEO,AUDIO,DOCUMENT,STICKER}_BYTES.
	// Default 16, 64, 16, 64 MiB and 1 MiB.
	MaxImageBytes, MaxVideoBytes, MaxAudioBytes, MaxDocumentBytes, MaxStickerBytes int64
	// MaxMediaBytes is the largest media file GET
	// /sessions/{id}/chats/{chatId}/messages/{messageId}/media downloads
	// (413 above; the file is held in memory while it is served).
	// WAGATE_MAX_MEDIA_BYTES. Defaults to 64 MiB.
	MaxMediaBytes int64
	// Sandbox turns on the simulated WhatsApp (sandbox endpoints).
	// WAGATE_SANDBOX. Defaults to false.
	Sandbox bool
	// SandboxURL is the address of a shared simulator process; empty runs it
	// in-process. WAGATE_SANDBOX_URL. Defaults to empty.
	SandboxURL string
	// WebhookAllowPrivate allows webhook URLs that resolve to private,
	// loopback or link-local addresses. WAGATE_WEBHOOK_ALLOW_PRIVATE.
	// Defaults to false.
	WebhookAllowPrivate bool
	// WebhookTimeout bounds one webhook delivery request (connection
	// included). WAGATE_WEBHOOK_TIMEOUT. Defaults to 10s.
	WebhookTimeout time.Duration
	// WebhookRescueAfter is how long a delivery may stay running (its node
	// was killed) before another node runs it again; at least
	// WebhookTimeout + 10s. WAGATE_WEBHOOK_RESCUE_AFTER. Defaults to 1m.
	WebhookRescueAfter time.Duration
	// EventRetention is the age after which events, with their webhook
	// deliveries and attempts, are removed (hourly); deliveries still
	// pending or retrying keep their event. 0 keeps them forever.
	// WAGATE_EVENT_RETENTION, e.g. "30d". Defaults to 30 days.
	EventRetention time.Duration
	// WSCompression enables WebSocket compression towards WhatsApp.
	// WAGATE_WS_COMPRESSION. Defaults to false.
	WSCompression bool
	// MessageRetention is the maximum age of stored messages (older ones
	// are removed hourly and never stored); 0 keeps them forever.
	// WAGATE_MESSAGE_RETENTION, e.g. "90d" or "720h". Defaults to 0.
	MessageRetention time.Duration
	// HistorySyncDays is how many days of history sync are stored; 0 stores
	// all the phone sends. WAGATE_HISTORY_SYNC_DAYS. Defaults to 0.
	HistorySyncDays int
	// ImageAllowPrivate lets image sends fetch URLs on private, loopback or
	// link-local addresses. WAGATE_IMAGE_ALLOW_PRIVATE. Defaults to false.
	ImageAllowPrivate bool
	// ShutdownTimeout bounds graceful shutdown. WAGATE_SHUTDOWN_TIMEOUT.
	// Defaults to 15s.
	ShutdownTimeout time.Duration
	// AuthCacheTTL is how long an API key or session is answered from
	// memory before it is read again; changes on any node reach the cache
	// at once through LISTEN/NOTIFY, so this is only the safety net. 0
	// turns the cache off (two queries per authenticated request).
	// WAGATE_AUTH_CACHE_TTL. Defaults to 30s.
	AuthCacheTTL time.Duration
	// AuthMissLookups bounds the database lookups per second of API keys
	// that are neither cached nor remembered as unknown (beyond it such a
	// request gets 429). WAGATE_AUTH_MISS_LOOKUPS. Defaults to 100.
	AuthMissLookups int
	// PprofAddr, when set, serves net/http/pprof on this address (keep it
	// on loopback). WAGATE_PPROF_ADDR. Defaults to empty (off).
	PprofAddr string
	// AuthNegativeSize is how many unknown API keys (hashes) each node
	// remembers. WAGATE_AUTH_NEGATIVE_CACHE_SIZE. Defaults to 10000.
	AuthNegativeSize int

	// NodeID names this process in the cluster (the nodes table, the owner
	// of session leases). Two live processes must not share one: a process
	// whose id has a live heartbeat waits for it to expire, then refuses
	// to start. WAGATE_NODE_ID. Defaults to empty: the host name.
	NodeID string
	// NodeURL is the base URL at which the other nodes reach this one
	// (forwarded requests). WAGATE_NODE_URL. Defaults to empty:
	// http://<host name>:<port of WAGATE_ADDR>.
	NodeURL string
	// NodeCapacity weighs this node in the placement of sessions (a node
	// of capacity 2 gets twice the sessions of one of capacity 1).
	// WAGATE_NODE_CAPACITY. Defaults to 1.
	NodeCapacity int
	// ClusterSecret authenticates requests forwarded between nodes.
	// WAGATE_CLUSTER_SECRET. Defaults to empty.
	ClusterSecret string
	// LeaseTTL is how long a node's heartbeat and session leases stay
	// valid without renewal; they are renewed every third of it, and a
	// node that cannot renew stops its clients before it ends.
	// WAGATE_LEASE_TTL. Defaults to 15s.
	LeaseTTL time.Duration
}

// RateLimits are the server-wide default limits. Managed API keys may carry
// their own General, Messages and Sessions values, which override these.
type RateLimits struct {
	// General is requests per minute per key. WAGATE_RATE_LIMIT_GENERAL. Defaults to 100.
	General int
	// Messages is sends per minute per session. WAGATE_RATE_LIMIT_MESSAGES. Defaults to 30.
	Messages int
	// Sessions is session creations per hour per key. WAGATE_RATE_LIMIT_SESSIONS. Defaults to 10.
	Sessions int
	// QRSeconds is the minimum interval between QR requests per session.
	// WAGATE_RATE_LIMIT_QR_SECONDS. Defaults to 5.
	QRSeconds int
}

// Default returns the configuration with every default applied.
func Default() Config {
	return Config{
		Addr:        DefaultAddr,
		DatabaseURL: DefaultDatabaseURL,
		LogLevel:    DefaultLogLevel,
		RateLimits: RateLimits{
			General:   DefaultRateGeneral,
			Messages:  DefaultRateMessages,
			Sessions:  DefaultRateSessions,
			QRSeconds: DefaultRateQRSeconds,
		},
		MaxBodyBytes:      DefaultMaxBodyBytes,
		MaxImageBodyBytes: DefaultMaxImageBodySize,
		MaxImageBytes:     DefaultMaxImageBytes,
		MaxVideoBytes:     DefaultMaxVideoBytes,
		MaxAudioBytes:     DefaultMaxAudioBytes,
		MaxDocumentBytes:  DefaultMaxDocumentBytes,
		MaxStickerBytes:   DefaultMaxStickerBytes,
		MaxMediaBytes:     DefaultMaxMediaBytes,
		ShutdownTimeout:   DefaultShutdownTimeout,
		AuthCacheTTL:      DefaultAuthCacheTTL,
		AuthMissLookups:   DefaultAuthMissLookups,
		AuthNegativeSize:  DefaultAuthNegativeSize,
		NodeCapacity:      1,
		LeaseTTL:          DefaultLeaseTTL,

		WebhookTimeout:     DefaultWebhookTimeout,
		WebhookRescueAfter: DefaultWebhookRescue,
		EventRetention:     DefaultEventRetention,
	}
}

func durationVar(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a duration (e.g. 10s, 1m)")
		}
		*dst(c) = d
		return nil
	}
}

// variable describes one environment variable for parsing and for --help.
type variable struct {
	name, def, help string
	set             func(c *Config, v string) error
}

func intVar(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not an integer")
		}
		*dst(c) = n
		return nil
	}
}

func int64Var(dst func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		*dst(c) = n
		return nil
	}
}

func boolVar(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a boolean (true/false/1/0)")
		}
		*dst(c) = b
		return nil
	}
}

func stringVar(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

var variables = []variable{
	{"WAGATE_ADDR", DefaultAddr, "HTTP listen address (flag -addr)", stringVar(func(c *Config) *string { return &c.Addr })},
	{"DATABASE_URL", DefaultDatabaseURL, "PostgreSQL URL; the database is created if missing (flag -database-url)", stringVar(func(c *Config) *string { return &c.DatabaseURL })},
	{"WAGATE_ADMIN_KEY", "", "master admin key (wamk_...); if unset, one is generated on first start, printed once, and only its hash stored", stringVar(func(c *Config) *string { return &c.AdminKey })},
	{"WAGATE_LOG_LEVEL", DefaultLogLevel, "log level: trace, debug, info, warn, error (flag -log-level)", stringVar(func(c *Config) *string { return &c.LogLevel })},
	{"WAGATE_RATE_LIMIT_GENERAL", "100", "requests per minute per key; 0 = off", intVar(func(c *Config) *int { return &c.RateLimits.General })},
	{"WAGATE_RATE_LIMIT_MESSAGES", "30", "sends per minute per session; 0 = off", intVar(func(c *Config) *int { return &c.RateLimits.Messages })},
	{"WAGATE_RATE_LIMIT_SESSIONS", "10", "session creations per hour per key; 0 = off", intVar(func(c *Config) *int { return &c.RateLimits.Sessions })},
	{"WAGATE_RATE_LIMIT_QR_SECONDS", "5", "minimum seconds between QR requests per session; 0 = off", intVar(func(c *Config) *int { return &c.RateLimits.QRSeconds })},
	{"WAGATE_MAX_BODY_BYTES", "1048576", "maximum request body size in bytes (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxBodyBytes })},
	{"WAGATE_MAX_IMAGE_BODY_BYTES", "0", "body cap of POST /sessions/{id}/send/image and the group picture; 0 = derived from WAGATE_MAX_IMAGE_BYTES", int64Var(func(c *Config) *int64 { return &c.MaxImageBodyBytes })},
	{"WAGATE_MAX_IMAGE_BYTES", "16777216", "largest image file of POST /sessions/{id}/send/image (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxImageBytes })},
	{"WAGATE_MAX_VIDEO_BYTES", "67108864", "largest video file of POST /sessions/{id}/send/video (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxVideoBytes })},
	{"WAGATE_MAX_AUDIO_BYTES", "16777216", "largest audio file of POST /sessions/{id}/send/audio (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxAudioBytes })},
	{"WAGATE_MAX_DOCUMENT_BYTES", "67108864", "largest document of POST /sessions/{id}/send/document (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxDocumentBytes })},
	{"WAGATE_MAX_STICKER_BYTES", "1048576", "largest sticker of POST /sessions/{id}/send/sticker (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxStickerBytes })},
	{"WAGATE_MAX_MEDIA_BYTES", "67108864", "largest media file GET .../messages/{messageId}/media downloads (413 above)", int64Var(func(c *Config) *int64 { return &c.MaxMediaBytes })},
	{"WAGATE_SANDBOX", "false", "enable the simulated WhatsApp and the /sandbox endpoints", boolVar(func(c *Config) *bool { return &c.Sandbox })},
	{"WAGATE_SANDBOX_URL", "", "address of a shared simulator process (empty: in-process)", stringVar(func(c *Config) *string { return &c.SandboxURL })},
	{"WAGATE_WEBHOOK_ALLOW_PRIVATE", "false", "allow webhook URLs on private/loopback addresses", boolVar(func(c *Config) *bool { return &c.WebhookAllowPrivate })},
	{"WAGATE_WEBHOOK_TIMEOUT", "10s", "timeout of one webhook delivery request", durationVar(func(c *Config) *time.Duration { return &c.WebhookTimeout })},
	{"WAGATE_WEBHOOK_RESCUE_AFTER", "1m", "how long a delivery may stay running (its node died) before it is run again; at least WAGATE_WEBHOOK_TIMEOUT + 10s", durationVar(func(c *Config) *time.Duration { return &c.WebhookRescueAfter })},
	{"WAGATE_EVENT_RETENTION", "30d", "age after which events and their webhook deliveries and attempts are removed, e.g. 30d or 720h; 0 = keep forever", func(c *Config, v string) error {
		d, err := parseDays(v)
		if err != nil || d < 0 {
			return errors.New("not a duration (e.g. 30d, 720h, 0)")
		}
		c.EventRetention = d
		return nil
	}},
	{"WAGATE_WS_COMPRESSION", "false", "enable WebSocket compression towards WhatsApp", boolVar(func(c *Config) *bool { return &c.WSCompression })},
	{"WAGATE_MESSAGE_RETENTION", "0", "maximum age of stored messages, e.g. 90d or 720h; 0 = keep forever", func(c *Config, v string) error {
		d, err := parseDays(v)
		if err != nil || d < 0 {
			return errors.New("not a duration (e.g. 90d, 720h, 0)")
		}
		c.MessageRetention = d
		return nil
	}},
	{"WAGATE_HISTORY_SYNC_DAYS", "0", "days of history sync to store; 0 = all", intVar(func(c *Config) *int { return &c.HistorySyncDays })},
	{"WAGATE_IMAGE_ALLOW_PRIVATE", "false", "allow image URLs on private/loopback addresses", boolVar(func(c *Config) *bool { return &c.ImageAllowPrivate })},
	{"WAGATE_SHUTDOWN_TIMEOUT", "15s", "how long graceful shutdown waits for requests in flight", func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a duration (e.g. 15s)")
		}
		c.ShutdownTimeout = d
		return nil
	}},
	{"WAGATE_AUTH_CACHE_TTL", "30s", "how long API keys and sessions are answered from memory before being read again (changes reach every node at once through LISTEN/NOTIFY); 0 = no cache", durationVar(func(c *Config) *time.Duration { return &c.AuthCacheTTL })},
	{"WAGATE_AUTH_MISS_LOOKUPS", "100", "database lookups per second of API keys neither cached nor known to be unknown (429 beyond)", intVar(func(c *Config) *int { return &c.AuthMissLookups })},
	{"WAGATE_PPROF_ADDR", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (empty: off)", stringVar(func(c *Config) *string { return &c.PprofAddr })},
	{"WAGATE_AUTH_NEGATIVE_CACHE_SIZE", "10000", "how many unknown API keys each node remembers", intVar(func(c *Config) *int { return &c.AuthNegativeSize })},
	{"WAGATE_NODE_ID", "", "this node's id in the cluster; unique per live process (empty: the host name)", stringVar(func(c *Config) *string { return &c.NodeID })},
	{"WAGATE_NODE_URL", "", "base URL at which the other nodes reach this one (empty: http://<host name>:<port>)", stringVar(func(c *Config) *string { return &c.NodeURL })},
	{"WAGATE_NODE_CAPACITY", "1", "this node's weight in the placement of sessions", intVar(func(c *Config) *int { return &c.NodeCapacity })},
	{"WAGATE_CLUSTER_SECRET", "", "shared secret of requests forwarded between nodes", stringVar(func(c *Config) *string { return &c.ClusterSecret })},
	{"WAGATE_LEASE_TTL", "15s", "validity of a node's heartbeat and session leases (renewed every third of it)", durationVar(func(c *Config) *time.Duration { return &c.LeaseTTL })},
}

// Load builds a Config from defaults, then the environment (getenv), then
// the flags in args (-addr, -database-url, -log-level). It returns the
// remaining positional arguments and flag.ErrHelp for -h/--help.
func Load(getenv func(string) string, args []string, usageOut io.Writer) (Config, []string, error) {
	c := Default()
	var errs []error
	for _, v := range variables {
		raw := getenv(v.name)
		if raw == "" {
			continue
		}
		if err := v.set(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.name, raw, err))
		}
	}
	if len(errs) > 0 {
		return c, nil, errors.Join(errs...)
	}
	fs := flag.NewFlagSet("wagate", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.StringVar(&c.Addr, "addr", c.Addr, "HTTP listen address (WAGATE_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level (WAGATE_LOG_LEVEL)")
	fs.Usage = func() { Usage(usageOut) }
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}

// Validate reports every invalid setting at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("WAGATE_ADDR must not be empty"))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, errors.New("DATABASE_URL must be a postgres:// URL"))
	}
	if c.AdminKey != "" && !strings.HasPrefix(c.AdminKey, "wamk_") {
		errs = append(errs, errors.New("WAGATE_ADMIN_KEY must start with wamk_"))
	} else if c.AdminKey != "" && len(c.AdminKey) < len("wamk_")+16 {
		errs = append(errs, errors.New("WAGATE_ADMIN_KEY is too short (at least 16 characters after wamk_)"))
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil || c.LogLevel == "" {
		errs = append(errs, fmt.Errorf("WAGATE_LOG_LEVEL %q is not a level (trace, debug, info, warn, error)", c.LogLevel))
	}
	for name, n := range map[string]int{
		"WAGATE_RATE_LIMIT_GENERAL":    c.RateLimits.General,
		"WAGATE_RATE_LIMIT_MESSAGES":   c.RateLimits.Messages,
		"WAGATE_RATE_LIMIT_SESSIONS":   c.RateLimits.Sessions,
		"WAGATE_RATE_LIMIT_QR_SECONDS": c.RateLimits.QRSeconds,
	} {
		if n < 0 {
			errs = append(errs, fmt.Errorf("%s must be 0 (off) or positive", name))
		}
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("WAGATE_MAX_BODY_BYTES must be positive"))
	}
	if c.MaxMediaBytes <= 0 {
		errs = append(errs, errors.New("WAGATE_MAX_MEDIA_BYTES must be positive"))
	}
	if c.MaxImageBodyBytes != 0 && c.MaxImageBodyBytes < c.MaxBodyBytes {
		errs = append(errs, errors.New("WAGATE_MAX_IMAGE_BODY_BYTES must be 0 (derived) or at least WAGATE_MAX_BODY_BYTES"))
	}
	for _, l := range []struct {
		name string
		n    int64
	}{
		{"WAGATE_MAX_IMAGE_BYTES", c.MaxImageBytes}, {"WAGATE_MAX_VIDEO_BYTES", c.MaxVideoBytes}, {"WAGATE_MAX_AUDIO_BYTES", c.MaxAudioBytes},
		{"WAGATE_MAX_DOCUMENT_BYTES", c.MaxDocumentBytes}, {"WAGATE_MAX_STICKER_BYTES", c.MaxStickerBytes},
	} {
		if l.n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", l.name))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("WAGATE_SHUTDOWN_TIMEOUT must be positive"))
	}
	if c.WebhookTimeout <= 0 {
		errs = append(errs, errors.New("WAGATE_WEBHOOK_TIMEOUT must be positive"))
	} else if c.WebhookRescueAfter < c.WebhookTimeout+10*time.Second {
		errs = append(errs, fmt.Errorf("WAGATE_WEBHOOK_RESCUE_AFTER must be at least WAGATE_WEBHOOK_TIMEOUT + 10s (%s), or a delivery still running could be run twice", c.WebhookTimeout+10*time.Second))
	}
	if c.HistorySyncDays < 0 {
		errs = append(errs, errors.New("WAGATE_HISTORY_SYNC_DAYS must be 0 (all) or positive"))
	}
	if c.AuthCacheTTL < 0 {
		errs = append(errs, errors.New("WAGATE_AUTH_CACHE_TTL must be 0 (off) or positive"))
	}
	if c.AuthMissLookups <= 0 {
		errs = append(errs, errors.New("WAGATE_AUTH_MISS_LOOKUPS must be positive"))
	}
	if c.AuthNegativeSize <= 0 {
		errs = append(errs, errors.New("WAGATE_AUTH_NEGATIVE_CACHE_SIZE must be positive"))
	}
	if c.NodeCapacity <= 0 {
		errs = append(errs, errors.New("WAGATE_NODE_CAPACITY must be positive"))
	}
	if c.ClusterSecret != "" && len(c.ClusterSecret) < 16 {
		errs = append(errs, errors.New("WAGATE_CLUSTER_SECRET must be at least 16 characters"))
	}
	if c.LeaseTTL < 3*time.Second {
		errs = append(errs, errors.New("WAGATE_LEASE_TTL must be at least 3s"))
	}
	if c.NodeURL != "" {
		if u, err := url.Parse(c.NodeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("WAGATE_NODE_URL must be an http:// or https:// URL"))
		}
	}
	return errors.Join(errs...)
}

// Level returns the parsed log level (info when invalid; Validate catches that).
func (c *Config) Level() zerolog.Level {
	l, err := zerolog.ParseLevel(c.LogLevel)
	if err != nil {
		return zerolog.InfoLevel
	}
	return l
}

// Usage prints the command line help with every environment variable.
func Usage(w io.Writer) {
	fmt.Fprint(w, `wagate: self-hosted WhatsApp HTTP API gateway

Usage:
  wagate [serve] [flags]     migrate the database, then serve the API (default)
  wagate serve --sandbox     the same against a simulated WhatsApp (WAGATE_SANDBOX=1)
  wagate simulator [flags]   run only the simulated WhatsApp, for several sandbox
                             gateways to share (they set WAGATE_SANDBOX_URL)
  wagate migrate [flags]     apply pending database migrations and exit
  wagate --help              show this help

Flags:
  -addr string           HTTP listen address (WAGATE_ADDR)
  -database-url string   PostgreSQL URL (DATABASE_URL)
  -log-level string      log level (WAGATE_LOG_LEVEL)
  --sandbox              same as WAGATE_SANDBOX=1

Environment:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range variables {
		def := v.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.name, def, v.help)
	}
	_ = tw.Flush()
}

// parseDays parses a Go duration, also accepting whole days ("90d") and "0".
func parseDays(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
