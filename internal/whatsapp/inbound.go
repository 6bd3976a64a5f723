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

// messageSink returns the message store's sink when the configured
// InboundSink offers the full interface.
func (h *clientHandler) messageSink() gateway.MessageSink {
	ms, _ := h.s.m.opts.Inbound.(gateway.MessageSink)
	return ms
}

// handleInbound stores what the message store needs from rawEvt: messages
// (and the edits, revokes, reactions and pins they carry), history sync,
// receipts and app-state changes made on the phone. handled is false for
// events it does not take (the caller's switch handles them); ok is false
// when storing failed, so a message is not acknowledged and WhatsApp
// delivers it again.
func (h *clientHandler) handleInbound(rawEvt any) (handled, ok bool) {
	sink := h.messageSink()
	if sink == nil {
		return false, true
	}
	var b gateway.InboundBatch
	ctx, cancel := context.WithTimeout(h.ctx, inboundTimeout)
	defer cancel()
	switch evt := rawEvt.(type) {
	case *events.Message:
		b = h.convertMessage(ctx, evt)
	case *events.HistorySync:
		return true, h.handleHistorySync(ctx, sink, evt)
	case *events.Receipt:
		b = h.convertReceipt(ctx, evt)
	case *events.Archive:
		b.Changes = append(b.Changes, gateway.InboundChange{Kind: gateway.ChangeArchive,
			Chat: h.s.m.chatRef(ctx, evt.JID), Flag: evt.Action.GetArchived(), FromMe: true, Timestamp: evt.Timestamp})
	case *events.MarkChatAsRead:
		b.Changes = append(b.Changes, gateway.InboundChange{Kind: gateway.ChangeMarkUnread,
			Chat: h.s.m.chatRef(ctx, evt.JID), Flag: !evt.Action.GetRead(), FromMe: true, Timestamp: evt.Timestamp})
	case *events.DeleteChat:
		ts := evt.Timestamp
		if r := evt.Action.GetMessageRange(); r.GetLastMessageTimestamp() > 0 {
			ts = time.Unix(r.GetLastMessageTimestamp(), 0)
		}
		b.Changes = append(b.Changes, gateway.InboundChange{Kind: gateway.ChangeDeleteChat,
			Chat: h.s.m.chatRef(ctx, evt.JID), FromMe: true, Timestamp: ts})
	case *events.Star:
		b.Changes = append(b.Changes, gateway.InboundChange{Kind: gateway.ChangeStar,
			Chat: h.s.m.chatRef(ctx, evt.ChatJID), TargetID: evt.MessageID, Flag: evt.Action.GetStarred(),
			FromMe: true, Timestamp: evt.Timestamp})
	case *events.JoinedGroup:
		b = h.convertJoinedGroup(ctx, evt)
	case *events.GroupInfo:
		b = h.convertGroupInfo(ctx, evt)
	default:
		return false, true
	}
	h.s.touch()
	if len(b.Messages) == 0 && len(b.Changes) == 0 && len(b.Events) == 0 && len(b.ChatNames) == 0 {
		return true, true
	}
	if err := sink.StoreInbound(ctx, h.s.id, b); err != nil {
		h.s.log.Warn().Err(err).Str("event", eventName(rawEvt)).Msg("inbound event not stored, not acknowledging")
		// A database outage: disconnect now, so WhatsApp delivers it again
		// after the next login rather than whenever the socket next drops.
		h.guard.check(err, "message store")
		return true, false
	}
	return true, true
}

func eventName(evt any) string {
	switch evt.(type) {
	case *events.Message:
		return "message"
	case *events.Receipt:
		return "receipt"
	case *events.Archive:
		return "archive"
	case *events.MarkChatAsRead:
		return "mark_chat_as_read"
	case *events.DeleteChat:
		return "delete_chat"
	case *events.Star:
		return "star"
	case *events.JoinedGroup:
		return "joined_group"
	case *events.GroupInfo:
		return "group_info"
	}
	return "other"
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
	case msg.GetPollCreationMessage() != nil || msg.GetPollCreationMessageV2() != nil || msg.GetPollCreationMessageV3() != nil:
		p := msg.GetPollCreationMessage()
		if p == nil {
			p = msg.GetPollCreationMessageV2()
		}
		if p == nil {
			p = msg.GetPollCreationMessageV3()
		}
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
