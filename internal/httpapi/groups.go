package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Groups implements the groups tag on the group service.
type Groups struct {
	Service gateway.GroupService
}

func groupOut(g *gateway.Group) api.Group {
	out := api.Group{
		Id: g.JID, Subject: g.Subject, Description: g.Description, Announce: g.Announce, Locked: g.Locked,
		AddressingMode: api.GroupAddressingMode(g.AddressingMode), Participants: make([]api.GroupParticipant, len(g.Participants)),
	}
	if g.Owner != "" {
		out.Owner = &g.Owner
	}
	if !g.CreatedAt.IsZero() {
		t := g.CreatedAt
		out.CreatedAt = &t
	}
	for i, p := range g.Participants {
		gp := api.GroupParticipant{Jid: p.JID, Role: api.GroupParticipantRole(p.Role)}
		if p.Phone != "" {
			gp.Phone = &p.Phone
		}
		if p.LID != "" {
			gp.Lid = &p.LID
		}
		out.Participants[i] = gp
	}
	return out
}

func participantResults(in []gateway.ParticipantResult) []api.GroupParticipantResult {
	out := make([]api.GroupParticipantResult, len(in))
	for i, r := range in {
		res := api.GroupParticipantResult{Participant: r.Participant, Success: r.Err == nil}
		if r.JID != "" {
			res.Jid = &r.JID
		}
		if r.Err != nil {
			msg := gateway.ErrorMessage(r.Err)
			res.Error = &msg
		}
		out[i] = res
	}
	return out
}

func recipients(in []api.Recipient) []string {
	out := make([]string, len(in))
	copy(out, in)
	return out
}

// ListGroups lists the groups the account is in.
func (h *Groups) ListGroups(ctx context.Context, r api.ListGroupsRequestObject) (api.ListGroupsResponseObject, error) {
	gs, err := h.Service.ListGroups(ctx, r.Id)
	if err != nil {
		return nil, err
	}
	out := api.ListGroups200JSONResponse{Success: true, Groups: make([]api.Group, len(gs))}
	for i := range gs {
		out.Groups[i] = groupOut(&gs[i])
	}
	return out, nil
}

// CreateGroup creates a group.
func (h *Groups) CreateGroup(ctx context.Context, r api.CreateGroupRequestObject) (api.CreateGroupResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	g, res, err := h.Service.CreateGroup(ctx, r.Id, r.Body.Subject, recipients(r.Body.Participants))
	if err != nil {
		return nil, err
	}
	return api.CreateGroup200JSONResponse{Success: true, Group: groupOut(g), Results: participantResults(res)}, nil
}

// JoinGroup joins a group with an invite link.
func (h *Groups) JoinGroup(ctx context.Context, r api.JoinGroupRequestObject) (api.JoinGroupResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	g, err := h.Service.JoinGroup(ctx, r.Id, r.Body.Link)
	if err != nil {
		return nil, err
	}
	return api.JoinGroup200JSONResponse{Success: true, Group: groupOut(g)}, nil
}

// GetGroup returns a group.
func (h *Groups) GetGroup(ctx context.Context, r api.GetGroupRequestObject) (api.GetGroupResponseObject, error) {
	g, err := h.Service.GetGroup(ctx, r.Id, r.GroupId)
	if err != nil {
		return nil, err
	}
	return api.GetGroup200JSONResponse{Success: true, Group: groupOut(g)}, nil
}

// UpdateGroup changes a group's subject, description or settings.
func (h *Groups) UpdateGroup(ctx context.Context, r api.UpdateGroupRequestObject) (api.UpdateGroupResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	g, err := h.Service.UpdateGroup(ctx, r.Id, r.GroupId, gateway.GroupUpdate{
		Subject: r.Body.Subject, Description: r.Body.Description, Announce: r.Body.Announce, Locked: r.Body.Locked,
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateGroup200JSONResponse{Success: true, Group: groupOut(g)}, nil
}

// GroupParticipants adds, removes, promotes or demotes participants.
func (h *Groups) GroupParticipants(ctx context.Context, r api.GroupParticipantsRequestObject) (api.GroupParticipantsResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	action := string(r.Body.Action)
	gid, res, err := h.Service.UpdateParticipants(ctx, r.Id, r.GroupId, action, recipients(r.Body.Participants))
	if err != nil {
		return nil, err
	}
	return api.GroupParticipants200JSONResponse{Success: true, GroupId: gid, Action: action, Results: participantResults(res)}, nil
}

// GetGroupInviteLink returns the group's invite link.
func (h *Groups) GetGroupInviteLink(ctx context.Context, r api.GetGroupInviteLinkRequestObject) (api.GetGroupInviteLinkResponseObject, error) {
	gid, link, err := h.Service.InviteLink(ctx, r.Id, r.GroupId, false)
	if err != nil {
		return nil, err
	}
	return api.GetGroupInviteLink200JSONResponse{Success: true, GroupId: gid, Link: link}, nil
}

// RevokeGroupInviteLink revokes the invite link and returns the new one.
func (h *Groups) RevokeGroupInviteLink(ctx context.Context, r api.RevokeGroupInviteLinkRequestObject) (api.RevokeGroupInviteLinkResponseObject, error) {
	gid, link, err := h.Service.InviteLink(ctx, r.Id, r.GroupId, true)
	if err != nil {
		return nil, err
	}
	return api.RevokeGroupInviteLink200JSONResponse{Success: true, GroupId: gid, Link: link}, nil
}

// LeaveGroup leaves a group.
func (h *Groups) LeaveGroup(ctx context.Context, r api.LeaveGroupRequestObject) (api.LeaveGroupResponseObject, error) {
	if err := h.Service.LeaveGroup(ctx, r.Id, r.GroupId); err != nil {
		return nil, err
	}
	return api.LeaveGroup200JSONResponse{Success: true, Message: gateway.MsgGroupLeft}, nil
}

// SetGroupPicture sets the group's picture (a JPEG).
func (h *Groups) SetGroupPicture(ctx context.Context, r api.SetGroupPictureRequestObject) (api.SetGroupPictureResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	if err := h.Service.SetGroupPicture(ctx, r.Id, r.GroupId, r.Body.Image); err != nil {
		return nil, err
	}
	return api.SetGroupPicture200JSONResponse{Success: true, Message: gateway.MsgGroupPictureSet}, nil
}
