package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Exact texts of the group operations (docs/groups.md).
const (
	MsgGroupNotFound          = "Group not found"
	MsgNotGroupMember         = "You are not a participant of this group"
	MsgNotGroupAdmin          = "Only group admins can do this"
	MsgInvalidInviteLink      = "Invalid or revoked invite link"
	MsgParticipantNotOnWA     = "The number is not on WhatsApp"
	MsgAlreadyParticipant     = "Already a participant of this group"
	MsgNotParticipant         = "Not a participant of this group"
	MsgCreatorUnchangeable    = "The group creator cannot be changed"
	MsgParticipantRefused     = "WhatsApp refused this participant change"
	MsgGroupSubjectRequired   = "subject is required and must not be empty"
	MsgGroupSubjectTooLong    = "subject must be at most 100 characters"
	MsgGroupUpdateEmpty       = "Give at least one of subject, description, announce, locked"
	MsgGroupParticipantsEmpty = "participants must name at least one participant"
	MsgGroupBadAction         = "action must be one of add, remove, promote, demote"
	MsgGroupLeft              = "Left the group"
	MsgGroupPictureSet        = "Group picture updated"
	MsgGroupPictureNotJPEG    = "image must be a JPEG (base64 or a data:image/jpeg;base64, URL)"
	MsgInviteLinkRequired     = "link is required"
	MsgGroupChanged           = "The group was changed at the same time. Please try again."
)

// MaxGroupSubject is the longest subject WhatsApp accepts (in characters).
const MaxGroupSubject = 100

// Group roles.
const (
	RoleMember     = "member"
	RoleAdmin      = "admin"
	RoleSuperAdmin = "superadmin"
)

// Participant actions.
const (
	ParticipantAdd     = "add"
	ParticipantRemove  = "remove"
	ParticipantPromote = "promote"
	ParticipantDemote  = "demote"
)

// GroupParticipant is one member of a group. JID is the phone JID where
// the number is known, else the LID.
type GroupParticipant struct {
	JID   string `json:"jid"`
	Phone string `json:"phone,omitempty"`
	LID   string `json:"lid,omitempty"`
	Role  string `json:"role"`
}

// Group is a group as WhatsApp describes it.
type Group struct {
	JID            string             `json:"id"`
	Subject        string             `json:"subject"`
	Description    string             `json:"description"`
	Owner          string             `json:"owner,omitempty"`
	CreatedAt      time.Time          `json:"createdAt"`
	Announce       bool               `json:"announce"`
	Locked         bool               `json:"locked"`
	AddressingMode string             `json:"addressingMode"` // pn or lid
	Participants   []GroupParticipant `json:"participants"`
}

// ParticipantResult is the outcome of one participant of a participant
// change or a create: Err is nil on success, else a *Error whose message
// is the reason (MsgParticipantNotOnWA, MsgAlreadyParticipant, ...).
type ParticipantResult struct {
	Participant string // as the client gave it
	JID         string // "" when it did not parse
	Err         error
}

// GroupUpdate is a PATCH of a group; nil fields stay as they are.
type GroupUpdate struct {
	Subject     *string
	Description *string
	Announce    *bool
	Locked      *bool
}

// GroupService is the domain service behind the groups tag (implemented
// by internal/groups). Group ids are raw client strings (a group JID or
// its number part).
type GroupService interface {
	CreateGroup(ctx context.Context, sid uuid.UUID, subject string, participants []string) (*Group, []ParticipantResult, error)
	ListGroups(ctx context.Context, sid uuid.UUID) ([]Group, error)
	GetGroup(ctx context.Context, sid uuid.UUID, groupID string) (*Group, error)
	UpdateGroup(ctx context.Context, sid uuid.UUID, groupID string, u GroupUpdate) (*Group, error)
	// UpdateParticipants returns the normalised group JID and one result
	// per requested participant.
	UpdateParticipants(ctx context.Context, sid uuid.UUID, groupID, action string, participants []string) (string, []ParticipantResult, error)
	// InviteLink returns the group JID and its invite link; reset revokes
	// the current link first.
	InviteLink(ctx context.Context, sid uuid.UUID, groupID string, reset bool) (string, string, error)
	JoinGroup(ctx context.Context, sid uuid.UUID, link string) (*Group, error)
	LeaveGroup(ctx context.Context, sid uuid.UUID, groupID string) error
	// SetGroupPicture sets the picture from a JPEG given as base64 or a
	// data: URL.
	SetGroupPicture(ctx context.Context, sid uuid.UUID, groupID, image string) error
}

// ParticipantOutcome is WhatsApp's answer for one participant of a
// change, in the order requested: Err nil on success, else a *Error with
// the reason (MsgParticipantNotOnWA, MsgAlreadyParticipant,
// MsgNotParticipant, MsgCreatorUnchangeable, MsgParticipantRefused).
type ParticipantOutcome struct {
	JID string
	Err error
}

// GroupRuntime performs group operations on a session's WhatsApp
// connection (implemented by internal/whatsapp). JIDs are full JID
// strings; errors are *Error with the group texts (MsgGroupNotFound,
// MsgNotGroupMember, MsgNotGroupAdmin, MsgInvalidInviteLink) besides the
// session errors.
type GroupRuntime interface {
	CreateGroup(ctx context.Context, sid uuid.UUID, subject string, participants []string) (*Group, []ParticipantOutcome, error)
	JoinedGroups(ctx context.Context, sid uuid.UUID) ([]Group, error)
	GroupInfo(ctx context.Context, sid uuid.UUID, gid string) (*Group, error)
	SetGroupSubject(ctx context.Context, sid uuid.UUID, gid, subject string) error
	SetGroupDescription(ctx context.Context, sid uuid.UUID, gid, description string) error
	SetGroupAnnounce(ctx context.Context, sid uuid.UUID, gid string, announce bool) error
	SetGroupLocked(ctx context.Context, sid uuid.UUID, gid string, locked bool) error
	UpdateParticipants(ctx context.Context, sid uuid.UUID, gid, action string, participants []string) ([]ParticipantOutcome, error)
	GroupInviteLink(ctx context.Context, sid uuid.UUID, gid string, reset bool) (string, error)
	// JoinGroupWithLink joins with an invite code (the link's last part)
	// and returns the group JID.
	JoinGroupWithLink(ctx context.Context, sid uuid.UUID, code string) (string, error)
	LeaveGroup(ctx context.Context, sid uuid.UUID, gid string) error
	SetGroupPicture(ctx context.Context, sid uuid.UUID, gid string, jpeg []byte) error
}
