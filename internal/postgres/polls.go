package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// applyPollVote stores a voter's vote on a poll (replacing an earlier
// one) and records poll.vote when it changed the voter's selection.
func applyPollVote(ctx context.Context, tx pgx.Tx, sid uuid.UUID, c *gateway.InboundChange, ts time.Time) error {
	if c.TargetID == "" || c.Sender == "" {
		return nil
	}
	hashes := c.PollHashes
	if hashes == nil {
		hashes = [][]byte{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO poll_votes AS v (session_id, poll_id, voter, option_hashes, ts)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (session_id, poll_id, voter) DO UPDATE SET option_hashes = EXCLUDED.option_hashes, ts = EXCLUDED.ts
			WHERE v.ts <= EXCLUDED.ts AND v.option_hashes IS DISTINCT FROM EXCLUDED.option_hashes`,
		sid, c.TargetID, c.Sender, hashes, ts)
	if err != nil || tag.RowsAffected() == 0 {
		return err // an older or repeated vote changes nothing
	}
	ev := gateway.PollVoteEvent{PollMessageID: c.TargetID, ChatJID: c.Chat.JID, Voter: c.Sender,
		SelectedOptions: []string{}, Timestamp: ts.UTC()}
	poll, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE session_id = $1 AND id = $2 AND chat_jid = ANY($3) LIMIT 1`, sid, c.TargetID, c.Chat.All()), c.Chat.JID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	case poll.Poll != nil:
		ev.SelectedOptions = optionNames(poll.Poll, hashes)
		if err := loadTally(ctx, tx, sid, poll); err != nil {
			return err
		}
		ev.Poll = poll.Poll
	}
	_, err = RecordEvent(ctx, tx, sid, gateway.EventPollVote, ev)
	return err
}

// optionNames maps selected option hashes to the poll's option names (in
// the poll's order); hashes naming no option are dropped.
func optionNames(p *gateway.MessagePoll, hashes [][]byte) []string {
	sel := make(map[[32]byte]bool, len(hashes))
	for _, h := range hashes {
		if len(h) == 32 {
			sel[[32]byte(h)] = true
		}
	}
	out := []string{}
	for _, o := range p.Options {
		if sel[sha256.Sum256([]byte(o.Name))] {
			out = append(out, o.Name)
		}
	}
	return out
}

// loadTally fills a poll message's tally from its current votes, in the
// order the voters first voted.
func loadTally(ctx context.Context, q Querier, sid uuid.UUID, m *gateway.Message) error {
	if m.Poll == nil {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT voter, option_hashes, ts FROM poll_votes
		WHERE session_id = $1 AND poll_id = $2 ORDER BY first_voted_at, voter`, sid, m.ID)
	if err != nil {
		return interpretError(err, "", "")
	}
	defer rows.Close()
	var votes []gateway.PollVote
	for rows.Next() {
		var v gateway.PollVote
		var hashes [][]byte
		if err := rows.Scan(&v.Voter, &hashes, &v.Timestamp); err != nil {
			return interpretError(err, "", "")
		}
		v.Options = optionNames(m.Poll, hashes)
		votes = append(votes, v)
	}
	if err := rows.Err(); err != nil {
		return interpretError(err, "", "")
	}
	m.Poll.Tally(votes)
	return nil
}
