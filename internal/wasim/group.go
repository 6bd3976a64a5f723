package wasim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mau.fi/util/random"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Group roles as WhatsApp names them in the participant's type attribute.
const (
	RoleMember     = "member"
	RoleAdmin      = "admin"
	RoleSuperAdmin = "superadmin"
)

// Addressing modes of a group (its addressing_mode attribute).
const (
	AddressingPN  = "pn"
	AddressingLID = "lid"
)

// Participant changes (the IQ child tags of w:g2 participant updates).
const (
	ParticipantAdd     = "add"
	ParticipantRemove  = "remove"
	ParticipantPromote = "promote"
	ParticipantDemote  = "demote"
)

// Errors of the group control-plane API (CreateGroup, GroupSend,
// GroupParticipants, ...). The IQ answers to clients use WhatsApp's codes.
var (
	ErrGroupNotFound  = errors.New("wasim: group not found")
	ErrNotGroupMember = errors.New("wasim: not a member of the group")
	ErrNotGroupAdmin  = errors.New("wasim: not an admin of the group")
	ErrUnknownNumber  = errors.New("wasim: number is not on WhatsApp")
	ErrInvalidRequest = errors.New("wasim: invalid group request")
)

// Per-participant result codes of participant updates (the error
// attribute WhatsApp puts on a <participant> it did not change).
const (
	// ParticipantErrNotAuthorized: the creator (superadmin) cannot be
	// removed, promoted or demoted by anyone else.
	ParticipantErrNotAuthorized = 403
	// ParticipantErrNotFound: the number is not on WhatsApp, or (remove,
	// promote, demote) not a member.
	ParticipantErrNotFound = 404
	// ParticipantErrConflict: add of someone already in the group.
	ParticipantErrConflict = 409
)

// Limits WhatsApp enforces on group metadata (longer answers 406).
const (
	maxSubjectLen     = 100
	maxDescriptionLen = 2048
)

// groupMember is one participant.
type groupMember struct {
	PN    string
	Role  string // RoleMember, RoleAdmin or RoleSuperAdmin
	Added time.Time
}

// group is a simulated WhatsApp group. The server is the source of truth
// for its metadata; the messages themselves are end-to-end encrypted with
// sender keys by the members' devices.
type group struct {
	ID            string // user part of the @g.us JID
	Subject       string
	SubjectAt     time.Time
	SubjectBy     string // PN of who set it
	Creator       string
	Created       time.Time
	Desc          string
	DescID        string
	DescAt        time.Time
	DescBy        string
	Announce      bool
	Locked        bool
	LID           bool // addressing_mode="lid"
	MemberAddMode string
	Ephemeral     uint32
	Invite        string
	Revoked       []string
	AnnounceV     int
	PVersion      int
	// SKDM records, per simulated sender (PN), the devices ("pn:device")
	// that hold its current sender key. Rotate lists the simulated
	// members whose sender key must be replaced before their next send
	// (someone left). Both persist with the group.
	SKDM   map[string][]string
	Rotate []string
	// Picture is the group's JPEG (SetGroupPhoto), PictureID its id.
	Picture    []byte
	PictureID  string
	PictureSeq int

	members []*groupMember
}

func (g *group) jid() types.JID { return types.NewJID(g.ID, types.GroupServer) }

func (g *group) addressingMode() string {
	if g.LID {
		return AddressingLID
	}
	return AddressingPN
}

func (g *group) member(pn string) *groupMember {
	for _, m := range g.members {
		if m.PN == pn {
			return m
		}
	}
	return nil
}

func (g *group) isAdmin(pn string) bool {
	m := g.member(pn)
	return m != nil && (m.Role == RoleAdmin || m.Role == RoleSuperAdmin)
}

func (g *group) removeMember(pn string) {
	g.members = slices.DeleteFunc(g.members, func(m *groupMember) bool { return m.PN == pn })
}

