// Package dbfault is the one classification of database errors: whether
// an error means the database cannot serve right now (an outage, to wait
// out and retry) rather than a bad query, bad data or a constraint. The
// PostgreSQL adapter answers 503 "Database temporarily unavailable" on it
// (postgres.Unavailable, ClassifyError), and the WhatsApp adapter's
// database guard closes the WhatsApp socket on it so that nothing is
// acknowledged (whatsapp/dbguard.go). It is a leaf: it imports nothing of
// this module.
package dbfault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err (anywhere in its chain) is a database
// outage: the connection could not be made or broke; the server is
// shutting down, starting up, out of connections or resources, or failed
// with an I/O error; the transaction was rolled back by a serialization
// failure or deadlock, or a lock or the statement timed out (retrying
// helps in every case). A caller's own cancellation is not an outage;
// a deadline is (the database did not answer in time).
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if len(pe.Code) < 2 {
			return false
		}
		switch pe.Code[:2] {
		case "08", // connection exception
			"40", // transaction rollback (serialization failure, deadlock)
			"53", // insufficient resources (disk full, out of memory, too many connections)
			"57", // operator intervention (admin or crash shutdown, cannot connect now, statement timeout)
			"58": // system error (I/O error)
			return true
		}
		return pe.Code == "55P03" // lock not available
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.As(err, &ne):
		return true
	}
	return false
}
