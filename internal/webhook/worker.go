package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// deliveryWorker runs gateway.WebhookJob: one attempt of one delivery.
type deliveryWorker struct {
	river.WorkerDefaults[gateway.WebhookJob]
	s *Service
}

// A job whose receiver has PerReceiver deliveries in flight waits busyWait
// for a slot, then is snoozed for busySnooze (which is not an attempt), so
// that its worker serves other receivers.
const (
	busyWait   = 250 * time.Millisecond
	busySnooze = 500 * time.Millisecond
)

// Timeout implements river.Worker.
func (w *deliveryWorker) Timeout(*river.Job[gateway.WebhookJob]) time.Duration {
	return w.s.cfg.jobTimeout()
}

// NextRetry implements river.Worker: the backoff after the failed attempt,
// counted from when it started. Work records the same instant.
func (w *deliveryWorker) NextRetry(job *river.Job[gateway.WebhookJob]) time.Time {
	return w.nextRetry(job)
}

func (w *deliveryWorker) nextRetry(job *river.Job[gateway.WebhookJob]) time.Time {
	start := time.Now()
	if job.AttemptedAt != nil {
		start = *job.AttemptedAt
	}
	// River refuses a retry time in the past (and falls back to its own
	// policy), which a slow attempt with a short backoff would produce.
	next := start.Add(backoff(w.s.cfg.RetryBase, w.s.cfg.MaxRetryDelay, job.Attempt, job.ID))
	if now := time.Now(); next.Before(now) {
		return now
	}
	return next
}

// Work implements river.Worker.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[gateway.WebhookJob]) error {
	s := w.s
	log := s.log.With().Int64("delivery_id", job.Args.DeliveryID).Int("attempt", job.Attempt).Logger()
	task, err := s.store.WebhookTask(ctx, job.Args.DeliveryID)
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		return nil // its webhook or session was deleted
	}
	if err != nil {
		return err
	}
	d := task.Delivery
	if task.Generation != job.Args.Generation || d.Status == gateway.DeliverySucceeded {
		return nil // redelivered since (a newer job owns it), or done already
	}
	if !task.WebhookEnabled {
		err := s.store.FinishDelivery(ctx, d.ID, task.Generation, gateway.DeliveryDead, "webhook is disabled")
		if err != nil {
			return err
		}
		return river.JobCancel(errors.New("webhook is disabled"))
	}
	receiver := gateway.WebhookReceiver(d.URL)
	if !s.acquire(ctx, receiver, busyWait) {
		return river.JobSnooze(busySnooze)
	}
	defer s.release(receiver)

	body, err := envelope(d.EventID, d.EventType, task.EventSessionID, task.EventTime, task.EventData)
	if err != nil {
		return river.JobCancel(fmt.Errorf("build envelope: %w", err))
	}
	started := time.Now()
	res := s.post(ctx, d.URL, task.Secret, d.EventID, d.EventType, body)
	took := time.Since(started)

	a := gateway.WebhookAttempt{
		DeliveryID: d.ID, Generation: task.Generation, URL: d.URL, StartedAt: started,
		StatusCode: res.statusCode, LatencyMs: res.latencyMs, Error: res.errText,
	}
	var result error
	switch {
	case res.ok():
		a.Status = gateway.DeliverySucceeded
	case job.Attempt >= s.cfg.MaxAttempts:
		a.Status = gateway.DeliveryDead
		result = river.JobCancel(res.err())
	default:
		a.Status = gateway.DeliveryRetrying
		next := w.nextRetry(job)
		a.NextAttemptAt = &next
		result = res.err()
	}
	// The attempt is recorded even if the job's context ended meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.RecordWebhookAttempt(rctx, a); err != nil {
		log.Error().Err(err).Msg("could not record webhook attempt")
		if result == nil {
			// Delivered but not recorded: deliver again later rather than
			// leave the delivery pending forever (receivers drop duplicates).
			return err
		}
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer(observed(a.Status), took)
	}
	ev := log.Debug()
	if a.Status == gateway.DeliveryDead {
		ev = log.Warn()
	}
	ev.Str("status", string(a.Status)).Int("latency_ms", res.latencyMs).Msg("webhook attempt")
	return result
}

// observed is the Observer result of an attempt's status.
func observed(st gateway.DeliveryStatus) string {
	switch st {
	case gateway.DeliverySucceeded:
		return ResultSuccess
	case gateway.DeliveryDead:
		return ResultDead
	default:
		return ResultFailure
	}
}

// envelope is the body of a delivery: the WebhookEvent schema, the same
// bytes the event stream sends (gateway.EventEnvelope). Its bytes depend
// only on the event, so every attempt sends the same body.
func envelope(id, typ string, sessionID uuid.UUID, ts time.Time, data []byte) ([]byte, error) {
	return gateway.EventEnvelope(id, typ, sessionID, ts, data)
}

// result is the outcome of one POST.
type result struct {
	statusCode *int
	latencyMs  int
	errText    *string
}

func (r result) ok() bool { return r.statusCode != nil && *r.statusCode/100 == 2 }

func (r result) err() error {
	if r.errText != nil {
		return errors.New(*r.errText)
	}
	if r.statusCode != nil {
		return fmt.Errorf("receiver answered %d", *r.statusCode)
	}
	return errors.New("no answer")
}

// post sends one signed delivery. Receiver failures are in the result.
func (s *Service) post(ctx context.Context, url, secret, eventID, eventType string, body []byte) result {
	var res result
	fail := func(err error) result {
		t := err.Error()
		res.errText = &t
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wagate-webhooks/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, now, body))
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderEventType, eventType)
	start := time.Now()
	resp, err := s.client.Do(req)
	res.latencyMs = int(time.Since(start).Milliseconds())
	if err != nil {
		return fail(err)
	}
	// Drain a little so that the connection can be reused; the body is not kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	code := resp.StatusCode
	res.statusCode = &code
	return res
}
