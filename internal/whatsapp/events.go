package whatsapp

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// inboundTimeout bounds one MessageSink call; past it the message is not
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
// AddEventHandlerWithSuccessStatus) and the one switch over whatsmeow's
// events: each kind is one arm delegating to one small function, or an
// explicit "ignored" arm. A new event kind gets its arm here. Returning
// false withholds the ack, so WhatsApp delivers the stanza again; a panic
// is recovered and counts as false.
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
	switch evt := rawEvt.(type) {
	// Connection lifecycle.
	case *events.Connected:
		h.onConnected()
	case *events.Disconnected:
		h.signal(sigDisconnected, "connection closed")
	case *events.StreamError:
		h.signal(sigDown, "stream error "+evt.Code)
	case *events.ConnectFailure:
		h.signal(sigDown, fmt.Sprintf("connect failure %d %s", int(evt.Reason), evt.Message))
	case *events.KeepAliveTimeout:
		h.handleKeepAliveTimeout(evt)
	case *events.KeepAliveRestored:
		// ignored: touched above
	case *events.LoggedOut:
		h.signal(sigLoggedOut, "logged out from the phone ("+evt.Reason.String()+")")
	case *events.StreamReplaced:
		h.signal(sigFatal, "another client connected with this session's keys")
	case *events.TemporaryBan:
		h.signal(sigFatal, "temporarily banned by WhatsApp: "+evt.String())
	case *events.ClientOutdated:
		h.signal(sigFatal, MsgClientOutdated)
	case *events.CATRefreshError:
		h.signal(sigDown, "credential refresh failed")

	// Linking.
	case *events.PairSuccess:
		h.s.send(h.ctx, signal{kind: sigPaired, jid: evt.ID})
	case *events.PairError:
		h.s.log.Warn().Err(evt.Error).Msg("pairing failed")
	case *events.QR, *events.QRScannedWithoutMultidevice:
		// ignored: handled through the QR channel in pairRound

	// Account.
	case *events.PushNameSetting:
		h.signal(sigInfo, "")

	// Messages, receipts and the app-state changes the message store keeps
	// (inbound.go, history.go).
	case *events.Message:
		return h.onMessage(evt)
	case *events.Receipt:
		return h.onReceipt(evt)
	case *events.HistorySync:
		return h.onHistorySync(evt)
	case *events.Archive:
		return h.onArchive(evt)
	case *events.MarkChatAsRead:
		return h.onMarkChatAsRead(evt)
	case *events.DeleteChat:
		return h.onDeleteChat(evt)
	case *events.Star:
		return h.onStar(evt)
	case *events.UndecryptableMessage:
		h.onUndecryptable(evt)

	// Groups (groupevents.go): the group.* events and the chat's name.
	case *events.JoinedGroup:
		return h.onJoinedGroup(evt)
	case *events.GroupInfo:
		return h.onGroupInfo(evt)

	// Presence, chat states and calls (conversation.go).
	case *events.Presence:
		h.onPresence(evt)
	case *events.ChatPresence:
		h.onChatPresence(evt)
	case *events.CallOffer:
		h.onCall(evt.BasicCallMeta, gateway.CallOffer, "")
	case *events.CallAccept:
		h.onCall(evt.BasicCallMeta, gateway.CallAccept, "")
	case *events.CallTerminate:
		h.onCall(evt.BasicCallMeta, gateway.CallTerminate, evt.Reason)

	// Media recovery (mediaretry.go).
	case *events.MediaRetry:
		h.s.m.retries.deliver(h.s.id, evt)

	// Ignored: contacts and the other app-state actions are not
	// modelled yet.
	default:
	}
	return true
}

// signal tells the supervisor about a connection event.
func (h *clientHandler) signal(kind sigKind, reason string) {
	h.s.send(h.ctx, signal{kind: kind, reason: reason})
}

func (h *clientHandler) onConnected() {
	if !h.guard.loginOK(h.ctx) {
		return // the database is still down: the guard took this connection down
	}
	h.signal(sigConnected, "")
}

// onUndecryptable logs a message whatsmeow could not decrypt. When the
// cause was the database, the guard closed the socket before whatsmeow
// could acknowledge: WhatsApp delivers it again.
func (h *clientHandler) onUndecryptable(evt *events.UndecryptableMessage) {
	h.s.log.Warn().Str("message_id", evt.Info.ID).Bool("unavailable", evt.IsUnavailable).
		Bool("database_down", h.guard != nil && h.guard.down.Load()).Msg("undecryptable message")
}

func (h *clientHandler) handleKeepAliveTimeout(evt *events.KeepAliveTimeout) {
	h.s.log.Warn().Int("error_count", evt.ErrorCount).Time("last_success", evt.LastSuccess).Msg("keepalive timed out")
	if evt.ErrorCount >= h.s.m.opts.KeepAliveFailures {
		go h.s.forceDown(fmt.Sprintf("%d keepalives timed out", evt.ErrorCount))
	}
}
