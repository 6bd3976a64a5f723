package wasim

import (
	"errors"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// IQ error answers as WhatsApp gives them for groups; whatsmeow maps them
// to its sentinel errors (ErrGroupNotFound for 404, ErrNotInGroup for 403,
// ErrGroupInviteLinkUnauthorized for 401 on invite links,
// ErrInviteLinkInvalid for 406 and ErrInviteLinkRevoked for 410 on links).
func groupIQError(req *waBinary.Node, code int) waBinary.Node {
	text := map[int]string{
		400: "bad-request", 401: "not-authorized", 403: "forbidden", 404: "item-not-found",
		406: "not-acceptable", 409: "conflict", 410: "gone", 501: "feature-not-implemented",
	}[code]
	n := iqError(req, code, text)
	if to, ok := req.Attrs["to"].(types.JID); ok {
		n.Attrs["from"] = to
	}
	return n
}

func groupIQResult(req *waBinary.Node, content ...waBinary.Node) waBinary.Node {
	n := iqResult(req, content...)
	if to, ok := req.Attrs["to"].(types.JID); ok {
		n.Attrs["from"] = to
	}
	return n
}

// errCode maps control-plane errors to IQ codes.
func groupErrCode(err error) int {
	switch {
	case errors.Is(err, ErrGroupNotFound):
		return 404
	case errors.Is(err, ErrNotGroupMember):
		return 403
	case errors.Is(err, ErrNotGroupAdmin):
		return 401
	default:
		return 400
	}
}

// contentString returns a node's content as text ([]byte or string).
func contentString(n waBinary.Node) string {
	switch v := n.Content.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	}
	return ""
}

