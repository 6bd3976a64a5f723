package whatsapp

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mau.fi/whatsmeow"
)

// uploadedPreKeyCountsSQL counts, for every device jid in $1, its uploaded
// prekeys, but stops at $2: whatsmeow's sqlstore counts all of them.
const uploadedPreKeyCountsSQL = `
SELECT (SELECT count(*) FROM (
	SELECT FROM whatsmeow_pre_keys k WHERE k.jid = d.jid AND k.uploaded LIMIT $2
) AS up)::int
FROM unnest($1::text[]) WITH ORDINALITY AS d(jid, n)
ORDER BY d.n`

// newPreKeyCounter returns the group commit of the uploaded-prekey counts
// (UploadedPreKeyCount) of the devices logging in at once.
func newPreKeyCounter(pool *pgxpool.Pool) *groupCommit[string, int] {
	return &groupCommit[string, int]{max: 512, exec: func(ctx context.Context, jids []string) ([]int, error) {
		rows, err := pool.Query(ctx, uploadedPreKeyCountsSQL, jids, whatsmeow.MinPreKeyCount)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make([]int, 0, len(jids))
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, rows.Err()
	}}
}

// UploadedPreKeyCount answers whatsmeow's question after every login
// (handleConnectSuccess in connectionevents.go): are there fewer than
// whatsmeow.MinPreKeyCount uploaded prekeys in the database, or none at
// all? If so it uploads a new batch. That is the method's only use, so the
// count stops at MinPreKeyCount: a device that linked has 812 of them,
// written 50 at a time while other devices linked, so counting them all
// read a few dozen pages, the costliest statement of a restore and one
// that grew with the number of devices once the table no longer fitted in
// PostgreSQL's shared buffers (docs/benchmarks.md, restore at scale).
// Whatsmeow's key ids grow and uploaded keys are the oldest, so the
// primary-key scan finds MinPreKeyCount of them in its first entries. The
// counts of the devices logging in at once are one statement (groupCommit).
func (s *guardedStore) UploadedPreKeyCount(ctx context.Context) (int, error) {
	if s.dev.ID == nil { // whatsmeow asks only once logged in; the plain query otherwise
		return s.guardUploadedPreKeyCount(ctx)
	}
	n, err := s.g.s.m.preKeys.do(ctx, s.dev.ID.String())
	return n, s.g.check(err, "UploadedPreKeyCount")
}
