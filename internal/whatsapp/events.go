package whatsapp

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// inboundTimeout bounds one InboundSink call; past it the message is not
// acknowledged and WhatsApp delivers it again.
const inboundTimeout = 30 * time.Second

// clientHandler receives the events of one whatsmeow client run.
type clientHandler struct {
	s   *Session
	cli *whatsmeow.Client
	ctx context.Context // the supervisor's run; ends when the session stops
	// guard takes the connection down when the database is unavailable
	// (dbguard.go); nil when the client's stores are not guarded.
	guard *dbGuard
}

// handleEvent is the one whatsmeow event handler (registered with
// AddEventHandlerWithSuccessStatus). Returning false withholds the ack, so
// WhatsApp delivers the stanza again; a panic is recovered and counts as
// false.
func (h *clientHandler) handleEvent(rawEvt any) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			h.s.log.Error().Any("panic", r).Str("event", fmt.Sprintf("%T", rawEvt)).Msg("event handler panicked")
			ok = false
		}
	}()
	switch rawEvt.(type) {
	case *events.Disconnected, *events.KeepAliveTimeout, *events.StreamError, *events.ConnectFailure:
	default:
		h.s.touch() // anything else is traffic from WhatsApp: the socket is alive
	}
	// The message store (inbound.go) takes messages, receipts, history
	// sync and app-state changes when the sink supports it.
	if handled, stored := h.handleInbound(rawEvt); handled {
		return stored
	}
	switch evt := rawEvt.(type) {
	// Connection lifecycle.
	case *events.Connected:
		if !h.guard.loginOK(h.ctx) {
			return true // the database is still down: the guard took this connection down
		}
		h.s.send(h.ctx, signal{kind: sigConnected})
	case *events.Disconnected:
		h.s.send(h.ctx, signal{kind: sigDisconnected, reason: "connection closed"})
	case *events.StreamError:
		h.s.send(h.ctx, signal{kind: sigDown, reason: "stream error " + evt.Code})
	case *events.ConnectFailure:
		h.s.send(h.ctx, signal{kind: sigDown, reason: fmt.Sprintf("connect failure %d %s", int(evt.Reason), evt.Message)})
	case *events.KeepAliveTimeout:
		h.handleKeepAliveTimeout(evt)
	case *events.KeepAliveRestored:
		// touched above
	case *events.LoggedOut:
		h.s.send(h.ctx, signal{kind: sigLoggedOut, reason: "logged out from the phone (" + evt.Reason.String() + ")"})
	case *events.StreamReplaced:
		h.s.send(h.ctx, signal{kind: sigFatal, reason: "another client connected with this session's keys"})
	case *events.TemporaryBan:
		h.s.send(h.ctx, signal{kind: sigFatal, reason: "temporarily banned by WhatsApp: " + evt.String()})
	case *events.ClientOutdated:
		h.s.send(h.ctx, signal{kind: sigFatal, reason: "WhatsApp says this client version is outdated"})
	case *events.CATRefreshError:
		h.s.send(h.ctx, signal{kind: sigDown, reason: "credential refresh failed"})

	// Linking.
	case *events.PairSuccess:
		h.s.send(h.ctx, signal{kind: sigPaired, jid: evt.ID})
	case *events.PairError:
		h.s.log.Warn().Err(evt.Error).Msg("pairing failed")
	case *events.QR, *events.QRScannedWithoutMultidevice:
		// handled through the QR channel in pairRound

	// Account.
	case *events.PushNameSetting:
		h.s.send(h.ctx, signal{kind: sigInfo})

	// Messages.
	case *events.Message:
		return h.handleMessage(evt)
	case *events.UndecryptableMessage:
		// When the cause was the database, the guard closed the socket
		// before whatsmeow could acknowledge: WhatsApp delivers it again.
		h.s.log.Warn().Str("message_id", evt.Info.ID).Bool("unavailable", evt.IsUnavailable).
			Bool("database_down", h.guard != nil && h.guard.down.Load()).Msg("undecryptable message")

	// Ignored for now: presence, calls, other app state. Groups
	// (events.JoinedGroup, events.GroupInfo) are taken by handleInbound
	// (groupevents.go).
	default:
	}
	return true
}

func (h *clientHandler) handleKeepAliveTimeout(evt *events.KeepAliveTimeout) {
	h.s.log.Warn().Int("error_count", evt.ErrorCount).Time("last_success", evt.LastSuccess).Msg("keepalive timed out")
	if evt.ErrorCount >= h.s.m.opts.KeepAliveFailures {
		go h.s.forceDown(fmt.Sprintf("%d keepalives timed out", evt.ErrorCount))
	}
}

// handleMessage hands a message to the InboundSink; false (no ack) when it
// could not be stored.
func (h *clientHandler) handleMessage(evt *events.Message) bool {
	sink := h.s.m.opts.Inbound
	if sink == nil {
		h.s.log.Debug().Str("message_id", evt.Info.ID).Msg("no inbound sink, message dropped")
		return true
	}
	m := &gateway.InboundMessage{
		ID:        evt.Info.ID,
		Chat:      evt.Info.Chat.String(),
		Sender:    evt.Info.Sender.String(),
		FromMe:    evt.Info.IsFromMe,
		Timestamp: evt.Info.Timestamp,
		PushName:  evt.Info.PushName,
		Type:      evt.Info.Type,
	}
	if msg := evt.Message; msg != nil {
		m.Text = msg.GetConversation()
		if m.Text == "" {
			m.Text = msg.GetExtendedTextMessage().GetText()
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, inboundTimeout)
	defer cancel()
	if err := sink.HandleMessage(ctx, h.s.id, m); err != nil {
		h.s.log.Warn().Err(err).Str("message_id", m.ID).Msg("inbound message not stored, not acknowledging")
		h.guard.check(err, "inbound sink")
		return false
	}
	return true
}
