package whatsapp

import (
	"context"
	"slices"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// actorOf is who made a group change: the phone JID where known.
func (h *clientHandler) actorOf(ctx context.Context, sender, senderPN *types.JID) string {
	if sender == nil || sender.IsEmpty() {
		return ""
	}
	alt := types.EmptyJID
	if senderPN != nil {
		alt = *senderPN
	}
	return h.s.m.userJID(ctx, *sender, alt)
}

func eventTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

func (h *clientHandler) onJoinedGroup(evt *events.JoinedGroup) bool {
	return h.inbound("joined_group", func(ctx context.Context) gateway.InboundBatch { return h.convertJoinedGroup(ctx, evt) })
}

func (h *clientHandler) onGroupInfo(evt *events.GroupInfo) bool {
	return h.inbound("group_info", func(ctx context.Context) gateway.InboundBatch { return h.convertGroupInfo(ctx, evt) })
}

// convertJoinedGroup: the account is in a group it was not in (it created
// it, was added, or joined by link): group.created or group.joined, and the
// chat takes the group's subject as its name.
func (h *clientHandler) convertJoinedGroup(ctx context.Context, evt *events.JoinedGroup) gateway.InboundBatch {
	g := h.s.m.toGroup(ctx, &evt.GroupInfo)
	actor := h.actorOf(ctx, evt.Sender, evt.SenderPN)
	typ := gateway.EventGroupJoined
	if evt.Type == "new" && (actor == "" || actor == ownPN(h.cli)) && g.Owner == ownPN(h.cli) {
		typ = gateway.EventGroupCreated
	}
	b := gateway.InboundBatch{
		Events: []gateway.Event{{Type: typ, Data: gateway.GroupEvent{
			GroupID: g.JID, Actor: actor, Group: g, Reason: evt.Reason, Timestamp: eventTime(evt.GroupCreated),
		}}},
	}
	if g.Subject != "" {
		b.ChatNames = map[string]string{g.JID: g.Subject}
	}
	return b
}

// convertGroupInfo: a group the account is in changed: the account left
// (group.left), others' membership or roles changed (group.participants,
// one event per action, with the actor), or its settings changed
// (group.updated); a new subject renames the chat.
func (h *clientHandler) convertGroupInfo(ctx context.Context, evt *events.GroupInfo) gateway.InboundBatch {
	var b gateway.InboundBatch
	gid := evt.JID.ToNonAD().String()
	base := gateway.GroupEvent{GroupID: gid, Actor: h.actorOf(ctx, evt.Sender, evt.SenderPN), Timestamp: eventTime(evt.Timestamp)}
	own := ownPN(h.cli)
	users := func(jids []types.JID) []string {
		out := make([]string, 0, len(jids))
		for _, j := range jids {
			out = append(out, h.s.m.userJID(ctx, j, types.EmptyJID))
		}
		return out
	}
	add := func(typ string, ev gateway.GroupEvent) {
		b.Events = append(b.Events, gateway.Event{Type: typ, Data: ev})
	}
	for _, ch := range []struct {
		action string
		jids   []types.JID
	}{
		{gateway.ParticipantAdd, evt.Join}, {gateway.ParticipantRemove, evt.Leave},
		{gateway.ParticipantPromote, evt.Promote}, {gateway.ParticipantDemote, evt.Demote},
	} {
		if len(ch.jids) == 0 {
			continue
		}
		ps := users(ch.jids)
		if ch.action == gateway.ParticipantRemove && slices.Contains(ps, own) {
			ev := base
			ev.Participants = ps
			add(gateway.EventGroupLeft, ev)
			continue
		}
		ev := base
		ev.Action, ev.Participants, ev.Reason = ch.action, ps, evt.JoinReason
		add(gateway.EventGroupParticipants, ev)
	}
	upd := base
	changed := false
	if evt.Name != nil {
		name := evt.Name.Name
		upd.Subject, changed = &name, true
		b.ChatNames = map[string]string{gid: name}
	}
	if evt.Topic != nil {
		topic := evt.Topic.Topic
		upd.Description, changed = &topic, true
	}
	if evt.Announce != nil {
		v := evt.Announce.IsAnnounce
		upd.Announce, changed = &v, true
	}
	if evt.Locked != nil {
		v := evt.Locked.IsLocked
		upd.Locked, changed = &v, true
	}
	if changed {
		add(gateway.EventGroupUpdated, upd)
	}
	return b
}
