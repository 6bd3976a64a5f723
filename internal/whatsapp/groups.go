package whatsapp

import (
	"context"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// This file implements gateway.GroupRuntime on whatsmeow's group calls;
// their errors are classified by TranslateGroupError (errors.go).

var _ gateway.GroupRuntime = (*Manager)(nil)

// groupClient returns the session's client and the parsed group JID.
func (m *Manager) groupClient(sid uuid.UUID, gid string) (*whatsmeow.Client, types.JID, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, types.EmptyJID, err
	}
	j, err := types.ParseJID(gid)
	if err != nil || j.Server != types.GroupServer || j.User == "" {
		return nil, types.EmptyJID, gateway.E(gateway.CodeInvalid, "Invalid group JID")
	}
	return cli, j, nil
}

// userJIDs parses participant JID strings.
func userJIDs(in []string) ([]types.JID, error) {
	out := make([]types.JID, len(in))
	for i, s := range in {
		j, err := types.ParseJID(s)
		if err != nil || j.User == "" {
			return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid participant JID %q", s)
		}
		out[i] = j.ToNonAD()
	}
	return out, nil
}

// toGroup converts whatsmeow's group info; participants WhatsApp reports
// with an error (a failed add at create) are left out.
func (m *Manager) toGroup(ctx context.Context, info *types.GroupInfo) *gateway.Group {
	g := &gateway.Group{
		JID:            info.JID.ToNonAD().String(),
		Subject:        info.Name,
		Description:    info.Topic,
		CreatedAt:      info.GroupCreated.UTC(),
		Announce:       info.IsAnnounce,
		Locked:         info.IsLocked,
		AddressingMode: string(info.AddressingMode),
		Participants:   []gateway.GroupParticipant{},
	}
	if g.AddressingMode == "" {
		g.AddressingMode = string(types.AddressingModePN)
	}
	if owner := info.OwnerPN; !owner.IsEmpty() {
		g.Owner = m.userJID(ctx, owner, info.OwnerJID)
	} else if !info.OwnerJID.IsEmpty() {
		g.Owner = m.userJID(ctx, info.OwnerJID, types.EmptyJID)
	}
	for _, p := range info.Participants {
		if p.Error != 0 {
			continue
		}
		g.Participants = append(g.Participants, m.toParticipant(ctx, p))
	}
	return g
}

func (m *Manager) toParticipant(ctx context.Context, p types.GroupParticipant) gateway.GroupParticipant {
	pn, lid := p.PhoneNumber, p.LID
	switch p.JID.Server {
	case types.DefaultUserServer:
		pn = p.JID
	case types.HiddenUserServer:
		lid = p.JID
	}
	out := gateway.GroupParticipant{Role: gateway.RoleMember}
	if p.IsSuperAdmin {
		out.Role = gateway.RoleSuperAdmin
	} else if p.IsAdmin {
		out.Role = gateway.RoleAdmin
	}
	if !lid.IsEmpty() {
		out.LID = lid.ToNonAD().String()
	}
	if pn.IsEmpty() && !lid.IsEmpty() {
		// The LID map may know the number although the group did not say.
		if j := m.userJID(ctx, lid, types.EmptyJID); j != out.LID {
			pn, _ = types.ParseJID(j)
		}
	}
	if !pn.IsEmpty() {
		out.JID = pn.ToNonAD().String()
		out.Phone = pn.User
	} else {
		out.JID = out.LID
	}
	return out
}

// outcomes matches WhatsApp's per-participant answers to the requested
// JIDs (by JID, phone number or LID), in the order requested. A requested
// participant WhatsApp did not mention counts as changed.
func outcomes(requested []types.JID, answered []types.GroupParticipant, action string) []gateway.ParticipantOutcome {
	out := make([]gateway.ParticipantOutcome, len(requested))
	for i, r := range requested {
		out[i] = gateway.ParticipantOutcome{JID: r.String()}
		for _, a := range answered {
			if a.JID.ToNonAD() == r || a.PhoneNumber.ToNonAD() == r || a.LID.ToNonAD() == r {
				out[i].Err = participantOutcomeError(a.Error, action)
				break
			}
		}
	}
	return out
}

// CreateGroup implements gateway.GroupRuntime.
func (m *Manager) CreateGroup(ctx context.Context, sid uuid.UUID, subject string, participants []string) (*gateway.Group, []gateway.ParticipantOutcome, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, nil, err
	}
	jids, err := userJIDs(participants)
	if err != nil {
		return nil, nil, err
	}
	info, err := cli.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: subject, Participants: jids})
	if err != nil {
		return nil, nil, TranslateGroupError(err, false)
	}
	return m.toGroup(ctx, info), outcomes(jids, info.Participants, gateway.ParticipantAdd), nil
}

