package whatsapp

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The inbound side of the message store: each arm of handleEvent for an
// event the store keeps converts it into a gateway.InboundBatch and hands
// it to the one inbound port, Options.Inbound (gateway.MessageSink).

// store hands b to the message sink; false (no ack, so WhatsApp delivers
// it again) when storing failed. event names the event in logs.
func (h *clientHandler) store(ctx context.Context, event string, b gateway.InboundBatch) bool {
	sink := h.s.m.opts.Inbound
	if sink == nil || (len(b.Messages) == 0 && len(b.Changes) == 0 && len(b.Events) == 0 && len(b.ChatNames) == 0) {
		return true
	}
	if err := sink.StoreInbound(ctx, h.s.id, b); err != nil {
		h.s.log.Warn().Err(err).Str("event", event).Msg("inbound event not stored, not acknowledging")
		// A database outage: disconnect now, so WhatsApp delivers it again
		// after the next login rather than whenever the socket next drops.
		h.guard.check(err, "message store")
		return false
	}
	return true
}

// inbound runs convert with a bounded context and stores its batch.
func (h *clientHandler) inbound(event string, convert func(ctx context.Context) gateway.InboundBatch) bool {
	ctx, cancel := context.WithTimeout(h.ctx, inboundTimeout)
	defer cancel()
	return h.store(ctx, event, convert(ctx))
}

func (h *clientHandler) onMessage(evt *events.Message) bool {
	return h.inbound("message", func(ctx context.Context) gateway.InboundBatch { return h.convertMessage(ctx, evt) })
}

func (h *clientHandler) onReceipt(evt *events.Receipt) bool {
	return h.inbound("receipt", func(ctx context.Context) gateway.InboundBatch { return h.convertReceipt(ctx, evt) })
}

func (h *clientHandler) onHistorySync(evt *events.HistorySync) bool {
	sink := h.s.m.opts.Inbound
	if sink == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(h.ctx, inboundTimeout)
	defer cancel()
	return h.handleHistorySync(ctx, sink, evt)
}

// ownChange stores one change made on the phone (app state).
func (h *clientHandler) ownChange(event string, change func(ctx context.Context) gateway.InboundChange) bool {
	return h.inbound(event, func(ctx context.Context) gateway.InboundBatch {
		c := change(ctx)
		c.FromMe = true
		return gateway.InboundBatch{Changes: []gateway.InboundChange{c}}
	})
}

func (h *clientHandler) onArchive(evt *events.Archive) bool {
	return h.ownChange("archive", func(ctx context.Context) gateway.InboundChange {
		return gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: h.s.m.chatRef(ctx, evt.JID),
			Flag: evt.Action.GetArchived(), Timestamp: evt.Timestamp}
	})
}

func (h *clientHandler) onMarkChatAsRead(evt *events.MarkChatAsRead) bool {
	return h.ownChange("mark_chat_as_read", func(ctx context.Context) gateway.InboundChange {
		return gateway.InboundChange{Kind: gateway.ChangeMarkUnread, Chat: h.s.m.chatRef(ctx, evt.JID),
			Flag: !evt.Action.GetRead(), Timestamp: evt.Timestamp}
	})
}

func (h *clientHandler) onDeleteChat(evt *events.DeleteChat) bool {
	return h.ownChange("delete_chat", func(ctx context.Context) gateway.InboundChange {
		ts := evt.Timestamp
		if r := evt.Action.GetMessageRange(); r.GetLastMessageTimestamp() > 0 {
			ts = time.Unix(r.GetLastMessageTimestamp(), 0)
		}
		return gateway.InboundChange{Kind: gateway.ChangeDeleteChat, Chat: h.s.m.chatRef(ctx, evt.JID), Timestamp: ts}
	})
}

func (h *clientHandler) onStar(evt *events.Star) bool {
	return h.ownChange("star", func(ctx context.Context) gateway.InboundChange {
		return gateway.InboundChange{Kind: gateway.ChangeStar, Chat: h.s.m.chatRef(ctx, evt.ChatJID),
			TargetID: evt.MessageID, Flag: evt.Action.GetStarred(), Timestamp: evt.Timestamp}
	})
}

// messageChat is the canonical chat of a message: for a DM addressed by
// LID, the phone JID from the message's alternate address or the LID map.
func (h *clientHandler) messageChat(ctx context.Context, info *types.MessageInfo) gateway.ChatRef {
	alt := info.SenderAlt
	if info.IsFromMe {
		alt = info.RecipientAlt
	}
	return h.s.m.chatRefAlt(ctx, info.Chat, alt)
}