// memberAccountsLocked returns the accounts of the current members, in order.
func (s *Server) memberAccountsLocked(g *group) []*account {
	out := make([]*account, 0, len(g.members))
	for _, m := range g.members {
		if a := s.accounts[m.PN]; a != nil {
			out = append(out, a)
		}
	}
	return out
}

// userJID is the account's JID as the group addresses its members: LID
// in LID-addressed groups, else the phone number.
func (g *group) userJID(a *account) types.JID {
	if g.LID {
		return a.lidJID()
	}
	return a.pnJID()
}

// altJID is the other form of userJID.
func (g *group) altJID(a *account) types.JID {
	if g.LID {
		return a.pnJID()
	}
	return a.lidJID()
}

// newGroupIDLocked returns an unused group id in the modern form
// (120363 followed by 12 digits).
func (s *Server) newGroupIDLocked() string {
	for {
		b := random.Bytes(12)
		var sb strings.Builder
		sb.WriteString("120363")
		for _, x := range b {
			sb.WriteByte('0' + x%10)
		}
		if s.groups[sb.String()] == nil {
			return sb.String()
		}
	}
}

const inviteAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func newInviteCode() string {
	b := random.Bytes(22)
	for i := range b {
		b[i] = inviteAlphabet[int(b[i])%len(inviteAlphabet)]
	}
	return string(b)
}

// groupByJIDLocked finds a group by its JID, "<id>@g.us" or bare id.
func (s *Server) groupByIDLocked(gid string) *group {
	gid = strings.TrimSuffix(gid, "@"+types.GroupServer)
	return s.groups[gid]
}

// participantNode is a <participant> of a group node or change list.
func (g *group) participantNode(a *account, role string) waBinary.Node {
	attrs := waBinary.Attrs{"jid": g.userJID(a)}
	if g.LID {
		attrs["phone_number"] = a.pnJID()
	} else {
		attrs["lid"] = a.lidJID()
	}
	if role == RoleAdmin || role == RoleSuperAdmin {
		attrs["type"] = role
	}
	return waBinary.Node{Tag: "participant", Attrs: attrs}
}

// groupNodeLocked renders the <group> WhatsApp answers for create, query,
// participating and invite-link info.
func (s *Server) groupNodeLocked(g *group, withParticipants bool) waBinary.Node {
	attrs := waBinary.Attrs{
		"id": g.ID, "subject": g.Subject, "s_t": g.SubjectAt.Unix(), "creation": g.Created.Unix(),
		"size": len(g.members), "addressing_mode": g.addressingMode(),
		"p_v_id": fmt.Sprint(g.PVersion),
	}
	if a := s.accounts[g.SubjectBy]; a != nil {
		attrs["s_o"] = g.userJID(a)
		if g.LID {
			attrs["s_o_pn"] = a.pnJID()
		}
	}
	if a := s.accounts[g.Creator]; a != nil {
		attrs["creator"] = g.userJID(a)
		if g.LID {
			attrs["creator_pn"] = a.pnJID()
		}
	}
	var content []waBinary.Node
	if withParticipants {
		for _, m := range g.members {
			if a := s.accounts[m.PN]; a != nil {
				content = append(content, g.participantNode(a, m.Role))
			}
		}
	}
	if g.DescID != "" {
		dattrs := waBinary.Attrs{"id": g.DescID, "t": g.DescAt.Unix()}
		if a := s.accounts[g.DescBy]; a != nil {
			dattrs["participant"] = g.userJID(a)
			if g.LID {
				dattrs["participant_pn"] = a.pnJID()
			}
		}
		content = append(content, waBinary.Node{Tag: "description", Attrs: dattrs,
			Content: []waBinary.Node{{Tag: "body", Content: []byte(g.Desc)}}})
	}
	if g.Announce {
		content = append(content, waBinary.Node{Tag: "announcement"})
	}
	if g.Locked {
		content = append(content, waBinary.Node{Tag: "locked"})
	}
	if g.Ephemeral > 0 {
		content = append(content, waBinary.Node{Tag: "ephemeral", Attrs: waBinary.Attrs{"expiration": g.Ephemeral}})
	}
	content = append(content, waBinary.Node{Tag: "member_add_mode", Content: []byte(g.MemberAddMode)})
	return waBinary.Node{Tag: "group", Attrs: attrs, Content: content}
}

