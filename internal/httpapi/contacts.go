package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Contacts implements the contacts tag (block, unblock, profile picture) on
// the messaging service.
type Contacts struct {
	Service gateway.MessagingService
}

func (h *Contacts) block(ctx context.Context, sid api.SessionId, body *api.JidRequest, block bool) (api.ChatActionResponse, error) {
	if body == nil {
		return api.ChatActionResponse{}, gateway.E(gateway.CodeInvalid, "jid is required")
	}
	jid, err := h.Service.BlockContact(ctx, sid, body.Jid, block)
	if err != nil {
		return api.ChatActionResponse{}, err
	}
	msg := gateway.MsgContactUnblocked
	if block {
		msg = gateway.MsgContactBlocked
	}
	return api.ChatActionResponse{Success: true, Jid: jid, Message: msg}, nil
}

// BlockContact blocks a contact.
func (h *Contacts) BlockContact(ctx context.Context, r api.BlockContactRequestObject) (api.BlockContactResponseObject, error) {
	out, err := h.block(ctx, r.Id, r.Body, true)
	if err != nil {
		return nil, err
	}
	return api.BlockContact200JSONResponse(out), nil
}

// UnblockContact unblocks a contact.
func (h *Contacts) UnblockContact(ctx context.Context, r api.UnblockContactRequestObject) (api.UnblockContactResponseObject, error) {
	out, err := h.block(ctx, r.Id, r.Body, false)
	if err != nil {
		return nil, err
	}
	return api.UnblockContact200JSONResponse(out), nil
}

// GetProfilePicture returns a contact's picture URL, or null when there is
// none or it is hidden.
func (h *Contacts) GetProfilePicture(ctx context.Context, r api.GetProfilePictureRequestObject) (api.GetProfilePictureResponseObject, error) {
	jid, url, err := h.Service.ProfilePicture(ctx, r.Id, r.Jid)
	if err != nil {
		return nil, err
	}
	return api.GetProfilePicture200JSONResponse{Success: true, Jid: jid, ProfilePictureUrl: url}, nil
}
