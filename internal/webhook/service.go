package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Defaults of Config.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultMaxAttempts     = 15
	DefaultRetryBase       = 5 * time.Second
	DefaultMaxRetryDelay   = 12 * time.Hour
	DefaultWorkersPerQueue = 16
	DefaultPerReceiver     = 8
	DefaultRescueAfter     = time.Minute
	DefaultCleanupInterval = time.Hour
)

// Config configures the delivery engine. Zero fields take the defaults.
type Config struct {
	// Guard checks URLs at configuration and every dialed address.
	Guard Guard
	// Timeout bounds one delivery request, connection included. Defaults to 10s.
	Timeout time.Duration
	// MaxAttempts is the number of attempts before a delivery is dead.
	// Defaults to 15 (about 23 hours with the default backoff); at most
	// gateway.WebhookJobMaxAttempts.
	MaxAttempts int
	// RetryBase is the delay after the first failed attempt; each further
	// one doubles it (±20% jitter). Defaults to 5s.
	RetryBase time.Duration
	// MaxRetryDelay caps one delay. Defaults to 12h.
	MaxRetryDelay time.Duration
	// WorkersPerQueue is the number of concurrent deliveries per queue per
	// node (gateway.WebhookQueueCount queues). Defaults to 16.
	WorkersPerQueue int
	// PerReceiver caps the concurrent deliveries to one receiver
	// (scheme://host:port) per node; further jobs for it are snoozed, which
	// frees their worker for other receivers. Defaults to 8.
	PerReceiver int
	// RescueAfter is how long a job may stay running (e.g. its node was
	// killed) before River runs it again; at least Timeout + 10s (a job
	// is cancelled at Timeout + 5s), raised to that when lower. Defaults
	// to 1m. WAGATE_WEBHOOK_RESCUE_AFTER.
	RescueAfter time.Duration
	// Retention is the age after which events are removed with their
	// deliveries and attempts, except those with a delivery still pending
	// or retrying; 0 keeps them forever. WAGATE_EVENT_RETENTION.
	Retention time.Duration
	// CleanupInterval is how often Retention is enforced while the
	// service runs. Defaults to 1h.
	CleanupInterval time.Duration
	// Observer, when set, is told the result of every delivery attempt
	// (ResultSuccess, ResultFailure or ResultDead) and how long its request
	// took; cmd/wagate passes internal/metrics' WebhookDelivery. It must
	// not block.
	Observer func(result string, took time.Duration)
	// Log is the service's logger.
	Log zerolog.Logger
}

// Results of a delivery attempt, as told to Config.Observer.
const (
	ResultSuccess = "success" // the receiver answered 2xx
	ResultFailure = "failure" // failed; another attempt is scheduled
	ResultDead    = "dead"    // failed, and no attempt is left
)

func (c Config) withDefaults() Config {
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.MaxAttempts = min(cmp.Or(c.MaxAttempts, DefaultMaxAttempts), gateway.WebhookJobMaxAttempts)
	c.RetryBase = cmp.Or(c.RetryBase, DefaultRetryBase)
	c.MaxRetryDelay = cmp.Or(c.MaxRetryDelay, DefaultMaxRetryDelay)
	c.WorkersPerQueue = cmp.Or(c.WorkersPerQueue, DefaultWorkersPerQueue)
	c.PerReceiver = cmp.Or(c.PerReceiver, DefaultPerReceiver)
	c.CleanupInterval = cmp.Or(c.CleanupInterval, DefaultCleanupInterval)
	c.RescueAfter = max(cmp.Or(c.RescueAfter, DefaultRescueAfter), c.jobTimeout()+5*time.Second)
	return c
}

// jobTimeout bounds a job: reading its delivery plus the request. The
// attempt is then recorded under a context of its own.
func (c Config) jobTimeout() time.Duration { return c.Timeout + 5*time.Second }

// Service is the webhook engine: it implements gateway.WebhookService and
// runs the River workers that deliver.
type Service struct {
	cfg    Config
	store  gateway.WebhookStore
	river  *river.Client[pgx.Tx]
	client *http.Client
	log    zerolog.Logger

	mu       sync.Mutex
	inUse    map[string]int // receiver -> deliveries in flight on this node
	released chan struct{}  // closed and replaced on every release

	stopCleanup context.CancelFunc // ends the retention loop
	cleanupDone chan struct{}
}

// EventPruner is the store side of retention (postgres.Store implements
// it): remove events recorded before before, with their deliveries and
// attempts, except events with a delivery pending or retrying.
type EventPruner interface {
	DeleteExpiredEvents(ctx context.Context, before time.Time, batch int) (int64, error)
}

