package messaging

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Groups implements gateway.GroupService: it checks the input (group ids
// through waid.ParseGroup, participants through waid.Parse, subjects,
// links, pictures) and calls the WhatsApp side; WhatsApp decides who may
// do what (admins, members), and its refusals come back with the group
// texts of gateway/groups.go.
type Groups struct {
	wa gateway.GroupRuntime
}

var _ gateway.GroupService = (*Groups)(nil)

// NewGroups returns the group service on wa.
func NewGroups(wa gateway.GroupRuntime) *Groups { return &Groups{wa: wa} }

// maxGroupPicture caps a group picture (WhatsApp's own limit is lower; the
// HTTP body limit is the first guard).
const maxGroupPicture = 5 << 20

// inviteLinkPrefix is the form of WhatsApp's invite links.
const inviteLinkPrefix = "https://chat.whatsapp.com/"

func parseGroup(groupID string) (string, error) {
	j, err := waid.ParseGroup("groupId", groupID)
	if err != nil {
		return "", err
	}
	return j.String(), nil
}

func checkSubject(subject string) (string, error) {
	s := strings.TrimSpace(subject)
	if s == "" {
		return "", gateway.E(gateway.CodeInvalid, gateway.MsgGroupSubjectRequired)
	}
	if utf8.RuneCountInString(s) > gateway.MaxGroupSubject {
		return "", gateway.E(gateway.CodeInvalid, gateway.MsgGroupSubjectTooLong)
	}
	return s, nil
}

// participantJID parses one participant: a phone number, a phone JID or a
// LID; groups are refused.
func participantJID(p string) (string, error) {
	j, err := waid.Parse("participants", p)
	if err != nil {
		return "", err
	}
	if j.Kind() == waid.KindGroup {
		return "", gateway.Errorf(gateway.CodeInvalid, "Invalid participants: %q is a group, not a user", p)
	}
	return j.String(), nil
}

// parseParticipants parses every participant; the first bad one fails the
// request (nothing is changed).
func parseParticipants(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, p := range in {
		j, err := participantJID(p)
		if err != nil {
			return nil, err
		}
		if !seen[j] {
			seen[j] = true
			out = append(out, j)
		}
	}
	return out, nil
}

// results pairs the requested participants with WhatsApp's outcomes.
func results(requested []string, jids []string, outs []gateway.ParticipantOutcome) []gateway.ParticipantResult {
	byJID := make(map[string]error, len(outs))
	for i, o := range outs {
		if i < len(jids) {
			byJID[jids[i]] = o.Err
		}
	}
	res := make([]gateway.ParticipantResult, len(requested))
	for i, p := range requested {
		j, _ := participantJID(p)
		res[i] = gateway.ParticipantResult{Participant: p, JID: j, Err: byJID[j]}
	}
	return res
}

// CreateGroup implements gateway.GroupService.
func (g *Groups) CreateGroup(ctx context.Context, sid uuid.UUID, subject string, participants []string) (*gateway.Group, []gateway.ParticipantResult, error) {
	s, err := checkSubject(subject)
	if err != nil {
		return nil, nil, err
	}
	jids, err := parseParticipants(participants)
	if err != nil {
		return nil, nil, err
	}
	grp, outs, err := g.wa.CreateGroup(ctx, sid, s, jids)
	if err != nil {
		return nil, nil, err
	}
	return grp, results(participants, jids, outs), nil
}

// ListGroups implements gateway.GroupService.
func (g *Groups) ListGroups(ctx context.Context, sid uuid.UUID) ([]gateway.Group, error) {
	return g.wa.JoinedGroups(ctx, sid)
}

// GetGroup implements gateway.GroupService.
func (g *Groups) GetGroup(ctx context.Context, sid uuid.UUID, groupID string) (*gateway.Group, error) {
	gid, err := parseGroup(groupID)
	if err != nil {
		return nil, err
	}
	return g.wa.GroupInfo(ctx, sid, gid)
}

// UpdateGroup implements gateway.GroupService: subject, description,
// announce, locked, in that order; the first refusal stops it.
func (g *Groups) UpdateGroup(ctx context.Context, sid uuid.UUID, groupID string, u gateway.GroupUpdate) (*gateway.Group, error) {
	gid, err := parseGroup(groupID)
	if err != nil {
		return nil, err
	}
	if u.Subject == nil && u.Description == nil && u.Announce == nil && u.Locked == nil {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupUpdateEmpty)
	}
	var subject string
	if u.Subject != nil {
		if subject, err = checkSubject(*u.Subject); err != nil {
			return nil, err
		}
	}
	// Read the group first: an unknown group or a non-member is refused
	// before anything changes.
	if _, err := g.wa.GroupInfo(ctx, sid, gid); err != nil {
		return nil, err
	}
	if u.Subject != nil {
		if err := g.wa.SetGroupSubject(ctx, sid, gid, subject); err != nil {
			return nil, err
		}
	}
	if u.Description != nil {
		if err := g.wa.SetGroupDescription(ctx, sid, gid, *u.Description); err != nil {
			return nil, err
		}
	}
	if u.Announce != nil {
		if err := g.wa.SetGroupAnnounce(ctx, sid, gid, *u.Announce); err != nil {
			return nil, err
		}
	}
	if u.Locked != nil {
		if err := g.wa.SetGroupLocked(ctx, sid, gid, *u.Locked); err != nil {
			return nil, err
		}
	}
	return g.wa.GroupInfo(ctx, sid, gid)
}

