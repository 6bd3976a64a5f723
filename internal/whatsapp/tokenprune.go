package whatsapp

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pruneReq is one device's cleanup of its expired privacy tokens: every
// client runs it once after its login (deleteExpiredPrivacyTokens in
// whatsmeow's tctoken.go, in a goroutine of its own), so a restore ran
// one DELETE per session; the Manager's groupCommit deletes the tokens of
// every device queued at once.
type pruneReq struct {
	jid    string
	cutoff int64 // unix seconds, as whatsmeow stores the tokens' timestamps
}

// pruneTokensSQL deletes, for every (jid, cutoff) pair, the device's tokens
// older than its cutoff (index (our_jid, timestamp)), and returns the jid
// of every deleted row.
const pruneTokensSQL = `
DELETE FROM whatsmeow_privacy_tokens t
USING unnest($1::text[], $2::bigint[]) AS d(jid, cutoff)
WHERE t.our_jid = d.jid AND t.timestamp < d.cutoff
RETURNING t.our_jid`

// newTokenPruner returns the group commit of the cleanups; each result is
// the number of tokens deleted for that request's device.
func newTokenPruner(pool *pgxpool.Pool) *groupCommit[pruneReq, int64] {
	return &groupCommit[pruneReq, int64]{max: 512, exec: func(ctx context.Context, reqs []pruneReq) ([]int64, error) {
		jids := make([]string, len(reqs))
		cutoffs := make([]int64, len(reqs))
		for i, r := range reqs {
			jids[i], cutoffs[i] = r.jid, r.cutoff
		}
		rows, err := pool.Query(ctx, pruneTokensSQL, jids, cutoffs)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		deleted := map[string]int64{}
		for rows.Next() {
			var jid string
			if err := rows.Scan(&jid); err != nil {
				return nil, err
			}
			deleted[jid]++
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out := make([]int64, len(reqs))
		for i, r := range reqs {
			out[i] = deleted[r.jid] // a device queued twice shares its count
			deleted[r.jid] = 0
		}
		return out, nil
	}}
}

// DeleteExpiredPrivacyTokens is whatsmeow's cleanup of the device's expired
// privacy tokens, group-committed with the other sessions' (pruneReq).
func (s *guardedStore) DeleteExpiredPrivacyTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	if s.dev.ID == nil { // whatsmeow asks only once logged in; the plain query otherwise
		return s.guardDeleteExpiredPrivacyTokens(ctx, cutoff)
	}
	n, err := s.g.s.m.tokens.do(ctx, pruneReq{jid: s.dev.ID.String(), cutoff: cutoff.Unix()})
	return n, s.g.check(err, "DeleteExpiredPrivacyTokens")
}
