package main

import (
	"context"
	"time"

	"github.com/wagate-dev/wagate/internal/webhook"
)

// webhookParts is the webhook delivery engine of a running Main.
type webhookParts struct {
	Webhooks *webhook.Service
}

// startWebhooks builds the webhook service (m.Webhooks, which also serves
// the webhook endpoints) and starts its delivery workers. Deliveries are
// queued by postgres.RecordEvent whether or not the workers run; they are
// delivered once some node runs them. Receivers pass guard; observe is
// told every attempt's result (the metrics counter).
func (m *Main) startWebhooks(ctx context.Context, guard webhook.Guard, observe func(result string, took time.Duration)) error {
	svc, err := webhook.New(m.Pool, m.Store, webhook.Config{
		Guard:       guard,
		Timeout:     m.Config.WebhookTimeout,
		RescueAfter: m.Config.WebhookRescueAfter,
		Retention:   m.Config.EventRetention,
		Observer:    observe,
		Log:         m.Logger.With().Str("component", "webhook").Logger(),
	})
	if err != nil {
		return err
	}
	// The workers stop in Close (gracefully), not when ctx ends.
	if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	m.Webhooks = svc
	return nil
}

// stopWebhooks lets running deliveries finish for a few seconds; those
// still running then are cancelled and retried later.
func (m *Main) stopWebhooks() {
	if m.Webhooks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Webhooks.Stop(ctx); err != nil {
		m.Logger.Warn().Err(err).Msg("webhook workers stopped uncleanly")
	}
	m.Webhooks = nil
}
