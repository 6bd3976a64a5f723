package whatsapp

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/appstate"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// senderJID is the author of a stored message for message keys: empty for
// own messages (whatsmeow then marks the key fromMe).
func senderJID(k gateway.MessageKey) types.JID {
	if k.FromMe || k.Sender == "" {
		return types.EmptyJID
	}
	j, err := types.ParseJID(k.Sender)
	if err != nil {
		return types.EmptyJID
	}
	return j.ToNonAD()
}

// Revoke implements gateway.MessagingRuntime (delete for everyone).
func (m *Manager) Revoke(ctx context.Context, sid uuid.UUID, target gateway.MessageKey) error {
	_, _, err := m.sendOp(ctx, sid, target.ChatJID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		return cli.BuildRevoke(chat, senderJID(target), target.ID)
	})
	return err
}

// Edit implements gateway.MessagingRuntime.
func (m *Manager) Edit(ctx context.Context, sid uuid.UUID, target gateway.MessageKey, text string) (time.Time, error) {
	resp, _, err := m.sendOp(ctx, sid, target.ChatJID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		return cli.BuildEdit(chat, target.ID, &waE2E.Message{Conversation: proto.String(text)})
	})
	return resp.Timestamp.UTC(), err
}

// React implements gateway.MessagingRuntime; the key names the original
// author, as WhatsApp requires.
func (m *Manager) React(ctx context.Context, sid uuid.UUID, target gateway.MessageKey, emoji string) (time.Time, error) {
	resp, _, err := m.sendOp(ctx, sid, target.ChatJID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		return cli.BuildReaction(chat, senderJID(target), target.ID, emoji)
	})
	return resp.Timestamp.UTC(), err
}

// Pin implements gateway.MessagingRuntime. whatsmeow has no builder; the
// pinned version sends PinInChatMessage with edit="2", which WhatsApp needs.
func (m *Manager) Pin(ctx context.Context, sid uuid.UUID, target gateway.MessageKey, d time.Duration) (time.Time, error) {
	resp, _, err := m.sendOp(ctx, sid, target.ChatJID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		typ := waE2E.PinInChatMessage_PIN_FOR_ALL
		if d <= 0 {
			typ = waE2E.PinInChatMessage_UNPIN_FOR_ALL
		}
		msg := &waE2E.Message{PinInChatMessage: &waE2E.PinInChatMessage{
			Key:               cli.BuildMessageKey(chat, senderJID(target), target.ID),
			Type:              typ.Enum(),
			SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
		}}
		if d > 0 {
			msg.MessageContextInfo = &waE2E.MessageContextInfo{
				MessageAddOnDurationInSecs: proto.Uint32(uint32(d / time.Second)),
				MessageAddOnExpiryType:     waE2E.MessageContextInfo_STATIC.Enum(),
			}
		}
		return msg
	})
	return resp.Timestamp.UTC(), err
}

// sendAppState sends an app-state patch on the session's client.
func (m *Manager) sendAppState(ctx context.Context, sid uuid.UUID, patch func(cli *whatsmeow.Client) (appstate.PatchInfo, error)) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	p, err := patch(cli)
	if err != nil {
		return err
	}
	return translateAppStateError(cli.SendAppState(ctx, p))
}

// Star implements gateway.MessagingRuntime. The star index names the
// message's participant only for others' messages in groups ("0" otherwise),
// so the sender passed to BuildStar is the chat itself in every other case.
func (m *Manager) Star(ctx context.Context, sid uuid.UUID, target gateway.MessageKey, star bool) error {
	return m.sendAppState(ctx, sid, func(_ *whatsmeow.Client) (appstate.PatchInfo, error) {
		chat, err := parseChat(target.ChatJID)
		if err != nil {
			return appstate.PatchInfo{}, err
		}
		sender := chat
		if chat.Server == types.GroupServer && !target.FromMe {
			sender = senderJID(target)
		}
		return appstate.BuildStar(chat, sender, target.ID, target.FromMe, star), nil
	})
}

// lastMessage is the chat's real last message (time and key) for the
// message range of archive, mark-unread and delete-chat patches.
func lastMessage(c gateway.Chat, chat types.JID) (time.Time, *waCommon.MessageKey) {
	if c.LastMessage == nil || c.LastMessageAt == nil {
		return time.Time{}, nil
	}
	k := &waCommon.MessageKey{
		RemoteJID: proto.String(chat.String()),
		FromMe:    proto.Bool(c.LastMessage.FromMe),
		ID:        proto.String(c.LastMessage.ID),
	}
	if chat.Server == types.GroupServer && !c.LastMessage.FromMe && c.LastMessage.Sender != "" {
		k.Participant = proto.String(c.LastMessage.Sender)
	}
	return *c.LastMessageAt, k
}

// Archive implements gateway.MessagingRuntime.
func (m *Manager) Archive(ctx context.Context, sid uuid.UUID, c gateway.Chat, archive bool) error {
	return m.sendAppState(ctx, sid, func(_ *whatsmeow.Client) (appstate.PatchInfo, error) {
		chat, err := parseChat(c.JID)
		if err != nil {
			return appstate.PatchInfo{}, err
		}
		ts, key := lastMessage(c, chat)
		return appstate.BuildArchive(chat, archive, ts, key), nil
	})
}

// MarkUnread implements gateway.MessagingRuntime.
func (m *Manager) MarkUnread(ctx context.Context, sid uuid.UUID, c gateway.Chat) error {
	return m.sendAppState(ctx, sid, func(_ *whatsmeow.Client) (appstate.PatchInfo, error) {
		chat, err := parseChat(c.JID)
		if err != nil {
			return appstate.PatchInfo{}, err
		}
		ts, key := lastMessage(c, chat)
		return appstate.BuildMarkChatAsRead(chat, false, ts, key), nil
	})
}

// DeleteChat implements gateway.MessagingRuntime. Media is deleted too: the
// API promises the chat's messages are permanently deleted from the device.
func (m *Manager) DeleteChat(ctx context.Context, sid uuid.UUID, c gateway.Chat) error {
	return m.sendAppState(ctx, sid, func(_ *whatsmeow.Client) (appstate.PatchInfo, error) {
		chat, err := parseChat(c.JID)
		if err != nil {
			return appstate.PatchInfo{}, err
		}
		ts, key := lastMessage(c, chat)
		return appstate.BuildDeleteChat(chat, ts, key, true), nil
	})
}