func (h *clientHandler) messageSender(ctx context.Context, info *types.MessageInfo) string {
	if info.IsFromMe {
		if own := ownPN(h.cli); own != "" {
			return own
		}
	}
	return h.s.m.userJID(ctx, info.Sender, info.SenderAlt)
}

// messageSenderLID is the sender's LID where known: the address itself
// (a LID-addressed group or DM), its alternate address, or the LID map.
func (h *clientHandler) messageSenderLID(ctx context.Context, info *types.MessageInfo) *string {
	var lid types.JID
	switch {
	case info.Sender.Server == types.HiddenUserServer:
		lid = info.Sender
	case info.SenderAlt.Server == types.HiddenUserServer:
		lid = info.SenderAlt
	case info.Sender.Server == types.DefaultUserServer:
		if l, err := h.s.m.container.LIDMap.GetLIDForPN(ctx, info.Sender.ToNonAD()); err == nil && !l.IsEmpty() {
			lid = l
		}
	}
	if lid.IsEmpty() {
		return nil
	}
	s := lid.ToNonAD().String()
	return &s
}

// storable reports whether a chat is one the store models (users, LIDs,
// groups; not status broadcasts or newsletters).
func storable(chat types.JID) bool {
	switch chat.Server {
	case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer:
		return true
	}
	return false
}

// convertMessage turns a message event into a new message or a change.
func (h *clientHandler) convertMessage(ctx context.Context, evt *events.Message) gateway.InboundBatch {
	var b gateway.InboundBatch
	info := &evt.Info
	if !storable(info.Chat) || evt.Message == nil {
		return b
	}
	ref := h.messageChat(ctx, info)
	b.Chats = []gateway.ChatRef{ref}
	sender := h.messageSender(ctx, info)
	change := func(c gateway.InboundChange) gateway.InboundBatch {
		c.Chat, c.Sender, c.FromMe, c.Timestamp = ref, sender, info.IsFromMe, info.Timestamp
		b.Changes = append(b.Changes, c)
		return b
	}
	msg := evt.Message
	if pm := msg.GetProtocolMessage(); pm != nil {
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			return change(gateway.InboundChange{Kind: gateway.ChangeRevoke, TargetID: pm.GetKey().GetID()})
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			return change(gateway.InboundChange{Kind: gateway.ChangeEdit, TargetID: pm.GetKey().GetID(),
				Text: textOf(pm.GetEditedMessage())})
		}
		return b // other protocol messages (key shares, history notifications, …)
	}
	if u := msg.GetPollUpdateMessage(); u != nil {
		return h.pollVote(ctx, evt, b, change) // content.go
	}
	if r := msg.GetReactionMessage(); r != nil {
		return change(gateway.InboundChange{Kind: gateway.ChangeReaction, TargetID: r.GetKey().GetID(), Emoji: r.GetText()})
	}
	if p := msg.GetPinInChatMessage(); p != nil {
		c := gateway.InboundChange{Kind: gateway.ChangePin, TargetID: p.GetKey().GetID()}
		if p.GetType() == waE2E.PinInChatMessage_PIN_FOR_ALL {
			secs := msg.GetMessageContextInfo().GetMessageAddOnDurationInSecs()
			if secs == 0 {
				secs = uint32(gateway.DefaultPinDuration / time.Second)
			}
			until := info.Timestamp.Add(time.Duration(secs) * time.Second)
			c.Until = &until
		}
		return change(c)
	}
	m, ok := messageContent(msg)
	if !ok {
		return b
	}
	m.ID, m.ChatJID, m.Sender, m.FromMe, m.Timestamp = info.ID, ref.JID, sender, info.IsFromMe, info.Timestamp.UTC()
	m.SenderLID = h.messageSenderLID(ctx, info)
	if info.IsFromMe { // sent from another device of the account
		if own := ownLID(h.cli); own != "" {
			m.SenderLID = &own
		}
		if to := h.s.m.chatLID(ctx, h.cli, ref); to != "" {
			m.ToLID = &to
		}
	}
	b.Messages = append(b.Messages, m)
	if info.PushName != "" && !info.IsFromMe && ref.JID == sender {
		b.ChatNames = map[string]string{ref.JID: info.PushName}
	}
	return b
}

func textOf(m *waE2E.Message) string {
	if t := m.GetConversation(); t != "" {
		return t
	}
	return m.GetExtendedTextMessage().GetText()
}

