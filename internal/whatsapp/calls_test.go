package whatsapp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// TestRingingCallSurvivesRestart: an offered call is kept in PostgreSQL
// (ringing_calls, 0093), so a manager that did not see the offer - the
// same node after a restart, or another node that took the session over -
// rejects it, and the caller sees the rejection; the row is gone after
// the reject, and a call the caller ended is not rejectable.
func TestRingingCallSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	calls := postgres.NewRingingCalls(f.pool)
	withCalls := func(o *whatsapp.Options) { o.Calls = calls }
	ctx := context.Background()
	rows := func(callID string) int {
		var n int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM ringing_calls WHERE call_id = $1`, callID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	m1 := f.manager(withCalls)
	id := f.createSession("calls")
	f.linkQR(m1, id, "4915110000201")
	contact := f.sim.Contact("4915110000202")
	callID, err := contact.OfferCall("4915110000201")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the offer stored", func() bool { return rows(callID) == 1 })
	ended, err := contact.OfferCall("4915110000201")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second offer stored", func() bool { return rows(ended) == 1 })
	contact.EndCall(ended)
	eventually(t, "the ended call dropped", func() bool { return rows(ended) == 0 })
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := f.manager(withCalls)
	if err := m2.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitState(t, m2, id, gateway.StateConnected)
	if err := m2.RejectCall(ctx, id, callID); err != nil {
		t.Fatalf("RejectCall after restart: %v", err)
	}
	eventually(t, "the caller sees the rejection", func() bool {
		c, _ := f.sim.Call(callID)
		return c.State == wasim.CallStateRejected
	})
	if n := rows(callID); n != 0 {
		t.Fatalf("ringing_calls rows after the reject: %d", n)
	}
	for _, cid := range []string{callID, ended, "NOSUCHCALL"} {
		var ge *gateway.Error
		if err := m2.RejectCall(ctx, id, cid); !errors.As(err, &ge) || ge.Code != gateway.CodeNotFound || ge.Message != gateway.MsgCallNotFound {
			t.Fatalf("RejectCall(%s) = %v, want %q", cid, err, gateway.MsgCallNotFound)
		}
	}
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatalf("simulator violations: %v", v)
	}
}
