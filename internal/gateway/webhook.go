package gateway

import (
	"context"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Webhook is one receiver of a session's events.
type Webhook struct {
	ID        uuid.UUID
	SessionID uuid.UUID
	URL       string
	// Events filters the event types delivered; empty means every event.
	Events  []string
	Enabled bool
	// Secret is the signing secret. Services fill it only in the answers of
	// create and rotate; it is never listed.
	Secret string
	// SessionDefault marks the webhook made from the session's webhookUrl.
	SessionDefault bool
	CreatedAt      time.Time
}

// WebhookInput is a new webhook. An empty Secret is generated.
type WebhookInput struct {
	URL    string
	Events []string
	Secret string
}

// WebhookPatch changes a webhook; nil fields are left as they are.
type WebhookPatch struct {
	URL     *string
	Events  *[]string
	Enabled *bool
}

// DeliveryStatus is the state of one event's delivery to one webhook.
type DeliveryStatus string

// Delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"   // queued, not attempted yet
	DeliverySucceeded DeliveryStatus = "succeeded" // a 2xx was received
	DeliveryRetrying  DeliveryStatus = "retrying"  // failed, another attempt is scheduled
	DeliveryDead      DeliveryStatus = "dead"      // every attempt failed; replay with redeliver
)

// Delivery is one event's delivery to one webhook, with its last attempt.
type Delivery struct {
	ID             int64
	SessionID      uuid.UUID
	EventID        string
	EventType      string
	WebhookID      uuid.UUID
	URL            string
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode *int
	LastLatencyMs  *int
	LastError      *string
	NextAttemptAt  *time.Time
	CreatedAt      time.Time
}

// DeliveryFilter selects a page of deliveries, newest first.
type DeliveryFilter struct {
	Status *DeliveryStatus
	Limit  int    // 1..200; 0 means 50
	Cursor string // NextCursor of the previous page
}

// WebhookTestResult is the receiver's answer to a test ping.
type WebhookTestResult struct {
	StatusCode *int
	LatencyMs  int
	Error      *string // transport error, when the receiver could not be reached
}

// WebhookService configures webhooks and inspects and replays deliveries
// (implemented by internal/webhook). Every method returns CodeNotFound with
// MsgSessionNotFound for an unknown session.
type WebhookService interface {
	// ListWebhooks returns the session's webhooks, oldest first, without secrets.
	ListWebhooks(ctx context.Context, sessionID uuid.UUID) ([]Webhook, error)
	// CreateWebhook adds a webhook and returns it with its secret. CodeInvalid
	// for a URL that is not http(s) or that resolves to a refused address.
	CreateWebhook(ctx context.Context, sessionID uuid.UUID, in WebhookInput) (Webhook, error)
	// UpdateWebhook changes a webhook. CodeInvalid as for CreateWebhook;
	// CodeNotFound for an unknown webhook.
	UpdateWebhook(ctx context.Context, sessionID, webhookID uuid.UUID, p WebhookPatch) (Webhook, error)
	// DeleteWebhook removes a webhook and its deliveries. CodeNotFound for an
	// unknown webhook.
	DeleteWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) error
	// RotateWebhookSecret replaces the signing secret and returns the webhook
	// with the new one. CodeNotFound for an unknown webhook.
	RotateWebhookSecret(ctx context.Context, sessionID, webhookID uuid.UUID) (Webhook, error)
	// TestWebhook sends a signed webhook.test event now, outside the queue.
	// A receiver error is a result, not an error. CodeNotFound for an
	// unknown webhook.
	TestWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) (WebhookTestResult, error)
	// ListDeliveries returns a page of deliveries, newest first, and the
	// cursor of the next page ("" at the end). CodeInvalid for a bad cursor.
	ListDeliveries(ctx context.Context, sessionID uuid.UUID, f DeliveryFilter) ([]Delivery, string, error)
	// Redeliver schedules one delivery again now, whatever its state.
	// CodeNotFound for an unknown delivery.
	Redeliver(ctx context.Context, sessionID uuid.UUID, deliveryID int64) (Delivery, error)
	// RedeliverDead schedules every dead delivery of the session again and
	// returns how many.
	RedeliverDead(ctx context.Context, sessionID uuid.UUID) (int, error)
}

