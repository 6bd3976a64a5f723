package messaging_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// tally is a poll's tally as GET …/messages/{messageId} answers it: per
// option, its voters.
func (e *e2e) tally(chat, id string) map[string][]string {
	e.t.Helper()
	m := e.message(chat, id)
	if m.Poll == nil {
		e.t.Fatalf("poll %s has no poll: %s", id, bodyOf(m))
	}
	out := map[string][]string{}
	for _, o := range m.Poll.Options {
		if o.Votes == nil || o.Voters == nil || *o.Votes != len(*o.Voters) {
			e.t.Fatalf("poll %s option %q without a consistent tally: %s", id, o.Name, bodyOf(m))
		}
		out[o.Name] = *o.Voters
	}
	return out
}

// pollVoteEvents are the session's poll.vote payloads, in order.
func (e *e2e) pollVoteEvents() []gateway.PollVoteEvent {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT data FROM events WHERE session_id = $1 AND type = 'poll.vote' ORDER BY created_at, id`, e.sid)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []gateway.PollVoteEvent
	for rows.Next() {
		var raw []byte
		var ev gateway.PollVoteEvent
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestPollVotesEndToEnd: a poll the session sends is stored with its
// question, options and selectable count; two contacts vote (encrypted
// with the poll's secret, as WhatsApp does); whatsmeow decrypts the votes
// with the secret it kept when sending, and the tally, the voters and the
// poll.vote events show them. A changed vote replaces the earlier one, an
// empty vote retracts it.
func TestPollVotesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118000", messaging.Options{})
	alice, bob := e.sim.Contact("15550118001"), e.sim.Contact("15550118002")
	const aliceJID, bobJID = "15550118001@s.whatsapp.net", "15550118002@s.whatsapp.net"

	r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: "15550118001", Question: "Lunch?",
		Options: []string{"pizza", "sushi", "salad"}, SelectableCount: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	pollID := sent(t, "poll", r.StatusCode(), r.Body, r.JSON200, "poll")
	e.received(alice, "the poll", func(rc wasim.Received) bool { return rc.ID == pollID })
	m := e.message(aliceJID, pollID)
	if m.Type != "poll" || m.Poll == nil || m.Poll.Question != "Lunch?" || m.Poll.SelectableCount != 1 || len(m.Poll.Options) != 3 ||
		m.Poll.Options[1].Name != "sushi" {
		t.Fatalf("sent poll stored as %s", bodyOf(m))
	}
	if got := e.tally(aliceJID, pollID); len(got["pizza"])+len(got["sushi"])+len(got["salad"]) != 0 {
		t.Fatalf("tally before any vote: %v", got)
	}

	if _, err := alice.Vote(e.ctx, e.own, pollID, []string{"sushi"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's vote in the tally", func() bool { return slices.Equal(e.tally(aliceJID, pollID)["sushi"], []string{aliceJID}) })
	evs := e.pollVoteEvents()
	if len(evs) != 1 || evs[0].PollMessageID != pollID || evs[0].Voter != aliceJID || !slices.Equal(evs[0].SelectedOptions, []string{"sushi"}) ||
		evs[0].ChatJID != aliceJID || evs[0].Poll == nil || *evs[0].Poll.Options[1].Votes != 1 {
		t.Fatalf("poll.vote events after the first vote: %+v", evs)
	}

	// Alice changes her mind: the new vote replaces the old one.
	if _, err := alice.Vote(e.ctx, e.own, pollID, []string{"pizza"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's changed vote", func() bool {
		got := e.tally(aliceJID, pollID)
		return slices.Equal(got["pizza"], []string{aliceJID}) && len(got["sushi"]) == 0
	})
	if evs := e.pollVoteEvents(); len(evs) != 2 || !slices.Equal(evs[1].SelectedOptions, []string{"pizza"}) {
		t.Fatalf("poll.vote events after the change: %+v", evs)
	}

	// A vote retracted selects nothing.
	if _, err := alice.Vote(e.ctx, e.own, pollID, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's retracted vote", func() bool { return len(e.tally(aliceJID, pollID)["pizza"]) == 0 })
	if evs := e.pollVoteEvents(); len(evs) != 3 || len(evs[2].SelectedOptions) != 0 {
		t.Fatalf("poll.vote events after the retraction: %+v", evs)
	}

	// A poll received from a contact: stored with its content, and the
	// secret whatsmeow kept on receipt decrypts its votes.
	bobPoll, err := bob.SendPoll(e.ctx, e.own, "Where?", []string{"here", "there"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	pm := e.stored(bobJID, bobPoll)
	if pm.Type != gateway.TypePoll || pm.Poll == nil || pm.Poll.Question != "Where?" || len(pm.Poll.Options) != 2 || pm.Poll.SelectableCount != 0 {
		t.Fatalf("received poll stored as %+v", pm)
	}
	if _, err := bob.Vote(e.ctx, e.own, bobPoll, []string{"here", "there"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob's vote on his own poll", func() bool {
		got := e.tally(bobJID, bobPoll)
		return slices.Equal(got["here"], []string{bobJID}) && slices.Equal(got["there"], []string{bobJID})
	})
	// Votes of one poll leave the other's tally alone.
	if got := e.tally(aliceJID, pollID); len(got["here"])+len(got["pizza"])+len(got["sushi"]) != 0 {
		t.Fatalf("alice's poll after bob's vote: %v", got)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestGroupPollVotesEndToEnd: a poll the session sends to a group reaches
// the members, whose phones keep its secret; a member's vote (key: the
// group as chat, the session as participant) decrypts in whatsmeow and
// shows in the tally with the member as voter, changes and retracts like a
// direct vote, and records poll.vote events for the group chat.
func TestGroupPollVotesEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117500", messaging.Options{})
	const a, b = "15550117501", "15550117502"
	e.sim.Contact(a)
	e.sim.Contact(b)
	cr, err := e.c.CreateGroupWithResponse(e.ctx, e.sid, client.CreateGroupJSONRequestBody{Subject: "Lunch", Participants: []string{a, b}})
	if err != nil || cr.JSON200 == nil {
		t.Fatalf("create group: %v %s", err, bodyOf(cr))
	}
	gid := cr.JSON200.Group.Id
	r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: gid, Question: "Where?", Options: []string{"here", "there"}})
	if err != nil {
		t.Fatal(err)
	}
	pollID := sent(t, "group poll", r.StatusCode(), r.Body, r.JSON200, "poll")
	for _, m := range []string{a, b} {
		got := e.received(e.sim.Contact(m), "the group poll", func(rc wasim.Received) bool { return rc.ID == pollID })
		if got.Kind != wasim.KindPoll || got.Chat != gid || !slices.Equal(got.PollOptions, []string{"here", "there"}) {
			t.Fatalf("member %s received the poll as %s in %s %+v", m, got.Kind, got.Chat, got.KindFields)
		}
	}
	aJID, bJID := a+"@s.whatsapp.net", b+"@s.whatsapp.net"
	if _, err := e.sim.GroupVote(e.ctx, gid, a, pollID, []string{"there"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's group vote in the tally", func() bool { return slices.Equal(e.tally(gid, pollID)["there"], []string{aJID}) })
	if _, err := e.sim.GroupVote(e.ctx, gid, b, pollID, []string{"here", "there"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's group vote in the tally", func() bool {
		tl := e.tally(gid, pollID)
		return slices.Equal(tl["there"], []string{aJID, bJID}) && slices.Equal(tl["here"], []string{bJID})
	})
	// The other member's phone decrypted the vote too (it knows the poll).
	got := e.received(e.sim.Contact(b), "a's vote", func(rc wasim.Received) bool { return rc.Kind == wasim.KindPollVote && rc.From == aJID })
	if !slices.Equal(got.SelectedOptions, []string{"there"}) {
		t.Fatalf("b decrypted a's vote as %+v", got.KindFields)
	}
	if _, err := e.sim.GroupVote(e.ctx, gid, a, pollID, nil); err != nil { // retract
		t.Fatal(err)
	}
	eventually(t, "a's retraction", func() bool {
		tl := e.tally(gid, pollID)
		return slices.Equal(tl["there"], []string{bJID}) && slices.Equal(tl["here"], []string{bJID})
	})
	evs := e.pollVoteEvents()
	if len(evs) != 3 || evs[0].ChatJID != gid || evs[0].Voter != aJID || evs[1].Voter != bJID || len(evs[2].SelectedOptions) != 0 {
		t.Fatalf("poll.vote events: %+v", evs)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
