package whatsapp

import (
	"context"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Block implements gateway.MessagingRuntime.
func (m *Manager) Block(ctx context.Context, sid uuid.UUID, jid string, block bool) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	j, err := parseChat(jid)
	if err != nil {
		return err
	}
	if j.Server == types.GroupServer {
		return gateway.E(gateway.CodeInvalid, "jid must be a contact, not a group")
	}
	action := events.BlocklistChangeActionUnblock
	if block {
		action = events.BlocklistChangeActionBlock
	}
	if _, err := cli.UpdateBlocklist(ctx, j, action); err != nil {
		return TranslateError(err)
	}
	return nil
}

// ProfilePictureURL implements gateway.MessagingRuntime: nil when the
// contact has no picture or hides it from this account.
func (m *Manager) ProfilePictureURL(ctx context.Context, sid uuid.UUID, jid string) (*string, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, err
	}
	j, err := parseChat(jid)
	if err != nil {
		return nil, err
	}
	info, err := cli.GetProfilePictureInfo(ctx, j, &whatsmeow.GetProfilePictureParams{})
	switch {
	case noProfilePicture(err):
		return nil, nil
	case err != nil:
		return nil, TranslateError(err)
	case info == nil || info.URL == "":
		return nil, nil
	}
	url := info.URL
	return &url, nil
}