// WebhookTask is what a delivery worker needs for one attempt: the delivery,
// its webhook's current URL and secret, and the event.
type WebhookTask struct {
	Delivery       Delivery
	Generation     int // bumped by each redelivery; older jobs are stale
	WebhookEnabled bool
	Secret         string
	EventSessionID uuid.UUID
	EventTime      time.Time
	EventData      []byte // JSON object
}

// WebhookAttempt is the outcome of one delivery attempt.
type WebhookAttempt struct {
	DeliveryID int64
	Generation int // the delivery is updated only while it still has this generation
	URL        string
	StartedAt  time.Time
	StatusCode *int
	LatencyMs  int
	Error      *string
	// Status is the delivery's state after the attempt; NextAttemptAt is
	// set when it is DeliveryRetrying.
	Status        DeliveryStatus
	NextAttemptAt *time.Time
}

// WebhookStore persists webhooks, deliveries and attempts (implemented by
// internal/postgres). Every session-scoped method returns CodeNotFound with
// MsgSessionNotFound for an unknown session, and MsgWebhookNotFound or
// MsgDeliveryNotFound for an unknown webhook or delivery of the session.
// Redeliver and RedeliverDead queue the delivery jobs in the transaction
// that resets the deliveries.
type WebhookStore interface {
	ListWebhooks(ctx context.Context, sessionID uuid.UUID) ([]Webhook, error)
	// CreateWebhook stores w (its ID and CreatedAt are set here; an empty
	// Secret is generated) and returns it with the secret.
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	UpdateWebhook(ctx context.Context, sessionID, webhookID uuid.UUID, p WebhookPatch) (Webhook, error)
	DeleteWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) error
	// GetWebhook returns the webhook with its secret.
	GetWebhook(ctx context.Context, sessionID, webhookID uuid.UUID) (Webhook, error)
	// RotateWebhookSecret stores a new generated secret and returns the
	// webhook with it.
	RotateWebhookSecret(ctx context.Context, sessionID, webhookID uuid.UUID) (Webhook, error)
	ListDeliveries(ctx context.Context, sessionID uuid.UUID, f DeliveryFilter) ([]Delivery, string, error)
	Redeliver(ctx context.Context, sessionID uuid.UUID, deliveryID int64) (Delivery, error)
	RedeliverDead(ctx context.Context, sessionID uuid.UUID) (int, error)
	// WebhookTask loads a delivery for a worker; CodeNotFound when the
	// delivery is gone (its webhook or session was deleted).
	WebhookTask(ctx context.Context, deliveryID int64) (WebhookTask, error)
	// RecordWebhookAttempt stores an attempt and, when the delivery still
	// has a.Generation, its new state.
	RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) error
	// FinishDelivery sets a delivery's state without an attempt (e.g. dead
	// because its webhook is disabled), when it still has generation.
	FinishDelivery(ctx context.Context, deliveryID int64, generation int, status DeliveryStatus, lastError string) error
}

// Texts of webhook errors.
const (
	MsgWebhookNotFound  = "Webhook not found"
	MsgDeliveryNotFound = "Delivery not found"
	MsgInvalidCursor    = "Invalid cursor"
)

// WebhookJob is the job-queue payload (a River job's args) that delivers one
// delivery. The store inserts it in the transaction that creates or resets
// the delivery; the webhook workers run it. Its kind and JSON form are the
// contract between the two.
type WebhookJob struct {
	DeliveryID int64 `json:"deliveryId"`
	Generation int   `json:"generation"`
}

// Kind is the job kind of WebhookJob.
func (WebhookJob) Kind() string { return "webhook_delivery" }

// WebhookQueueCount is the number of delivery queues. A delivery goes to
// the queue of its receiver (WebhookQueue), so a slow receiver fills only
// its own queue's workers.
const WebhookQueueCount = 8

// WebhookJobMaxAttempts is the job-queue cap on attempts; the workers mark
// a delivery dead earlier, after their configured number of attempts.
const WebhookJobMaxAttempts = 100

// WebhookReceiver returns the receiver key of a URL: scheme://host:port,
// lowercased. Concurrency limits and queues are per receiver.
func WebhookReceiver(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme + "://" + u.Hostname() + ":" + port)
}

// WebhookQueue returns the delivery queue name for a URL: "webhooks_<n>".
func WebhookQueue(rawURL string) string {
	h := fnv.New32a()
	h.Write([]byte(WebhookReceiver(rawURL)))
	return "webhooks_" + strconv.Itoa(int(h.Sum32()%WebhookQueueCount))
}