var _ gateway.WebhookService = (*Service)(nil)

// New builds the service on pool (River's jobs live there too; its schema
// is applied by postgres.Migrate) and store.
func New(pool *pgxpool.Pool, store gateway.WebhookStore, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, store: store, log: cfg.Log, inUse: map[string]int{}, released: make(chan struct{})}
	tr := cfg.Guard.transport(cfg.Timeout) // guarded dialer, no proxy
	tr.ForceAttemptHTTP2 = true
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = cfg.PerReceiver
	tr.IdleConnTimeout = 90 * time.Second
	tr.TLSHandshakeTimeout = cfg.Timeout
	tr.ResponseHeaderTimeout = cfg.Timeout
	s.client = &http.Client{
		Timeout:   cfg.Timeout,
		Transport: tr,
		// A redirect is not an acknowledgement: the receiver must answer 2xx itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliveryWorker{s: s}); err != nil {
		return nil, err
	}
	queues := make(map[string]river.QueueConfig, gateway.WebhookQueueCount)
	for i := range gateway.WebhookQueueCount {
		queues["webhooks_"+strconv.Itoa(i)] = river.QueueConfig{MaxWorkers: cfg.WorkersPerQueue}
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: queues,
		// River fetches at most once per cooldown (default 100 ms), which
		// caps a queue at MaxWorkers jobs per cooldown; deliveries are
		// short, so fetch sooner.
		FetchCooldown:        10 * time.Millisecond,
		Workers:              workers,
		MaxAttempts:          gateway.WebhookJobMaxAttempts,
		JobTimeout:           cfg.jobTimeout(),
		RescueStuckJobsAfter: cfg.RescueAfter,
		Logger:               slog.New(zerolog.NewSlogHandler(cfg.Log.Level(max(zerolog.WarnLevel, cfg.Log.GetLevel())))),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = rc
	return s, nil
}

// Start starts the delivery workers and, with a Retention, the periodic
// cleanup; they stop when ctx is cancelled or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	if err := s.river.Start(ctx); err != nil {
		return err
	}
	if s.cfg.Retention > 0 {
		if _, ok := s.store.(EventPruner); ok {
			cctx, cancel := context.WithCancel(ctx)
			s.stopCleanup, s.cleanupDone = cancel, make(chan struct{})
			go s.runCleanup(cctx)
		}
	}
	return nil
}