// notifyGroupLocked sends a w:gp2 notification made by actor to every
// companion of the recipient accounts (queued until acknowledged).
func (s *Server) notifyGroupLocked(g *group, actor *account, recipients []*account, children ...waBinary.Node) {
	id := randomHex(8)
	attrs := waBinary.Attrs{
		"from": g.jid(), "type": "w:gp2", "id": id, "t": unixNow(), "addressing_mode": g.addressingMode(),
	}
	if actor != nil {
		attrs["participant"] = g.userJID(actor)
		if g.LID {
			attrs["participant_pn"] = actor.pnJID()
		}
		attrs["notify"] = actor.pushName
	}
	node := waBinary.Node{Tag: "notification", Attrs: attrs, Content: children}
	seen := map[*account]bool{}
	for _, a := range recipients {
		if seen[a] {
			continue
		}
		seen[a] = true
		for _, did := range a.sortedCompanionIDs() {
			s.enqueueLocked(a.companions[did], queueKey("notification", "w:gp2", id), node)
		}
	}
	s.countSent("group:notification")
}

// notifyJoinedLocked tells new members' companions they are in the group
// (<create>, parsed by whatsmeow into events.JoinedGroup). typ is "new"
// at creation; reason is "invite" for a join by link.
func (s *Server) notifyJoinedLocked(g *group, actor *account, joined []*account, typ, reason string) {
	attrs := waBinary.Attrs{}
	if typ != "" {
		attrs["type"] = typ
	}
	if reason != "" {
		attrs["reason"] = reason
	}
	s.notifyGroupLocked(g, actor, joined, waBinary.Node{Tag: "create", Attrs: attrs,
		Content: []waBinary.Node{s.groupNodeLocked(g, true)}})
}

// participantListNode is <add|remove|promote|demote> with participants.
func (g *group) participantListNode(tag string, accts []*account, reason string) waBinary.Node {
	attrs := waBinary.Attrs{"prev_v_id": fmt.Sprint(g.PVersion - 1), "v_id": fmt.Sprint(g.PVersion)}
	if reason != "" {
		attrs["reason"] = reason
	}
	parts := make([]waBinary.Node, 0, len(accts))
	for _, a := range accts {
		parts = append(parts, g.participantNode(a, ""))
	}
	return waBinary.Node{Tag: tag, Attrs: attrs, Content: parts}
}

// GroupSpec describes a group created on the simulated side (CreateGroupWith).
type GroupSpec struct {
	Subject string
	// Owner is the creator's phone number (superadmin).
	Owner string
	// Participants are phone numbers; each must be an account (or
	// auto-registrable with Options.AutoRegister).
	Participants []string
	// LID makes the group LID-addressed (addressing_mode="lid").
	LID      bool
	Announce bool
	Locked   bool
}

// CreateGroup creates a group owned by a simulated account, with the
// server's default addressing mode (Options.LIDGroups). Members' linked
// companions get the create notification (events.JoinedGroup).
func (s *Server) CreateGroup(ctx context.Context, subject, owner string, participants []string) (types.JID, error) {
	return s.CreateGroupWith(ctx, GroupSpec{Subject: subject, Owner: owner, Participants: participants, LID: s.opts.LIDGroups})
}

