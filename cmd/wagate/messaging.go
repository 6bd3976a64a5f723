package main

import (
	"context"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/metrics"
)

// messagingOptions configures the message service and its inbound side
// (messaging.Sink): retention, history cutoff, image loading, media
// downloads, metrics.
func (m *Main) messagingOptions(mx *metrics.Metrics) messaging.Options {
	c := m.Config
	return messaging.Options{
		Retention:       c.MessageRetention,
		HistorySyncDays: c.HistorySyncDays,
		Recipients:      m.Store,
		Media:           messaging.MediaLoader{AllowPrivate: c.ImageAllowPrivate},
		MaxSendBytes: map[gateway.MediaKind]int64{
			gateway.MediaImage: c.MaxImageBytes, gateway.MediaVideo: c.MaxVideoBytes, gateway.MediaAudio: c.MaxAudioBytes,
			gateway.MediaDocument: c.MaxDocumentBytes, gateway.MediaSticker: c.MaxStickerBytes,
		},
		MaxMediaBytes: c.MaxMediaBytes,
		Log:           m.Logger,
		Observer:      mx,
	}
}

// runRetention removes expired messages and idempotency keys every hour
// until Close.
func (m *Main) runRetention(svc *messaging.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopRetention = cancel
	go svc.RunRetention(ctx, time.Hour)
}
