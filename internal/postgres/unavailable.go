package postgres

import (
	"github.com/wagate-dev/wagate/internal/dbfault"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Unavailable reports whether err means the database cannot serve right
// now (as opposed to a bad query or a constraint). It is dbfault.Unavailable,
// the one classification of database errors, shared with the WhatsApp
// adapter's database guard: interpretError and ClassifyError (the HTTP
// adapter's, wired by cmd/wagate) use it. A request's own cancellation is
// not an outage.
func Unavailable(err error) bool { return dbfault.Unavailable(err) }

// ClassifyError returns the 503 "Database temporarily unavailable" error
// when err (anywhere in its chain) is a database outage, else nil.
func ClassifyError(err error) error {
	if Unavailable(err) {
		return gateway.ErrDatabaseUnavailable(err)
	}
	return nil
}