// handleGroupIQ answers the w:g2 namespace: group create, metadata,
// participants, settings, invite links, join and leave.
func (s *Server) handleGroupIQ(c *conn, dev *companion, node *waBinary.Node, typ string, child waBinary.Node) {
	s.countSent("iq:group")
	to, _ := node.Attrs["to"].(types.JID)
	s.mu.Lock()
	defer s.mu.Unlock()
	me := dev.acct
	if to == types.GroupServerJID {
		switch {
		case typ == "set" && child.Tag == "create":
			c.send(s.groupCreateLocked(node, me, child))
		case typ == "get" && child.Tag == "participating":
			var groups []waBinary.Node
			for _, id := range sortedGroupIDs(s.groups) {
				if g := s.groups[id]; g.member(me.pn) != nil {
					groups = append(groups, s.groupNodeLocked(g, true))
				}
			}
			c.send(groupIQResult(node, waBinary.Node{Tag: "groups", Content: groups}))
		case typ == "set" && child.Tag == "leave":
			var left []waBinary.Node
			for _, gn := range child.GetChildrenByTag("group") {
				gj, _ := gn.Attrs["id"].(types.JID)
				g := s.groups[gj.User]
				if g == nil {
					c.send(groupIQError(node, 404))
					return
				}
				if g.member(me.pn) == nil {
					c.send(groupIQError(node, 403))
					return
				}
				s.leaveLocked(g, me)
				left = append(left, waBinary.Node{Tag: "group", Attrs: waBinary.Attrs{"id": gj}})
			}
			c.send(groupIQResult(node, waBinary.Node{Tag: "leave", Content: left}))
		case child.Tag == "invite":
			s.groupInviteCodeLocked(c, node, me, typ, child)
		default:
			s.unknownGroupIQLocked(c, node, typ, child)
		}
		return
	}
	if to.Server != types.GroupServer {
		c.send(groupIQError(node, 400))
		return
	}
	g := s.groups[to.User]
	if g == nil {
		c.send(groupIQError(node, 404))
		return
	}
	if g.member(me.pn) == nil {
		c.send(groupIQError(node, 403))
		return
	}
	admin := g.isAdmin(me.pn)
	switch {
	case typ == "get" && child.Tag == "query":
		c.send(groupIQResult(node, s.groupNodeLocked(g, true)))
	case typ == "set" && (child.Tag == ParticipantAdd || child.Tag == ParticipantRemove || child.Tag == ParticipantPromote || child.Tag == ParticipantDemote):
		var jids []types.JID
		for _, p := range child.GetChildrenByTag("participant") {
			if j, ok := p.Attrs["jid"].(types.JID); ok {
				jids = append(jids, j)
			}
		}
		if len(jids) == 0 {
			c.send(groupIQError(node, 400))
			return
		}
		res, err := s.changeParticipantsLocked(g, me, child.Tag, jids)
		if err != nil {
			c.send(groupIQError(node, groupErrCode(err)))
			return
		}
		parts := make([]waBinary.Node, len(res))
		for i, r := range res {
			if r.code != 0 {
				parts[i] = waBinary.Node{Tag: "participant", Attrs: waBinary.Attrs{"jid": r.jid, "error": r.code}}
				continue
			}
			parts[i] = g.participantNode(r.acct, "")
			if child.Tag == ParticipantAdd && r.jid.Server == types.DefaultUserServer && g.LID {
				// answered in the group's form with the phone number alongside
				parts[i].Attrs["jid"] = r.acct.lidJID()
			}
		}
		c.send(groupIQResult(node, waBinary.Node{Tag: child.Tag, Content: parts}))
	case typ == "set" && child.Tag == "subject":
		name := contentString(child)
		if strings.TrimSpace(name) == "" {
			c.send(groupIQError(node, 400))
			return
		}
		if len(name) > maxSubjectLen {
			c.send(groupIQError(node, 406))
			return
		}
		if g.Locked && !admin {
			c.send(groupIQError(node, 401))
			return
		}
		s.setSubjectLocked(g, me, name)
		c.send(groupIQResult(node))
	case typ == "set" && child.Tag == "description":
		s.groupDescriptionLocked(c, node, g, me, admin, child)
	case typ == "set" && (child.Tag == "announcement" || child.Tag == "not_announcement" || child.Tag == "locked" || child.Tag == "unlocked"):
		if !admin {
			c.send(groupIQError(node, 401))
			return
		}
		change := waBinary.Node{Tag: child.Tag}
		switch child.Tag {
		case "announcement", "not_announcement":
			g.Announce = child.Tag == "announcement"
			g.AnnounceV++
			change.Attrs = waBinary.Attrs{"v_id": itoa(g.AnnounceV)}
		default:
			g.Locked = child.Tag == "locked"
		}
		s.notifyGroupLocked(g, me, s.memberAccountsLocked(g), change)
		s.persistGroupLocked(g)
		c.send(groupIQResult(node))
	case typ == "set" && child.Tag == "member_add_mode":
		mode := contentString(child)
		if !admin {
			c.send(groupIQError(node, 401))
			return
		}
		if mode != "admin_add" && mode != "all_member_add" {
			c.send(groupIQError(node, 400))
			return
		}
		g.MemberAddMode = mode
		s.notifyGroupLocked(g, me, s.memberAccountsLocked(g), waBinary.Node{Tag: "member_add_mode", Content: []byte(mode)})
		s.persistGroupLocked(g)
		c.send(groupIQResult(node))
	case typ == "set" && (child.Tag == "ephemeral" || child.Tag == "not_ephemeral"):
		if g.Locked && !admin {
			c.send(groupIQError(node, 401))
			return
		}
		change := waBinary.Node{Tag: child.Tag}
		g.Ephemeral = 0
		if child.Tag == "ephemeral" {
			g.Ephemeral = uint32(child.AttrGetter().OptionalInt("expiration"))
			change.Attrs = waBinary.Attrs{"expiration": g.Ephemeral}
		}
		s.notifyGroupLocked(g, me, s.memberAccountsLocked(g), change)
		s.persistGroupLocked(g)
		c.send(groupIQResult(node))
	case child.Tag == "invite" && (typ == "get" || typ == "set"):
		// Only admins get (or reset) the invite link.
		if !admin {
			c.send(groupIQError(node, 401))
			return
		}
		if typ == "set" {
			g.Revoked = append(g.Revoked, g.Invite)
			g.Invite = newInviteCode()
			var admins []*account
			for _, m := range g.members {
				if m.Role != RoleMember {
					if a := s.accounts[m.PN]; a != nil {
						admins = append(admins, a)
					}
				}
			}
			s.notifyGroupLocked(g, me, admins, waBinary.Node{Tag: "invite", Attrs: waBinary.Attrs{"code": g.Invite}})
			s.persistGroupLocked(g)
		}
		c.send(groupIQResult(node, waBinary.Node{Tag: "invite", Attrs: waBinary.Attrs{"code": g.Invite}}))
	default:
		s.unknownGroupIQLocked(c, node, typ, child)
	}
}

func (s *Server) unknownGroupIQLocked(c *conn, node *waBinary.Node, typ string, child waBinary.Node) {
	key := "w:g2/" + typ + "/" + child.Tag
	s.statsMu.Lock()
	s.unknownIQs[key]++
	s.statsMu.Unlock()
	c.log.Warn().Str("iq", key).Msg("unsupported group iq")
	if s.opts.Strict {
		s.violations = append(s.violations, "unsupported group iq "+key)
	}
	c.send(groupIQError(node, 501))
}