// CreateGroupWith is CreateGroup with all options.
func (s *Server) CreateGroupWith(_ context.Context, spec GroupSpec) (types.JID, error) {
	if strings.TrimSpace(spec.Subject) == "" || len(spec.Subject) > maxSubjectLen {
		return types.EmptyJID, fmt.Errorf("%w: subject must have 1 to %d characters", ErrInvalidRequest, maxSubjectLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.lookupAccountLocked(types.NewJID(normalizePhone(spec.Owner), types.DefaultUserServer))
	if owner == nil {
		return types.EmptyJID, fmt.Errorf("%w: owner %s", ErrUnknownNumber, spec.Owner)
	}
	var accts []*account
	for _, p := range spec.Participants {
		a := s.lookupAccountLocked(types.NewJID(normalizePhone(p), types.DefaultUserServer))
		if a == nil {
			return types.EmptyJID, fmt.Errorf("%w: %s", ErrUnknownNumber, p)
		}
		if a != owner && !slices.Contains(accts, a) {
			accts = append(accts, a)
		}
	}
	g := s.newGroupLocked(owner, spec.Subject, spec.LID)
	g.Announce, g.Locked = spec.Announce, spec.Locked
	for _, a := range accts {
		g.members = append(g.members, &groupMember{PN: a.pn, Role: RoleMember, Added: g.Created})
	}
	s.persistGroupLocked(g)
	s.notifyJoinedLocked(g, owner, s.memberAccountsLocked(g), "new", "")
	return g.jid(), nil
}

func (s *Server) newGroupLocked(owner *account, subject string, lid bool) *group {
	now := time.Now().Truncate(time.Second)
	g := &group{
		ID: s.newGroupIDLocked(), Subject: subject, SubjectAt: now, SubjectBy: owner.pn, Creator: owner.pn, Created: now,
		LID: lid, MemberAddMode: "all_member_add", Invite: newInviteCode(), PVersion: 1, SKDM: map[string][]string{},
		members: []*groupMember{{PN: owner.pn, Role: RoleSuperAdmin, Added: now}},
	}
	s.groups[g.ID] = g
	s.countSent("group:created")
	return g
}

// ParticipantResult is the outcome of one participant change.
type ParticipantResult struct {
	Phone string
	// Error is 0 on success, else WhatsApp's code (ParticipantErr...).
	Error int
}

// GroupParticipants changes the group's participants on behalf of a
// member (by, a phone number) as an admin would on their phone: action is
// add, remove, promote or demote. Members get the notification.
func (s *Server) GroupParticipants(_ context.Context, gid, action, by string, phones []string) ([]ParticipantResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupByIDLocked(gid)
	if g == nil {
		return nil, ErrGroupNotFound
	}
	actor := s.accounts[normalizePhone(by)]
	if actor == nil || g.member(actor.pn) == nil {
		return nil, ErrNotGroupMember
	}
	jids := make([]types.JID, len(phones))
	for i, p := range phones {
		jids[i] = types.NewJID(normalizePhone(p), types.DefaultUserServer)
	}
	res, err := s.changeParticipantsLocked(g, actor, action, jids)
	if err != nil {
		return nil, err
	}
	out := make([]ParticipantResult, len(res))
	for i, r := range res {
		out[i] = ParticipantResult{Phone: normalizePhone(phones[i]), Error: r.code}
	}
	return out, nil
}

type participantOutcome struct {
	jid  types.JID // as asked
	acct *account
	code int
}

// changeParticipantsLocked applies a participant change by actor (a
// member): the rules WhatsApp enforces, the notifications and the
// sender-key rotation marks. It returns one outcome per JID.
func (s *Server) changeParticipantsLocked(g *group, actor *account, action string, jids []types.JID) ([]participantOutcome, error) {
	switch action {
	case ParticipantAdd:
		if !g.isAdmin(actor.pn) && g.MemberAddMode == "admin_add" {
			return nil, ErrNotGroupAdmin
		}
	case ParticipantRemove, ParticipantPromote, ParticipantDemote:
		if !g.isAdmin(actor.pn) {
			return nil, ErrNotGroupAdmin
		}
	default:
		return nil, fmt.Errorf("%w: unknown action %q", ErrInvalidRequest, action)
	}
	before := s.memberAccountsLocked(g)
	out := make([]participantOutcome, len(jids))
	var changed []*account
	for i, jid := range jids {
		o := participantOutcome{jid: jid}
		if action == ParticipantAdd {
			o.acct = s.lookupAccountLocked(jid.ToNonAD())
		} else {
			o.acct = s.accountByJIDLocked(jid.ToNonAD())
		}
		var m *groupMember
		if o.acct != nil {
			m = g.member(o.acct.pn)
		}
		switch {
		case o.acct == nil:
			o.code = ParticipantErrNotFound
		case action == ParticipantAdd && m != nil:
			o.code = ParticipantErrConflict
		case action == ParticipantAdd:
			g.members = append(g.members, &groupMember{PN: o.acct.pn, Role: RoleMember, Added: time.Now()})
		case m == nil:
			o.code = ParticipantErrNotFound
		case m.Role == RoleSuperAdmin && o.acct != actor:
			o.code = ParticipantErrNotAuthorized
		case action == ParticipantRemove:
			g.removeMember(o.acct.pn)
		case action == ParticipantPromote:
			if m.Role == RoleMember {
				m.Role = RoleAdmin
			}
		case action == ParticipantDemote:
			if m.Role == RoleAdmin {
				m.Role = RoleMember
			}
		}
		if o.code == 0 && !slices.Contains(changed, o.acct) {
			changed = append(changed, o.acct)
		}
		out[i] = o
	}
	if len(changed) == 0 {
		return out, nil
	}
	g.PVersion++
	switch action {
	case ParticipantAdd:
		s.notifyGroupLocked(g, actor, before, g.participantListNode("add", changed, ""))
		s.notifyJoinedLocked(g, actor, changed, "", "")
	case ParticipantRemove:
		s.markRotateLocked(g)
		s.notifyGroupLocked(g, actor, before, g.participantListNode("remove", changed, ""))
		s.ensureAdminLocked(g)
	default:
		s.notifyGroupLocked(g, actor, before, g.participantListNode(action, changed, ""))
	}
	s.persistGroupLocked(g)
	return out, nil
}

// markRotateLocked is called when members left: every remaining member
// must replace its sender key (WhatsApp's apps do; whatsmeow does not,
// see doc.go), and nobody holds the new keys yet.
func (s *Server) markRotateLocked(g *group) {
	g.Rotate = g.Rotate[:0]
	for _, m := range g.members {
		g.Rotate = append(g.Rotate, m.PN)
	}
	g.SKDM = map[string][]string{}
	s.countSent("group:rotation-marked")
}

// ensureAdminLocked promotes the longest-standing member when the last
// admin left, as WhatsApp does.
func (s *Server) ensureAdminLocked(g *group) {
	if len(g.members) == 0 {
		return
	}
	for _, m := range g.members {
		if m.Role != RoleMember {
			return
		}
	}
	m := g.members[0]
	m.Role = RoleAdmin
	a := s.accounts[m.PN]
	if a == nil {
		return
	}
	g.PVersion++
	s.notifyGroupLocked(g, nil, s.memberAccountsLocked(g), g.participantListNode("promote", []*account{a}, ""))
}

// leaveLocked removes a member who leaves by itself.
func (s *Server) leaveLocked(g *group, a *account) {
	before := s.memberAccountsLocked(g)
	g.removeMember(a.pn)
	g.PVersion++
	s.markRotateLocked(g)
	s.notifyGroupLocked(g, a, before, g.participantListNode("remove", []*account{a}, ""))
	s.ensureAdminLocked(g)
	s.persistGroupLocked(g)
}

// GroupLeave makes a simulated member leave the group.
func (s *Server) GroupLeave(_ context.Context, gid, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupByIDLocked(gid)
	if g == nil {
		return ErrGroupNotFound
	}
	a := s.accounts[normalizePhone(phone)]
	if a == nil || g.member(a.pn) == nil {
		return ErrNotGroupMember
	}
	s.leaveLocked(g, a)
	return nil
}

// GroupSetSubject changes the subject on behalf of a member (only admins
// when the group is locked).
func (s *Server) GroupSetSubject(_ context.Context, gid, by, subject string) error {
	if strings.TrimSpace(subject) == "" || len(subject) > maxSubjectLen {
		return fmt.Errorf("%w: subject must have 1 to %d characters", ErrInvalidRequest, maxSubjectLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, actor, err := s.groupActorLocked(gid, by)
	if err != nil {
		return err
	}
	if g.Locked && !g.isAdmin(actor.pn) {
		return ErrNotGroupAdmin
	}
	s.setSubjectLocked(g, actor, subject)
	return nil
}

func (s *Server) groupActorLocked(gid, by string) (*group, *account, error) {
	g := s.groupByIDLocked(gid)
	if g == nil {
		return nil, nil, ErrGroupNotFound
	}
	actor := s.accounts[normalizePhone(by)]
	if actor == nil || g.member(actor.pn) == nil {
		return nil, nil, ErrNotGroupMember
	}
	return g, actor, nil
}

func (s *Server) setSubjectLocked(g *group, actor *account, subject string) {
	g.Subject, g.SubjectAt, g.SubjectBy = subject, time.Now().Truncate(time.Second), actor.pn
	attrs := waBinary.Attrs{"subject": subject, "s_t": g.SubjectAt.Unix(), "s_o": g.userJID(actor)}
	if g.LID {
		attrs["s_o_pn"] = actor.pnJID()
	}
	s.notifyGroupLocked(g, actor, s.memberAccountsLocked(g), waBinary.Node{Tag: "subject", Attrs: attrs})
	s.persistGroupLocked(g)
}

// GroupParticipantView is one member in a GroupView.
type GroupParticipantView struct {
	Phone string
	JID   types.JID // phone-number JID
	LID   types.JID
	Role  string // RoleMember, RoleAdmin, RoleSuperAdmin
}

// GroupView is the simulator's truth about a group.
type GroupView struct {
	JID            types.JID
	Subject        string
	SubjectBy      string // phone number
	Description    string
	Creator        string // phone number
	Created        time.Time
	Announce       bool
	Locked         bool
	AddressingMode string // AddressingPN or AddressingLID
	MemberAddMode  string
	Ephemeral      uint32
	InviteCode     string
	// Picture is the JPEG a member set (SetGroupPhoto), PictureID its id.
	Picture      []byte
	PictureID    string
	Participants []GroupParticipantView
}

// Group returns the simulator's view of a group (JID or bare id).
func (s *Server) Group(gid string) (GroupView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupByIDLocked(gid)
	if g == nil {
		return GroupView{}, false
	}
	v := GroupView{
		JID: g.jid(), Subject: g.Subject, SubjectBy: g.SubjectBy, Description: g.Desc, Creator: g.Creator, Created: g.Created,
		Announce: g.Announce, Locked: g.Locked, AddressingMode: g.addressingMode(), MemberAddMode: g.MemberAddMode,
		Ephemeral: g.Ephemeral, InviteCode: g.Invite, Picture: slices.Clone(g.Picture), PictureID: g.PictureID,
	}
	for _, m := range g.members {
		a := s.accounts[m.PN]
		if a == nil {
			continue
		}
		v.Participants = append(v.Participants, GroupParticipantView{Phone: a.pn, JID: a.pnJID(), LID: a.lidJID(), Role: m.Role})
	}
	return v, true
}

// Groups returns the JIDs of the groups the number is a member of.
func (s *Server) Groups(phone string) []types.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	pn := normalizePhone(phone)
	var out []types.JID
	for _, id := range sortedGroupIDs(s.groups) {
		if s.groups[id].member(pn) != nil {
			out = append(out, s.groups[id].jid())
		}
	}
	return out
}

func sortedGroupIDs(m map[string]*group) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
