package messaging

import (
	"context"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Sink is the messaging service's inbound side alone: the port the WhatsApp
// runtime stores into before it acknowledges (retention and history
// cutoffs, the received-messages count, then the store). It needs only the
// message store, so the wiring builds it first, then the runtime that needs
// it, then the Service that needs the runtime: no cycle and nothing set
// after construction. It stores exactly as Service.StoreInbound does (it is
// a Service without a WhatsApp side, of which only the inbound methods are
// reachable).
type Sink struct {
	s *Service
}

// NewSink returns the inbound port over store; o is the Service's options
// (Retention, HistorySyncDays, Now, Observer, Log).
func NewSink(store gateway.MessageStore, o Options) *Sink {
	return &Sink{s: New(store, nil, o)}
}

var _ gateway.MessageSink = (*Sink)(nil)

// StoreInbound implements gateway.MessageSink (see Service.StoreInbound).
func (k *Sink) StoreInbound(ctx context.Context, sid uuid.UUID, b gateway.InboundBatch) error {
	return k.s.StoreInbound(ctx, sid, b)
}
