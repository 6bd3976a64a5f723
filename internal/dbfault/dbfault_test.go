package dbfault_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wagate-dev/wagate/internal/dbfault"
)

// TestUnavailable: what counts as an outage (retry later) and what does
// not (bad data, a bad query, the caller giving up).
func TestUnavailable(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "x"} }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connect refused or not accepting connections", fmt.Errorf("begin: %w", &pgconn.ConnectError{}), true},
		{"admin shutdown (terminated backend)", fmt.Errorf("transaction: begin: %w", pg("57P01")), true},
		{"cannot connect now", pg("57P03"), true},
		{"statement timeout", pg("57014"), true},
		{"connection failure", pg("08006"), true},
		{"too many connections", pg("53300"), true},
		{"disk full", pg("53100"), true},
		{"I/O error", pg("58030"), true},
		{"serialization failure", pg("40001"), true},
		{"deadlock", pg("40P01"), true},
		{"lock not available", pg("55P03"), true},
		{"unique violation", pg("23505"), false},
		{"syntax error", pg("42601"), false},
		{"undefined table", pg("42P01"), false},
		{"short code", pg("0"), false},
		{"conn closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"bad conn", driver.ErrBadConn, true},
		{"conn done", sql.ErrConnDone, true},
		{"deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), true},
		{"cancelled", fmt.Errorf("store: %w", context.Canceled), false},
		{"no rows", sql.ErrNoRows, false},
		{"anything else", errors.New("invalid prekey message"), false},
	} {
		if got := dbfault.Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