// JoinedGroups implements gateway.GroupRuntime.
func (m *Manager) JoinedGroups(ctx context.Context, sid uuid.UUID) ([]gateway.Group, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, err
	}
	infos, err := cli.GetJoinedGroups(ctx)
	if err != nil {
		return nil, TranslateGroupError(err, false)
	}
	out := make([]gateway.Group, 0, len(infos))
	for _, info := range infos {
		out = append(out, *m.toGroup(ctx, info))
	}
	return out, nil
}

// GroupInfo implements gateway.GroupRuntime.
func (m *Manager) GroupInfo(ctx context.Context, sid uuid.UUID, gid string) (*gateway.Group, error) {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return nil, err
	}
	info, err := cli.GetGroupInfo(ctx, j)
	if err != nil {
		return nil, TranslateGroupError(err, false)
	}
	return m.toGroup(ctx, info), nil
}

// SetGroupSubject implements gateway.GroupRuntime.
func (m *Manager) SetGroupSubject(ctx context.Context, sid uuid.UUID, gid, subject string) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	return TranslateGroupError(cli.SetGroupName(ctx, j, subject), false)
}

// SetGroupDescription implements gateway.GroupRuntime: WhatsApp wants the
// id of the description it replaces, read from the group first.
func (m *Manager) SetGroupDescription(ctx context.Context, sid uuid.UUID, gid, description string) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	info, err := cli.GetGroupInfo(ctx, j)
	if err != nil {
		return TranslateGroupError(err, false)
	}
	return TranslateGroupError(cli.SetGroupTopic(ctx, j, info.TopicID, "", description), false)
}

// SetGroupAnnounce implements gateway.GroupRuntime.
func (m *Manager) SetGroupAnnounce(ctx context.Context, sid uuid.UUID, gid string, announce bool) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	return TranslateGroupError(cli.SetGroupAnnounce(ctx, j, announce), false)
}

// SetGroupLocked implements gateway.GroupRuntime.
func (m *Manager) SetGroupLocked(ctx context.Context, sid uuid.UUID, gid string, locked bool) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	return TranslateGroupError(cli.SetGroupLocked(ctx, j, locked), false)
}

// UpdateParticipants implements gateway.GroupRuntime.
func (m *Manager) UpdateParticipants(ctx context.Context, sid uuid.UUID, gid, action string, participants []string) ([]gateway.ParticipantOutcome, error) {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return nil, err
	}
	jids, err := userJIDs(participants)
	if err != nil {
		return nil, err
	}
	var change whatsmeow.ParticipantChange
	switch action {
	case gateway.ParticipantAdd:
		change = whatsmeow.ParticipantChangeAdd
	case gateway.ParticipantRemove:
		change = whatsmeow.ParticipantChangeRemove
	case gateway.ParticipantPromote:
		change = whatsmeow.ParticipantChangePromote
	case gateway.ParticipantDemote:
		change = whatsmeow.ParticipantChangeDemote
	default:
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupBadAction)
	}
	res, err := cli.UpdateGroupParticipants(ctx, j, jids, change)
	if err != nil {
		return nil, TranslateGroupError(err, false)
	}
	return outcomes(jids, res, action), nil
}

// GroupInviteLink implements gateway.GroupRuntime.
func (m *Manager) GroupInviteLink(ctx context.Context, sid uuid.UUID, gid string, reset bool) (string, error) {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return "", err
	}
	link, err := cli.GetGroupInviteLink(ctx, j, reset)
	return link, TranslateGroupError(err, false)
}

// JoinGroupWithLink implements gateway.GroupRuntime.
func (m *Manager) JoinGroupWithLink(ctx context.Context, sid uuid.UUID, code string) (string, error) {
	cli, err := m.client(sid)
	if err != nil {
		return "", err
	}
	j, err := cli.JoinGroupWithLink(ctx, code)
	if err != nil {
		return "", TranslateGroupError(err, true)
	}
	return j.ToNonAD().String(), nil
}

// LeaveGroup implements gateway.GroupRuntime.
func (m *Manager) LeaveGroup(ctx context.Context, sid uuid.UUID, gid string) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	return TranslateGroupError(cli.LeaveGroup(ctx, j), false)
}

// SetGroupPicture implements gateway.GroupRuntime.
func (m *Manager) SetGroupPicture(ctx context.Context, sid uuid.UUID, gid string, jpeg []byte) error {
	cli, j, err := m.groupClient(sid, gid)
	if err != nil {
		return err
	}
	_, err = cli.SetGroupPhoto(ctx, j, jpeg)
	return TranslateGroupError(err, false)
}
