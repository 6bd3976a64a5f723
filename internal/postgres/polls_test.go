package postgres_test

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

func optionHash(name string) []byte {
	h := sha256.Sum256([]byte(name))
	return h[:]
}

// TestPollVotesStore: votes replace the voter's earlier one, an older or
// repeated vote changes nothing and records no event, hashes naming no
// option are ignored, and the tally lists voters in the order they first
// voted. Votes on a poll not stored are kept and evented without a poll.
func TestPollVotesStore(t *testing.T) {
	t.Parallel()
	b := setupMessages(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	poll := inbound("P1", contactPN, ownPN, true, t0, "Lunch?")
	poll.Type = gateway.TypePoll
	poll.Poll = &gateway.MessagePoll{Question: "Lunch?", SelectableCount: 0,
		Options: []gateway.PollOption{{Name: "pizza"}, {Name: "sushi"}, {Name: "salad"}}}
	if err := b.store.SaveSent(b.ctx, b.sid, poll); err != nil {
		t.Fatal(err)
	}
	const other = "15550009999@s.whatsapp.net"
	vote := func(voter string, at time.Duration, options ...string) {
		t.Helper()
		hashes := [][]byte{}
		for _, o := range options {
			hashes = append(hashes, optionHash(o))
		}
		if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{{Kind: gateway.ChangePollVote, Chat: pnRef,
			TargetID: "P1", Sender: voter, PollHashes: hashes, Timestamp: t0.Add(at)}}); err != nil {
			t.Fatal(err)
		}
	}
	tally := func() map[string][]string {
		t.Helper()
		m, err := b.store.GetMessage(b.ctx, b.sid, pnRef, "P1")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, o := range m.Poll.Options {
			if *o.Votes != len(o.Voters) {
				t.Fatalf("option %s: %d votes, voters %v", o.Name, *o.Votes, o.Voters)
			}
			out[o.Name] = o.Voters
		}
		return out
	}
	votes := func() int {
		n := 0
		for _, e := range b.events(t) {
			if e == gateway.EventPollVote {
				n++
			}
		}
		return n
	}

	vote(contactPN, time.Second, "sushi", "salad")
	vote(other, 2*time.Second, "sushi", "not an option")
	eq(t, "tally", tally(), map[string][]string{"pizza": {}, "sushi": {contactPN, other}, "salad": {contactPN}})
	eq(t, "events", votes(), 2)

	vote(contactPN, 3*time.Second, "pizza")         // replaces
	vote(contactPN, 1500*time.Millisecond, "salad") // older: ignored
	vote(contactPN, 3*time.Second, "pizza")         // repeated: ignored
	eq(t, "tally after the change", tally(), map[string][]string{"pizza": {contactPN}, "sushi": {other}, "salad": {}})
	eq(t, "events after the change", votes(), 3)

	vote(other, 4*time.Second) // retracted
	eq(t, "tally after the retraction", tally(), map[string][]string{"pizza": {contactPN}, "sushi": {}, "salad": {}})
	eq(t, "events after the retraction", votes(), 4)

	// The order is that of the first votes: other voted after contactPN.
	vote(other, 5*time.Second, "pizza")
	eq(t, "voters in order", tally()["pizza"], []string{contactPN, other})

	// A list carries the poll without the tally.
	list, _, err := b.store.ListMessages(b.ctx, b.sid, pnRef, gateway.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Poll == nil || list[0].Poll.Options[0].Votes != nil {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// A vote on a poll not stored: kept, evented without the poll.
	if err := b.store.ApplyChanges(b.ctx, b.sid, []gateway.InboundChange{{Kind: gateway.ChangePollVote, Chat: pnRef,
		TargetID: "UNKNOWN", Sender: contactPN, PollHashes: [][]byte{optionHash("x")}, Timestamp: t0}}); err != nil {
		t.Fatal(err)
	}
	var data string
	if err := b.pool.QueryRow(b.ctx, `SELECT data::text FROM events WHERE session_id = $1 AND type = 'poll.vote' AND data->>'pollMessageId' = 'UNKNOWN'`,
		b.sid).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if want := `"selectedOptions": []`; !strings.Contains(data, want) || strings.Contains(data, `"poll"`) {
		t.Fatalf("event of a vote on an unknown poll: %s", data)
	}
}