// runCleanup enforces Retention now and every CleanupInterval until ctx ends.
func (s *Service) runCleanup(ctx context.Context) {
	defer close(s.cleanupDone)
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		if _, err := s.CleanupOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("event retention cleanup failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CleanupOnce removes the events older than Retention with their
// deliveries and attempts (nothing without a Retention or when the store
// cannot prune) and returns how many events it removed.
func (s *Service) CleanupOnce(ctx context.Context) (int64, error) {
	p, ok := s.store.(EventPruner)
	if s.cfg.Retention <= 0 || !ok {
		return 0, nil
	}
	n, err := p.DeleteExpiredEvents(ctx, time.Now().Add(-s.cfg.Retention), 1000)
	if n > 0 {
		s.log.Info().Int64("deleted", n).Dur("retention", s.cfg.Retention).Msg("event retention removed old events with their webhook deliveries")
	}
	return n, err
}

// Stop waits for running deliveries to finish (bounded by ctx; those still
// running then are cancelled and retried later).
func (s *Service) Stop(ctx context.Context) error {
	if s.stopCleanup != nil {
		s.stopCleanup()
		<-s.cleanupDone
		s.stopCleanup = nil
	}
	err := s.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return s.river.StopAndCancel(context.WithoutCancel(ctx))
	}
	return err
}

// acquire takes a slot for receiver, waiting up to wait for one when it
// has PerReceiver deliveries in flight already; false when none came.
// A short wait keeps a fast receiver's backlog flowing without a snooze
// per job, and a slow receiver holds a waiting worker only that long.
func (s *Service) acquire(ctx context.Context, receiver string, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.inUse[receiver] < s.cfg.PerReceiver {
			s.inUse[receiver]++
			s.mu.Unlock()
			return true
		}
		released := s.released
		s.mu.Unlock()
		select {
		case <-released:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (s *Service) release(receiver string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse[receiver]--; s.inUse[receiver] <= 0 {
		delete(s.inUse, receiver)
	}
	close(s.released) // wake the waiters of acquire
	s.released = make(chan struct{})
}

// validEvents refuses unknown event types (the HTTP layer validates them
// against the contract too; this guards other callers).
func validEvents(events []string) error {
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return gateway.Errorf(gateway.CodeInvalid, "Unknown event type %q", e)
		}
	}
	return nil
}

// EventTypes are the event types a webhook can filter on, as in openapi.yaml.
var EventTypes = []string{
	"message", "message.sent", "message.receipt", "message.edited", "message.revoked", "message.reaction",
	"poll.vote",
	"chat.archived", "chat.unarchived", "chat.marked_unread", "chat.deleted",
	"group.created", "group.joined", "group.left", "group.participants", "group.updated",
	"presence", "typing", "call",
	"session.state", "session.qr", "webhook.test",
}

// ListWebhooks implements gateway.WebhookService.
func (s *Service) ListWebhooks(ctx context.Context, sessionID uuid.UUID) ([]gateway.Webhook, error) {
	return s.store.ListWebhooks(ctx, sessionID)
}

// CreateWebhook implements gateway.WebhookService.
func (s *Service) CreateWebhook(ctx context.Context, sessionID uuid.UUID, in gateway.WebhookInput) (gateway.Webhook, error) {
	if err := s.cfg.Guard.CheckURL(ctx, in.URL); err != nil {
		return gateway.Webhook{}, err
	}
	if err := validEvents(in.Events); err != nil {
		return gateway.Webhook{}, err
	}
	if in.Secret != "" && len(in.Secret) < 16 {
		return gateway.Webhook{}, gateway.E(gateway.CodeInvalid, "Webhook secret must have at least 16 characters")
	}
	return s.store.CreateWebhook(ctx, gateway.Webhook{
		SessionID: sessionID, URL: in.URL, Events: in.Events, Secret: in.Secret, Enabled: true,
	})
}

// UpdateWebhook implements gateway.WebhookService.
func (s *Service) UpdateWebhook(ctx context.Context, sessionID, webhookID uuid.UUID, p gateway.WebhookPatch) (gateway.Webhook, error) {
	if p.URL != nil {
		if err := s.cfg.Guard.CheckURL(ctx, *p.URL); err != nil {
			return gateway.Webhook{}, err
		}
	}
	if p.Events != nil {
		if err := validEvents(*p.Events); err != nil {
			return gateway.Webhook{}, err
		}
	}
	return s.store.UpdateWebhook(ctx, sessionID, webhookID, p)
}

// DeleteWebhook implements gateway.WebhookService.
func (s *Service) DeleteWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) error {
	return s.store.DeleteWebhook(ctx, sessionID, webhookID)
}

// RotateWebhookSecret implements gateway.WebhookService.
func (s *Service) RotateWebhookSecret(ctx context.Context, sessionID, webhookID uuid.UUID) (gateway.Webhook, error) {
	return s.store.RotateWebhookSecret(ctx, sessionID, webhookID)
}

// TestWebhook implements gateway.WebhookService: a webhook.test event,
// signed like every delivery, sent now and not stored.
func (s *Service) TestWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) (gateway.WebhookTestResult, error) {
	w, err := s.store.GetWebhook(ctx, sessionID, webhookID)
	if err != nil {
		return gateway.WebhookTestResult{}, err
	}
	eventID := "evt_test_" + uuid.NewString()
	body, err := envelope(eventID, "webhook.test", sessionID, time.Now(),
		[]byte(`{"webhookId":"`+w.ID.String()+`"}`))
	if err != nil {
		return gateway.WebhookTestResult{}, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	res := s.post(ctx, w.URL, w.Secret, eventID, "webhook.test", body)
	return gateway.WebhookTestResult{StatusCode: res.statusCode, LatencyMs: res.latencyMs, Error: res.errText}, nil
}

// ListDeliveries implements gateway.WebhookService.
func (s *Service) ListDeliveries(ctx context.Context, sessionID uuid.UUID, f gateway.DeliveryFilter) ([]gateway.Delivery, string, error) {
	if f.Limit < 0 || f.Limit > 200 {
		return nil, "", gateway.E(gateway.CodeInvalid, "limit must be between 1 and 200")
	}
	return s.store.ListDeliveries(ctx, sessionID, f)
}

// Redeliver implements gateway.WebhookService.
func (s *Service) Redeliver(ctx context.Context, sessionID uuid.UUID, deliveryID int64) (gateway.Delivery, error) {
	return s.store.Redeliver(ctx, sessionID, deliveryID)
}

// RedeliverDead implements gateway.WebhookService.
func (s *Service) RedeliverDead(ctx context.Context, sessionID uuid.UUID) (int, error) {
	return s.store.RedeliverDead(ctx, sessionID)
}
