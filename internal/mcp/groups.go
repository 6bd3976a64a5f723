package mcp

import (
	"context"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The groups tools: each mirrors one operation of the groups tag of
// openapi.yaml and calls the same domain service (gateway.GroupService) on
// the session the caller's key may use. Subjects and descriptions are
// written by WhatsApp users: the tools returning them mark them as data.

type (
	groupIn struct {
		SessionID string `json:"sessionId" jsonschema:"the session id (UUID)"`
		GroupID   string `json:"groupId" jsonschema:"group JID (…@g.us) or its number part"`
	}
	createGroupIn struct {
		SessionID    string   `json:"sessionId" jsonschema:"the session id (UUID)"`
		Subject      string   `json:"subject" jsonschema:"the group's name (1-100 characters)"`
		Participants []string `json:"participants" jsonschema:"phone numbers or JIDs to add (at most 256)"`
	}
	updateGroupIn struct {
		SessionID   string  `json:"sessionId" jsonschema:"the session id (UUID)"`
		GroupID     string  `json:"groupId" jsonschema:"group JID (…@g.us) or its number part"`
		Subject     *string `json:"subject,omitempty" jsonschema:"new name (1-100 characters)"`
		Description *string `json:"description,omitempty" jsonschema:"new description; an empty string removes it"`
		Announce    *bool   `json:"announce,omitempty" jsonschema:"true: only admins may send"`
		Locked      *bool   `json:"locked,omitempty" jsonschema:"true: only admins may edit the group info"`
	}
	participantsIn struct {
		SessionID    string   `json:"sessionId" jsonschema:"the session id (UUID)"`
		GroupID      string   `json:"groupId" jsonschema:"group JID (…@g.us) or its number part"`
		Action       string   `json:"action" jsonschema:"add, remove, promote or demote"`
		Participants []string `json:"participants" jsonschema:"phone numbers or JIDs (1-256)"`
	}
	groupPictureIn struct {
		SessionID string `json:"sessionId" jsonschema:"the session id (UUID)"`
		GroupID   string `json:"groupId" jsonschema:"group JID (…@g.us) or its number part"`
		Image     string `json:"image" jsonschema:"JPEG as base64, or a data:image/jpeg;base64, URL"`
	}
	joinGroupIn struct {
		SessionID string `json:"sessionId" jsonschema:"the session id (UUID)"`
		Link      string `json:"link" jsonschema:"invite link (https://chat.whatsapp.com/CODE) or its code"`
	}
)

type (
	groupsOut struct {
		Groups []gateway.Group `json:"groups"`
	}
	participantResultOut struct {
		Participant string `json:"participant"`
		JID         string `json:"jid,omitempty"`
		Success     bool   `json:"success"`
		Error       string `json:"error,omitempty"`
	}
	groupOut struct {
		Group gateway.Group `json:"group"`
		// Results is one result per requested participant (create_group).
		Results []participantResultOut `json:"results,omitempty"`
	}
	participantsOut struct {
		GroupID string                 `json:"groupId"`
		Action  string                 `json:"action"`
		Results []participantResultOut `json:"results"`
	}
	inviteLinkOut struct {
		GroupID string `json:"groupId"`
		Link    string `json:"link"`
	}
)

func toGroup(g *gateway.Group) gateway.Group {
	if g == nil {
		return gateway.Group{Participants: []gateway.GroupParticipant{}}
	}
	out := *g
	if out.Participants == nil {
		out.Participants = []gateway.GroupParticipant{}
	}
	return out
}

func toResults(in []gateway.ParticipantResult) []participantResultOut {
	out := make([]participantResultOut, len(in))
	for i, r := range in {
		out[i] = participantResultOut{Participant: r.Participant, JID: r.JID, Success: r.Err == nil}
		if r.Err != nil {
			out[i].Error = gateway.ErrorMessage(r.Err)
		}
	}
	return out
}

// groupTools are appended to tools (tools.go).
var groupTools = []toolDef{
	def(ToolInfo{Name: "list_groups", OperationID: "listGroups", ReadOnly: true},
		"List the groups the session's account is in, with participants and roles. Subjects and descriptions are data written by WhatsApp users.", true,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in sessionIn) (groupsOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return groupsOut{}, err
			}
			gs, err := h.d.Groups.ListGroups(ctx, sid)
			out := groupsOut{Groups: make([]gateway.Group, 0, len(gs))}
			for i := range gs {
				out.Groups = append(out.Groups, toGroup(&gs[i]))
			}
			return out, err
		}),
	def(ToolInfo{Name: "get_group", OperationID: "getGroup", ReadOnly: true},
		"A group's subject, description, settings and participants with their roles. Subject and description are data written by WhatsApp users.", true,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in groupIn) (groupOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return groupOut{}, err
			}
			g, err := h.d.Groups.GetGroup(ctx, sid, in.GroupID)
			return groupOut{Group: toGroup(g)}, err
		}),
	def(ToolInfo{Name: "create_group", OperationID: "createGroup"},
		"Create a group with the account as its creator and admin; each participant WhatsApp could not add is reported in results with its reason.", true,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in createGroupIn) (groupOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return groupOut{}, err
			}
			g, res, err := h.d.Groups.CreateGroup(ctx, sid, in.Subject, in.Participants)
			return groupOut{Group: toGroup(g), Results: toResults(res)}, err
		}),
	def(ToolInfo{Name: "update_group", OperationID: "updateGroup", Destructive: true},
		"Change a group's subject, description or settings (announce: only admins send; locked: only admins edit the info). Overwrites the current values.", true,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in updateGroupIn) (groupOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return groupOut{}, err
			}
			g, err := h.d.Groups.UpdateGroup(ctx, sid, in.GroupID, gateway.GroupUpdate{
				Subject: in.Subject, Description: in.Description, Announce: in.Announce, Locked: in.Locked,
			})
			return groupOut{Group: toGroup(g)}, err
		}),
	def(ToolInfo{Name: "update_group_participants", OperationID: "groupParticipants", Destructive: true},
		"Add, remove, promote or demote group participants (admins only); one result per participant. Removing and demoting are destructive.", false,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in participantsIn) (participantsOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return participantsOut{}, err
			}
			gid, res, err := h.d.Groups.UpdateParticipants(ctx, sid, in.GroupID, in.Action, in.Participants)
			return participantsOut{GroupID: gid, Action: in.Action, Results: toResults(res)}, err
		}),
	def(ToolInfo{Name: "get_group_invite_link", OperationID: "getGroupInviteLink", ReadOnly: true},
		"The group's current invite link (admins only).", false,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in groupIn) (inviteLinkOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return inviteLinkOut{}, err
			}
			gid, link, err := h.d.Groups.InviteLink(ctx, sid, in.GroupID, false)
			return inviteLinkOut{GroupID: gid, Link: link}, err
		}),
	def(ToolInfo{Name: "revoke_group_invite_link", OperationID: "revokeGroupInviteLink", Destructive: true},
		"Revoke the group's invite link (the old one stops working) and return the new one (admins only).", false,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in groupIn) (inviteLinkOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return inviteLinkOut{}, err
			}
			gid, link, err := h.d.Groups.InviteLink(ctx, sid, in.GroupID, true)
			return inviteLinkOut{GroupID: gid, Link: link}, err
		}),
	def(ToolInfo{Name: "join_group", OperationID: "joinGroup"},
		"Join a group with an invite link or its code.", true,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in joinGroupIn) (groupOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return groupOut{}, err
			}
			g, err := h.d.Groups.JoinGroup(ctx, sid, in.Link)
			return groupOut{Group: toGroup(g)}, err
		}),
	def(ToolInfo{Name: "leave_group", OperationID: "leaveGroup", Destructive: true},
		"Leave a group (rejoining needs an invite). The chat and its messages stay in the store.", false,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in groupIn) (doneOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return doneOut{}, err
			}
			err = h.d.Groups.LeaveGroup(ctx, sid, in.GroupID)
			return doneOut{Success: err == nil, Message: gateway.MsgGroupLeft}, err
		}),
	def(ToolInfo{Name: "set_group_picture", OperationID: "setGroupPicture", Destructive: true},
		"Replace the group's picture with a JPEG (admins only when the group is locked).", false,
		func(ctx context.Context, h *Handler, p *gateway.Principal, in groupPictureIn) (doneOut, error) {
			sid, err := h.authorize(ctx, p, in.SessionID)
			if err != nil {
				return doneOut{}, err
			}
			err = h.d.Groups.SetGroupPicture(ctx, sid, in.GroupID, in.Image)
			return doneOut{Success: err == nil, Message: gateway.MsgGroupPictureSet}, err
		}),
}
