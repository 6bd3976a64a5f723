package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// historyBatchSize bounds one store transaction during a history sync.
const historyBatchSize = 500

// handleHistorySync stores the messages of a history-sync chunk (the
// messaging service applies the history cutoff and retention). History
// sync is not covered by WhatsApp's ack mechanism; a failure is logged and
// the chunk can be requested again from the phone.
func (h *clientHandler) handleHistorySync(ctx context.Context, sink gateway.MessageSink, evt *events.HistorySync) bool {
	h.s.touch()
	b := gateway.InboundBatch{HistorySync: true}
	stored := 0
	flush := func() bool {
		if len(b.Messages) == 0 && len(b.Changes) == 0 && len(b.ChatNames) == 0 {
			return true
		}
		if err := sink.StoreInbound(ctx, h.s.id, b); err != nil {
			h.s.log.Error().Err(err).Int("messages", len(b.Messages)).Msg("history sync chunk not stored")
			return false
		}
		stored += len(b.Messages)
		b = gateway.InboundBatch{HistorySync: true}
		return true
	}
	ok := true
	for _, conv := range evt.Data.GetConversations() {
		chat, err := types.ParseJID(conv.GetID())
		if err != nil || !storable(chat) {
			continue
		}
		ref := h.s.m.chatRef(ctx, chat)
		if name := conv.GetName(); name != "" {
			if b.ChatNames == nil {
				b.ChatNames = map[string]string{}
			}
			b.ChatNames[ref.JID] = name
		}
		for _, hm := range conv.GetMessages() {
			evt, err := h.cli.ParseWebMessage(chat, hm.GetMessage())
			if err != nil || evt.Message == nil {
				continue
			}
			sub := h.convertMessage(ctx, evt)
			b.Messages = append(b.Messages, sub.Messages...)
			b.Changes = append(b.Changes, sub.Changes...)
			b.Chats = appendRef(b.Chats, sub.Chats...)
			if len(b.Messages)+len(b.Changes) >= historyBatchSize {
				ok = flush() && ok
			}
		}
	}
	ok = flush() && ok
	h.s.log.Info().Int("stored", stored).Str("sync_type", evt.Data.GetSyncType().String()).Msg("history sync chunk processed")
	return ok
}

func appendRef(refs []gateway.ChatRef, add ...gateway.ChatRef) []gateway.ChatRef {
outer:
	for _, r := range add {
		for _, have := range refs {
			if have.JID == r.JID {
				continue outer
			}
		}
		refs = append(refs, r)
	}
	return refs
}
