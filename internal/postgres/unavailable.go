package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Unavailable reports whether err means the database cannot be reached
// right now (as opposed to a bad query or a constraint): the connection
// could not be made or broke, the server is shutting down, starting up or
// out of connections. This is the one classification of pgx connection
// errors: interpretError and ClassifyError (the HTTP adapter's, wired by
// cmd/wagate) use it. A request's own cancellation is not an outage.
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
		switch {
		case len(pe.Code) >= 2 && pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ne net.Error
	return pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &ne)
}

// ClassifyError returns the 503 "Database temporarily unavailable" error
// when err (anywhere in its chain) is a database outage, else nil.
func ClassifyError(err error) error {
	if Unavailable(err) {
		return gateway.ErrDatabaseUnavailable(err)
	}
	return nil
}
