package sandbox

import (
	"context"
	"errors"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// The group part of gateway.Sandbox, on the Control's GroupControl.

const (
	msgBadGroupPhone   = "owner, participants, from and by must be phone numbers in international format"
	msgUnknownSimPhone = "The number is not a simulated WhatsApp account"
)

func (s *Service) groups() (GroupControl, error) {
	gc, ok := s.Control.(GroupControl)
	if !ok {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgRouteNotFound)
	}
	return gc, nil
}

// groupError maps the simulator's refusals to the gateway's texts.
func groupError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wasim.ErrGroupNotFound):
		return gateway.Wrap(gateway.CodeNotFound, gateway.MsgGroupNotFound, err)
	case errors.Is(err, wasim.ErrNotGroupMember):
		return gateway.Wrap(gateway.CodeForbidden, gateway.MsgNotGroupMember, err)
	case errors.Is(err, wasim.ErrNotGroupAdmin):
		return gateway.Wrap(gateway.CodeForbidden, gateway.MsgNotGroupAdmin, err)
	case errors.Is(err, wasim.ErrUnknownNumber):
		return gateway.Wrap(gateway.CodeNotFound, msgUnknownSimPhone, err)
	case errors.Is(err, wasim.ErrInvalidRequest):
		return gateway.Wrap(gateway.CodeInvalid, "The simulator refused the request as invalid", err)
	}
	return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
}

func phones(in ...string) ([]string, error) {
	out := make([]string, len(in))
	for i, p := range in {
		d, err := waid.ParsePhone("phone", p)
		if err != nil {
			return nil, gateway.Wrap(gateway.CodeInvalid, msgBadGroupPhone, err)
		}
		out[i] = d
	}
	return out, nil
}

func groupJID(groupID string) (string, error) {
	j, err := waid.ParseGroup("groupId", groupID)
	if err != nil {
		return "", err
	}
	return j.String(), nil
}

// CreateGroup implements gateway.Sandbox.
func (s *Service) CreateGroup(ctx context.Context, subject, owner string, participants []string, lid bool) (string, error) {
	gc, err := s.groups()
	if err != nil {
		return "", err
	}
	ps, err := phones(append([]string{owner}, participants...)...)
	if err != nil {
		return "", err
	}
	gid, err := gc.CreateGroup(ctx, subject, ps[0], ps[1:], lid)
	return gid, groupError(err)
}

// GroupInbound implements gateway.Sandbox.
func (s *Service) GroupInbound(ctx context.Context, groupID, from, text string) (string, error) {
	gc, err := s.groups()
	if err != nil {
		return "", err
	}
	gid, err := groupJID(groupID)
	if err != nil {
		return "", err
	}
	ps, err := phones(from)
	if err != nil {
		return "", err
	}
	id, err := gc.GroupSend(ctx, gid, ps[0], text)
	return id, groupError(err)
}

// GroupParticipants implements gateway.Sandbox.
func (s *Service) GroupParticipants(ctx context.Context, groupID, action, by string, list []string) ([]gateway.SandboxParticipantResult, error) {
	gc, err := s.groups()
	if err != nil {
		return nil, err
	}
	gid, err := groupJID(groupID)
	if err != nil {
		return nil, err
	}
	ps, err := phones(append([]string{by}, list...)...)
	if err != nil {
		return nil, err
	}
	res, err := gc.GroupParticipants(ctx, gid, action, ps[0], ps[1:])
	if err != nil {
		return nil, groupError(err)
	}
	out := make([]gateway.SandboxParticipantResult, len(res))
	for i, r := range res {
		out[i] = gateway.SandboxParticipantResult{Phone: r.Phone, Error: r.Error}
	}
	return out, nil
}

// Group implements gateway.Sandbox.
func (s *Service) Group(ctx context.Context, groupID string) (gateway.SandboxGroup, error) {
	gc, err := s.groups()
	if err != nil {
		return gateway.SandboxGroup{}, err
	}
	gid, err := groupJID(groupID)
	if err != nil {
		return gateway.SandboxGroup{}, err
	}
	g, err := gc.Group(ctx, gid)
	if err != nil {
		return gateway.SandboxGroup{}, groupError(err)
	}
	out := gateway.SandboxGroup{
		JID: g.JID, Subject: g.Subject, Description: g.Description, Creator: g.Creator, Announce: g.Announce, Locked: g.Locked,
		AddressingMode: g.AddressingMode, InviteCode: g.InviteCode, Participants: []gateway.SandboxGroupParticipant{},
	}
	for _, p := range g.Participants {
		out.Participants = append(out.Participants, gateway.SandboxGroupParticipant{Phone: p.Phone, JID: p.JID, LID: p.LID, Role: p.Role})
	}
	return out, nil
}
