// Package conversation is the domain service of conversation state (read
// receipts, own presence, typing, presence subscriptions), the contact
// directory (contacts, number checks, LID lookups) and calls: the rules
// and the inputs' validation; the WhatsApp side is behind the small ports
// of internal/gateway/conversation.go.
package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Runtime is what the service needs from the WhatsApp adapter
// (*whatsapp.Manager implements it).
type Runtime interface {
	// ResolveChat canonicalises a chat JID (gateway.MessagingRuntime).
	ResolveChat(ctx context.Context, sessionID uuid.UUID, jid string) (gateway.ChatRef, error)
	gateway.ReadReceiptSender
	gateway.PresenceSender
	gateway.ContactDirectory
	gateway.CallRejecter
}

// Store is what the service reads and changes in the message store.
type Store interface {
	GetMessage(ctx context.Context, sessionID uuid.UUID, chat gateway.ChatRef, id string) (*gateway.Message, error)
	ListMessages(ctx context.Context, sessionID uuid.UUID, chat gateway.ChatRef, p gateway.Page) ([]gateway.Message, string, error)
	GetChat(ctx context.Context, sessionID uuid.UUID, chat gateway.ChatRef) (*gateway.Chat, error)
	ApplyChanges(ctx context.Context, sessionID uuid.UUID, changes []gateway.InboundChange) error
}

// Service implements gateway.ConversationService.
type Service struct {
	wa    Runtime
	store Store
	now   func() time.Time
}

var _ gateway.ConversationService = (*Service)(nil)

// New returns the service on the WhatsApp adapter and the message store.
func New(wa Runtime, store Store) *Service {
	return &Service{wa: wa, store: store, now: time.Now}
}

func (s *Service) resolve(ctx context.Context, sid uuid.UUID, field, id string) (gateway.ChatRef, error) {
	j, err := waid.Parse(field, id)
	if err != nil {
		return gateway.ChatRef{}, err
	}
	return s.wa.ResolveChat(ctx, sid, j.String())
}

// MarkRead implements gateway.ConversationService. The receipts name the
// chat's received messages, newest first: the unread ones (the chat's
// unread count), or with messageID that message and the unread ones sent
// strictly before it (timestamps have second resolution: messages of the
// same second stay unread); when none is unread, the last received one. Group
// receipts are sent once per sender, as WhatsApp requires.
func (s *Service) MarkRead(ctx context.Context, sid uuid.UUID, chatID, messageID string) (string, []string, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", nil, err
	}
	chat, err := s.store.GetChat(ctx, sid, ref)
	if err != nil {
		return "", nil, err
	}
	var upTo *gateway.Message
	if messageID != "" {
		if upTo, err = s.store.GetMessage(ctx, sid, ref, messageID); err != nil {
			return "", nil, err
		}
		if upTo.FromMe {
			return "", nil, gateway.E(gateway.CodeInvalid, gateway.MsgReadOwnMessage)
		}
	}
	want := min(max(chat.UnreadCount, 1), gateway.MaxReadReceipts)
	var picked []gateway.Message
	started, skipped := upTo == nil, false // skipped: newer received messages stay unread
	page := gateway.Page{Limit: 100}
	for len(picked) < want {
		msgs, next, err := s.store.ListMessages(ctx, sid, ref, page)
		if err != nil {
			return "", nil, err
		}
		for _, m := range msgs {
			if len(picked) >= want {
				break
			}
			if !started && m.ID == upTo.ID {
				started = true
			}
			if m.FromMe || m.Revoked {
				continue
			}
			if !started || (upTo != nil && m.ID != upTo.ID && !m.Timestamp.Before(upTo.Timestamp)) {
				skipped = true // newer than (or as old as) the message named: stays unread
				continue
			}
			picked = append(picked, m)
		}
		if next == "" || len(msgs) == 0 {
			break
		}
		page.Cursor = next
	}
	if len(picked) == 0 {
		return "", nil, gateway.E(gateway.CodeNotFound, gateway.MsgChatNotFound)
	}
	bySender := map[string][]string{}
	var order []string
	for _, m := range picked {
		if _, ok := bySender[m.Sender]; !ok {
			order = append(order, m.Sender)
		}
		bySender[m.Sender] = append(bySender[m.Sender], m.ID)
	}
	ids := make([]string, 0, len(picked))
	at := s.now()
	for _, sender := range order {
		if err := s.wa.MarkRead(ctx, sid, ref.JID, sender, bySender[sender], at); err != nil {
			return "", nil, err
		}
		ids = append(ids, bySender[sender]...)
	}
	if !skipped {
		// Everything unread was named: the chat is read (no event, as
		// for a chat read on the phone).
		_ = s.store.ApplyChanges(ctx, sid, []gateway.InboundChange{{Kind: gateway.ChangeMarkUnread, Chat: ref, Flag: false, Timestamp: at}})
	}
	return ref.JID, ids, nil
}

