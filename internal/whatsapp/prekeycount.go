package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow"
)

// uploadedPreKeyCountSQL counts the device's uploaded prekeys, but stops at
// $2: whatsmeow's sqlstore counts all of them.
const uploadedPreKeyCountSQL = `
SELECT count(*)::int FROM (
	SELECT FROM whatsmeow_pre_keys WHERE jid = $1 AND uploaded LIMIT $2
) AS k`

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
// primary-key scan finds MinPreKeyCount of them in its first entries.
func (s *guardedStore) UploadedPreKeyCount(ctx context.Context) (int, error) {
	if s.dev.ID == nil || s.g == nil || s.g.s == nil {
		return s.guardUploadedPreKeyCount(ctx)
	}
	var n int
	err := s.g.s.m.opts.Pool.QueryRow(ctx, uploadedPreKeyCountSQL, s.dev.ID.String(), whatsmeow.MinPreKeyCount).Scan(&n)
	return n, s.g.check(err, "UploadedPreKeyCount")
}