// UpdateParticipants implements gateway.GroupService.
func (g *Groups) UpdateParticipants(ctx context.Context, sid uuid.UUID, groupID, action string, participants []string) (string, []gateway.ParticipantResult, error) {
	gid, err := parseGroup(groupID)
	if err != nil {
		return "", nil, err
	}
	switch action {
	case gateway.ParticipantAdd, gateway.ParticipantRemove, gateway.ParticipantPromote, gateway.ParticipantDemote:
	default:
		return "", nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupBadAction)
	}
	if len(participants) == 0 {
		return "", nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupParticipantsEmpty)
	}
	jids, err := parseParticipants(participants)
	if err != nil {
		return "", nil, err
	}
	outs, err := g.wa.UpdateParticipants(ctx, sid, gid, action, jids)
	if err != nil {
		return "", nil, err
	}
	return gid, results(participants, jids, outs), nil
}

// InviteLink implements gateway.GroupService.
func (g *Groups) InviteLink(ctx context.Context, sid uuid.UUID, groupID string, reset bool) (string, string, error) {
	gid, err := parseGroup(groupID)
	if err != nil {
		return "", "", err
	}
	link, err := g.wa.GroupInviteLink(ctx, sid, gid, reset)
	return gid, link, err
}

// inviteCode returns the code of an invite link (the link itself or its
// code); CodeInvalid MsgInvalidInviteLink for anything else.
func inviteCode(link string) (string, error) {
	s := strings.TrimSpace(link)
	if s == "" {
		return "", gateway.E(gateway.CodeInvalid, gateway.MsgInviteLinkRequired)
	}
	for _, p := range []string{inviteLinkPrefix, "http://chat.whatsapp.com/", "chat.whatsapp.com/"} {
		if strings.HasPrefix(s, p) {
			s = strings.TrimPrefix(s, p)
			break
		}
	}
	if s == "" || len(s) > 64 {
		return "", gateway.E(gateway.CodeInvalid, gateway.MsgInvalidInviteLink)
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return "", gateway.E(gateway.CodeInvalid, gateway.MsgInvalidInviteLink)
		}
	}
	return s, nil
}

// JoinGroup implements gateway.GroupService.
func (g *Groups) JoinGroup(ctx context.Context, sid uuid.UUID, link string) (*gateway.Group, error) {
	code, err := inviteCode(link)
	if err != nil {
		return nil, err
	}
	gid, err := g.wa.JoinGroupWithLink(ctx, sid, code)
	if err != nil {
		return nil, err
	}
	return g.wa.GroupInfo(ctx, sid, gid)
}

// LeaveGroup implements gateway.GroupService.
func (g *Groups) LeaveGroup(ctx context.Context, sid uuid.UUID, groupID string) error {
	gid, err := parseGroup(groupID)
	if err != nil {
		return err
	}
	return g.wa.LeaveGroup(ctx, sid, gid)
}

// decodeJPEG decodes a group picture given as base64 or a data: URL and
// checks it is a JPEG.
func decodeJPEG(image string) ([]byte, error) {
	s := strings.TrimSpace(image)
	if strings.HasPrefix(s, "data:") {
		comma := strings.IndexByte(s, ',')
		if comma < 0 || !strings.HasSuffix(strings.ToLower(s[:comma]), ";base64") {
			return nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupPictureNotJPEG)
		}
		s = s[comma+1:]
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupPictureNotJPEG)
		}
	}
	if len(data) > maxGroupPicture {
		return nil, gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)
	}
	if len(data) < 4 || !bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}) {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgGroupPictureNotJPEG)
	}
	return data, nil
}

// SetGroupPicture implements gateway.GroupService.
func (g *Groups) SetGroupPicture(ctx context.Context, sid uuid.UUID, groupID, image string) error {
	gid, err := parseGroup(groupID)
	if err != nil {
		return err
	}
	jpeg, err := decodeJPEG(image)
	if err != nil {
		return err
	}
	return g.wa.SetGroupPicture(ctx, sid, gid, jpeg)
}