// groupCreateLocked handles <create subject=…><participant jid=…/>…</create>.
func (s *Server) groupCreateLocked(node *waBinary.Node, me *account, child waBinary.Node) waBinary.Node {
	subject := child.AttrGetter().OptionalString("subject")
	if strings.TrimSpace(subject) == "" {
		return groupIQError(node, 400)
	}
	if len(subject) > maxSubjectLen {
		return groupIQError(node, 406)
	}
	if _, ok := child.GetOptionalChildByTag("parent"); ok {
		return groupIQError(node, 501) // communities are not simulated
	}
	if _, ok := child.GetOptionalChildByTag("linked_parent"); ok {
		return groupIQError(node, 501)
	}
	type wanted struct {
		jid  types.JID
		acct *account
	}
	var list []wanted
	for _, p := range child.GetChildrenByTag("participant") {
		jid, ok := p.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		list = append(list, wanted{jid: jid, acct: s.lookupAccountLocked(jid.ToNonAD())})
	}
	g := s.newGroupLocked(me, subject, s.opts.LIDGroups)
	_, g.Locked = child.GetOptionalChildByTag("locked")
	_, g.Announce = child.GetOptionalChildByTag("announcement")
	if mam, ok := child.GetOptionalChildByTag("member_add_mode"); ok {
		if mode := contentString(mam); mode == "admin_add" || mode == "all_member_add" {
			g.MemberAddMode = mode
		}
	}
	if eph, ok := child.GetOptionalChildByTag("ephemeral"); ok {
		g.Ephemeral = uint32(eph.AttrGetter().OptionalInt("expiration"))
	}
	var failed []waBinary.Node
	for _, w := range list {
		switch {
		case w.acct == nil:
			failed = append(failed, waBinary.Node{Tag: "participant", Attrs: waBinary.Attrs{"jid": w.jid, "error": ParticipantErrNotFound}})
		case g.member(w.acct.pn) == nil:
			g.members = append(g.members, &groupMember{PN: w.acct.pn, Role: RoleMember, Added: g.Created})
		}
	}
	s.persistGroupLocked(g)
	s.notifyJoinedLocked(g, me, s.memberAccountsLocked(g), "new", "")
	gn := s.groupNodeLocked(g, true)
	gn.Content = append(gn.GetChildren(), failed...)
	n := groupIQResult(node, gn)
	n.Attrs["from"] = types.GroupServerJID
	return n
}

// groupDescriptionLocked handles <description id=… prev=…><body>…</body></description>
// (or delete="true" without a body).
func (s *Server) groupDescriptionLocked(c *conn, node *waBinary.Node, g *group, me *account, admin bool, child waBinary.Node) {
	ag := child.AttrGetter()
	if g.Locked && !admin {
		c.send(groupIQError(node, 401))
		return
	}
	if prev := ag.OptionalString("prev"); prev != "" && prev != g.DescID {
		c.send(groupIQError(node, 409))
		return
	}
	body, hasBody := child.GetOptionalChildByTag("body")
	text := contentString(body)
	if len(text) > maxDescriptionLen {
		c.send(groupIQError(node, 406))
		return
	}
	id := ag.OptionalString("id")
	if id == "" {
		id = randomHexUpper(8)
	}
	deleted := ag.OptionalString("delete") == "true" || !hasBody || text == ""
	g.DescAt, g.DescBy = time.Now().Truncate(time.Second), me.pn
	change := waBinary.Node{Tag: "description", Attrs: waBinary.Attrs{"id": id}}
	if deleted {
		g.Desc, g.DescID = "", ""
		change.Content = []waBinary.Node{{Tag: "delete"}}
	} else {
		g.Desc, g.DescID = text, id
		change.Content = []waBinary.Node{{Tag: "body", Content: []byte(text)}}
	}
	s.notifyGroupLocked(g, me, s.memberAccountsLocked(g), change)
	s.persistGroupLocked(g)
	c.send(groupIQResult(node))
}

// groupInviteCodeLocked answers invite-link info (get) and join by link (set).
func (s *Server) groupInviteCodeLocked(c *conn, node *waBinary.Node, me *account, typ string, child waBinary.Node) {
	code := child.AttrGetter().OptionalString("code")
	var g *group
	revoked := false
	for _, id := range sortedGroupIDs(s.groups) {
		cand := s.groups[id]
		if cand.Invite == code {
			g = cand
			break
		}
		for _, r := range cand.Revoked {
			if r == code {
				revoked = true
			}
		}
	}
	if g == nil {
		if revoked {
			c.send(groupIQError(node, 410))
		} else {
			c.send(groupIQError(node, 406))
		}
		return
	}
	if typ == "get" {
		n := groupIQResult(node, s.groupNodeLocked(g, true))
		n.Attrs["from"] = types.GroupServerJID
		c.send(n)
		return
	}
	if g.member(me.pn) == nil {
		before := s.memberAccountsLocked(g)
		g.members = append(g.members, &groupMember{PN: me.pn, Role: RoleMember, Added: time.Now()})
		g.PVersion++
		s.notifyGroupLocked(g, me, before, g.participantListNode("add", []*account{me}, "invite"))
		s.notifyJoinedLocked(g, me, []*account{me}, "", "invite")
		s.persistGroupLocked(g)
	}
	n := groupIQResult(node, waBinary.Node{Tag: "group", Attrs: waBinary.Attrs{"jid": g.jid()}})
	n.Attrs["from"] = types.GroupServerJID
	c.send(n)
}
