package whatsapp

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wagate-dev/wagate/internal/dbfault"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// TestDBUnavailable: what takes a session off WhatsApp (the database cannot
// serve) and what does not (bad data, a stopping caller, a deleted device).
func TestDBUnavailable(t *testing.T) {
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
		{"connection failure", pg("08006"), true},
		{"too many connections", pg("53300"), true},
		{"serialization failure", pg("40001"), true},
		{"lock not available", pg("55P03"), true},
		{"unique violation", pg("23505"), false},
		{"syntax error", pg("42601"), false},
		{"wrapped by the message store", gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, pg("57P01")), true},
		{"injected, no database error inside", gateway.E(gateway.CodeUnavailable, "database unavailable (injected)"), false},
		{"conn closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"bad conn", driver.ErrBadConn, true},
		{"deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), true},
		{"cancelled", fmt.Errorf("store: %w", context.Canceled), false},
		{"deleted device", store.ErrDeviceDeleted, false},
		{"not paired", sqlstore.ErrDeviceIDMustBeSet, false},
		{"anything else", errors.New("invalid prekey message"), false},
	} {
		if got := dbfault.Unavailable(c.err); got != c.want {
			t.Errorf("%s: dbfault.Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