// SetPresence implements gateway.ConversationService.
func (s *Service) SetPresence(ctx context.Context, sid uuid.UUID, state string) error {
	switch state {
	case gateway.PresenceAvailable, gateway.PresenceUnavailable:
	default:
		return gateway.E(gateway.CodeInvalid, gateway.MsgBadPresenceState)
	}
	return s.wa.SendPresence(ctx, sid, state == gateway.PresenceAvailable)
}

// SetTyping implements gateway.ConversationService.
func (s *Service) SetTyping(ctx context.Context, sid uuid.UUID, chatID, state string) (string, error) {
	switch state {
	case gateway.TypingComposing, gateway.TypingRecording, gateway.TypingPaused:
	default:
		return "", gateway.E(gateway.CodeInvalid, gateway.MsgBadTypingState)
	}
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", err
	}
	return ref.JID, s.wa.SendChatState(ctx, sid, ref.JID, state)
}

// SubscribePresence implements gateway.ConversationService.
func (s *Service) SubscribePresence(ctx context.Context, sid uuid.UUID, jid string) (string, error) {
	j, err := waid.Parse("jid", jid)
	if err != nil {
		return "", err
	}
	if j.Kind() == waid.KindGroup {
		return "", gateway.E(gateway.CodeInvalid, "jid must be a contact, not a group")
	}
	ref, err := s.wa.ResolveChat(ctx, sid, j.String())
	if err != nil {
		return "", err
	}
	return ref.JID, s.wa.SubscribePresence(ctx, sid, ref.JID)
}

// ListContacts implements gateway.ConversationService.
func (s *Service) ListContacts(ctx context.Context, sid uuid.UUID) ([]gateway.Contact, error) {
	return s.wa.Contacts(ctx, sid)
}

// CheckNumbers implements gateway.ConversationService: every number must
// be a phone number (the first that is not fails the request).
func (s *Service) CheckNumbers(ctx context.Context, sid uuid.UUID, numbers []string) ([]gateway.NumberCheck, error) {
	if len(numbers) == 0 || len(numbers) > gateway.MaxCheckNumbers {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgTooManyNumbers)
	}
	phones := make([]string, len(numbers))
	for i, n := range numbers {
		p, err := waid.ParsePhone(fmt.Sprintf("numbers[%d]", i), n)
		if err != nil {
			return nil, err
		}
		phones[i] = p
	}
	res, err := s.wa.CheckNumbers(ctx, sid, phones)
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].Number = numbers[i]
	}
	return res, nil
}

// LookupLID implements gateway.ConversationService.
func (s *Service) LookupLID(ctx context.Context, sid uuid.UUID, jid string) (gateway.LIDMapping, error) {
	j, err := waid.Parse("jid", jid)
	if err != nil {
		return gateway.LIDMapping{}, err
	}
	switch j.Kind() {
	case waid.KindLID:
		pn, err := s.wa.PNForLID(ctx, sid, j.String())
		if err != nil {
			return gateway.LIDMapping{}, err
		}
		if pn == "" {
			return gateway.LIDMapping{}, gateway.E(gateway.CodeNotFound, gateway.MsgNoPNForLID)
		}
		return gateway.LIDMapping{PN: pn, LID: j.String()}, nil
	case waid.KindUser:
		lid, err := s.wa.LIDForPN(ctx, sid, j.String(), true)
		if err != nil {
			return gateway.LIDMapping{}, err
		}
		if lid == "" {
			return gateway.LIDMapping{}, gateway.E(gateway.CodeNotFound, gateway.MsgNotOnWhatsApp)
		}
		return gateway.LIDMapping{PN: j.String(), LID: lid}, nil
	}
	return gateway.LIDMapping{}, gateway.E(gateway.CodeInvalid, "jid must be a phone number, a phone JID or a LID, not a group")
}

// RejectCall implements gateway.ConversationService.
func (s *Service) RejectCall(ctx context.Context, sid uuid.UUID, callID string) error {
	if callID == "" {
		return gateway.E(gateway.CodeNotFound, gateway.MsgCallNotFound)
	}
	return s.wa.RejectCall(ctx, sid, callID)
}
