package main

import (
	"context"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/metrics"
	"github.com/wagate-dev/wagate/internal/postgres"
)

// newMessaging builds the message service: the store of every message and
// chat, the rules of the chat-management operations, and the inbound sink the
// WhatsApp runtime stores into before it acknowledges. Its WhatsApp side is
// set once the runtime exists (the runtime needs the service as its sink).
func (m *Main) newMessaging(mx *metrics.Metrics) *messaging.Service {
	c := m.Config
	msgs := postgres.NewMessages(m.Pool)
	return messaging.New(msgs, msgs, nil, messaging.Options{
		Retention:       c.MessageRetention,
		HistorySyncDays: c.HistorySyncDays,
		Recipients:      m.Store,
		Media:           messaging.MediaLoader{AllowPrivate: c.ImageAllowPrivate},
		MaxSendBytes:    map[gateway.MediaKind]int64{gateway.MediaImage: c.MaxImageBodyBytes},
		MaxMediaBytes:   c.MaxMediaBytes,
		Log:             m.Logger,
		Observer:        mx,
	})
}

// runRetention removes expired messages and idempotency keys every hour
// until Close.
func (m *Main) runRetention(svc *messaging.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopRetention = cancel
	go svc.RunRetention(ctx, time.Hour)
}