// messageContent extracts type, text or caption and the quoted id of a
// content message; ok is false for messages the store does not keep
// (protocol, key distribution, polls updates, …).
func messageContent(msg *waE2E.Message) (gateway.Message, bool) {
	m := gateway.Message{Reactions: []gateway.Reaction{}}
	var ci *waE2E.ContextInfo
	var text string
	var media mediaMessage
	switch {
	case msg.GetConversation() != "":
		m.Type, text = gateway.TypeText, msg.GetConversation()
	case msg.GetExtendedTextMessage() != nil:
		e := msg.GetExtendedTextMessage()
		m.Type, text, ci = gateway.TypeText, e.GetText(), e.GetContextInfo()
	case msg.GetImageMessage() != nil:
		e := msg.GetImageMessage()
		m.Type, text, ci, media = gateway.TypeImage, e.GetCaption(), e.GetContextInfo(), e
	case msg.GetVideoMessage() != nil:
		e := msg.GetVideoMessage()
		m.Type, text, ci, media = gateway.TypeVideo, e.GetCaption(), e.GetContextInfo(), e
	case msg.GetAudioMessage() != nil:
		m.Type, ci, media = gateway.TypeAudio, msg.GetAudioMessage().GetContextInfo(), msg.GetAudioMessage()
	case msg.GetDocumentMessage() != nil:
		e := msg.GetDocumentMessage()
		m.Type, text, ci, media = gateway.TypeDocument, e.GetCaption(), e.GetContextInfo(), e
	case msg.GetStickerMessage() != nil:
		m.Type, ci, media = gateway.TypeSticker, msg.GetStickerMessage().GetContextInfo(), msg.GetStickerMessage()
	case msg.GetLocationMessage() != nil:
		e := msg.GetLocationMessage()
		m.Type, text, ci = gateway.TypeLocation, e.GetName(), e.GetContextInfo()
	case msg.GetLiveLocationMessage() != nil:
		m.Type, ci = gateway.TypeLocation, msg.GetLiveLocationMessage().GetContextInfo()
	case msg.GetContactMessage() != nil:
		e := msg.GetContactMessage()
		m.Type, text, ci = gateway.TypeContact, e.GetDisplayName(), e.GetContextInfo()
	case msg.GetContactsArrayMessage() != nil:
		m.Type, ci = gateway.TypeContact, msg.GetContactsArrayMessage().GetContextInfo()
	case pollOf(msg) != nil:
		p := pollOf(msg)
		m.Type, text, ci = gateway.TypePoll, p.GetName(), p.GetContextInfo()
	case msg.GetSenderKeyDistributionMessage() != nil, msg.GetPollUpdateMessage() != nil,
		msg.GetKeepInChatMessage() != nil, msg.GetEncReactionMessage() != nil:
		return m, false
	default:
		if onlyContextInfo(msg) {
			return m, false
		}
		m.Type = gateway.TypeOther
	}
	m.MessageContent = kindContent(msg) // content.go
	if text != "" {
		m.Text = &text
	}
	if id := ci.GetStanzaID(); id != "" {
		m.QuotedID = &id
	}
	if media != nil {
		m.Media = mediaRefOf(m.Type, media)
		if mt := media.GetMimetype(); mt != "" {
			m.MimeType = &mt
		}
	}
	return m, true
}

// onlyContextInfo reports whether msg carries no content besides
// MessageContextInfo (e.g. a bare sender-key distribution wrapper).
func onlyContextInfo(msg *waE2E.Message) bool {
	n := 0
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Name() != "messageContextInfo" {
			n++
		}
		return true
	})
	return n == 0
}

// convertReceipt turns delivery/read/played receipts of own messages into
// a receipt change.
func (h *clientHandler) convertReceipt(ctx context.Context, evt *events.Receipt) gateway.InboundBatch {
	var b gateway.InboundBatch
	if !storable(evt.Chat) || len(evt.MessageIDs) == 0 {
		return b
	}
	var rt gateway.ReceiptType
	switch evt.Type {
	case types.ReceiptTypeDelivered:
		rt = gateway.ReceiptDelivered
	case types.ReceiptTypeRead:
		rt = gateway.ReceiptRead
	case types.ReceiptTypePlayed:
		rt = gateway.ReceiptPlayed
	default:
		return b // sender, retry, read-self, server-error, inactive, …
	}
	if evt.IsFromMe {
		return b // our own other devices reading the chat
	}
	var alt types.JID
	if !evt.IsGroup {
		alt = evt.SenderAlt // a LID-addressed DM: the phone JID
	}
	ref := h.s.m.chatRefAlt(ctx, evt.Chat, alt)
	ids := make([]string, len(evt.MessageIDs))
	copy(ids, evt.MessageIDs)
	b.Changes = []gateway.InboundChange{{Kind: gateway.ChangeReceipt, Chat: ref, TargetIDs: ids, Receipt: rt,
		Sender: h.s.m.userJID(ctx, evt.Sender, evt.SenderAlt), Timestamp: evt.Timestamp}}
	return b
}
