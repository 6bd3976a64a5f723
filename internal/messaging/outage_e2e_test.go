package messaging_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// dbOutage makes a test's database really unavailable: no new connections
// (ALLOW_CONNECTIONS false) and every open one terminated, from an admin
// connection on the server's maintenance database. Everything on the pool
// fails as in a real outage: wagate's queries and whatsmeow's store (Signal
// sessions, prekeys, the decrypted-event buffer) alike.
type dbOutage struct {
	t    *testing.T
	name string
}

func newDBOutage(t *testing.T, pool *pgxpool.Pool) *dbOutage {
	o := &dbOutage{t: t, name: pool.Config().ConnConfig.Database}
	t.Cleanup(o.restore) // also when the test fails mid-outage
	return o
}

func (o *dbOutage) admin(ctx context.Context, sql string, args ...any) {
	o.t.Helper()
	conn, err := pgx.Connect(ctx, testkit.ServerURL())
	if err != nil {
		o.t.Fatalf("admin connection: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		o.t.Fatalf("%s: %v", sql, err)
	}
}

// cut takes the database down and returns when no backend is left.
func (o *dbOutage) cut() {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	o.admin(ctx, "ALTER DATABASE "+pgx.Identifier{o.name}.Sanitize()+" ALLOW_CONNECTIONS false")
	o.admin(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", o.name)
	conn, err := pgx.Connect(ctx, testkit.ServerURL())
	if err != nil {
		o.t.Fatalf("admin connection: %v", err)
	}
	defer conn.Close(ctx)
	eventually(o.t, "the database's backends to end", func() bool {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", o.name).Scan(&n)
		return err == nil && n == 0
	})
}

func (o *dbOutage) restore() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	o.admin(ctx, "ALTER DATABASE "+pgx.Identifier{o.name}.Sanitize()+" ALLOW_CONNECTIONS true")
}

// TestInboundSurvivesDatabaseOutage takes PostgreSQL really down while
// contacts write, at three points of the inbound path:
//
//   - before decryption: the first message of a new contact (pkmsg, whose
//     one-time prekey lives in the database) and a follow-up of a known one
//     (msg); whatsmeow cannot read its Signal session or event buffer;
//   - between decryption and our commit: whatsmeow committed the
//     decrypted-event buffer, then our insert fails;
//   - after our commit, before the receipt: whatsmeow cannot clear the
//     buffered plaintext;
//   - before decryption again after a restart (stores loaded from the
//     database rather than created at pairing).
//
// During each outage nothing may be acknowledged (no receipt, no retry
// receipt, WhatsApp keeps every stanza) while the session keeps trying to
// reconnect; after the database is back every message is stored exactly
// once with one message event, and WhatsApp holds nothing for the device.
func TestInboundSurvivesDatabaseOutage(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550120000", messaging.Options{})
	dev := e.sim.Devices(e.own)[0]
	db := newDBOutage(t, e.pool)
	known := e.sim.Contact("15550120001")
	const knownPN = "15550120001@s.whatsapp.net"
	newcomer := e.sim.Contact("15550120002")
	const newcomerPN = "15550120002@s.whatsapp.net"
	settled := func(what string) {
		t.Helper()
		eventually(t, what, func() bool {
			st, _ := e.mgr.State(e.sid)
			return st == gateway.StateConnected && e.sim.Connected(dev) && e.sim.Pending(dev) == 0
		})
	}
	send := func(c *wasim.Contact, text string) string {
		t.Helper()
		id, err := c.SendText(e.ctx, e.own, text)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// held waits until the session logged in again twice while the
	// database is down (each time WhatsApp redelivers what it holds) and
	// checks that none of ids was acknowledged meanwhile.
	held := func(phase string, ids map[string]*wasim.Contact) {
		t.Helper()
		logins := e.sim.Counter("success")
		eventually(t, phase+": two reconnects during the outage", func() bool { return e.sim.Counter("success") >= logins+2 })
		for id, c := range ids {
			for _, r := range c.Receipts() {
				if r.ID == id {
					t.Fatalf("%s: message %s acknowledged during the outage with a %q receipt", phase, id, r.Type)
				}
			}
		}
		if n := e.sim.Pending(dev); n < len(ids) {
			t.Fatalf("%s: WhatsApp holds %d stanzas, want at least %d", phase, n, len(ids))
		}
	}

	// A Signal session with the known contact exists before the outage,
	// confirmed by a reply, so its next messages are plain "msg", not
	// "pkmsg".
	want := map[string]string{send(known, "before the outage"): knownPN}
	for id, chat := range want {
		e.stored(chat, id)
	}
	reply, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: knownPN, Text: "hello back"})
	if err != nil || reply.JSON200 == nil {
		t.Fatalf("reply: %v %d %s", err, statusOf(reply), bodyOf(reply))
	}
	e.received(known, "the reply", func(r wasim.Received) bool { return r.ID == reply.JSON200.MessageId })
	settled("the first message acknowledged")

	// (a) Down before decryption.
	db.cut()
	pk := send(newcomer, "first words, during the outage")
	msg := send(known, "follow-up, during the outage")
	held("before decryption", map[string]*wasim.Contact{pk: newcomer, msg: known})
	db.restore()
	want[pk], want[msg] = newcomerPN, knownPN
	e.stored(newcomerPN, pk)
	e.stored(knownPN, msg)
	settled("redelivery after the first outage")

	// (b) Down between decryption (buffer committed) and our insert; the
	// newcomer's next message arrives during the outage too.
	e.sink.mu.Lock()
	e.sink.beforeStore = db.cut
	e.sink.mu.Unlock()
	mid := send(known, "decrypted, then the database went down")
	eventually(t, "the outage before our insert", func() bool {
		e.sink.mu.Lock()
		defer e.sink.mu.Unlock()
		return e.sink.beforeStore == nil
	})
	follow := send(newcomer, "second message, during the outage")
	held("after decryption", map[string]*wasim.Contact{mid: known, follow: newcomer})
	db.restore()
	want[mid], want[follow] = knownPN, newcomerPN
	e.stored(knownPN, mid)
	e.stored(newcomerPN, follow)
	settled("redelivery after the second outage")

	// (c) Down right after our commit, before whatsmeow clears the buffer
	// and sends the receipt.
	e.sink.mu.Lock()
	e.sink.afterStore = db.cut
	e.sink.mu.Unlock()
	late := send(known, "stored, then the database went down")
	eventually(t, "the commit, then the outage", func() bool {
		e.sink.mu.Lock()
		defer e.sink.mu.Unlock()
		return e.sink.afterStore == nil
	})
	held("after commit", map[string]*wasim.Contact{late: known})
	db.restore()
	want[late] = knownPN
	settled("redelivery after the third outage")

	// (d) The same after a restart, which loads the linked device's stores
	// from the database (until now they were those created at pairing).
	if err := e.mgr.Restart(e.ctx, e.sid); err != nil {
		t.Fatal(err)
	}
	settled("the restarted session")
	db.cut()
	again := send(known, "after a restart, during the outage")
	held("after a restart", map[string]*wasim.Contact{again: known})
	db.restore()
	want[again] = knownPN
	e.stored(knownPN, again)
	settled("redelivery after the fourth outage")

	// Every message exactly once, with one message event each.
	for id, chat := range want {
		e.stored(chat, id)
	}
	var rows int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM messages WHERE session_id = $1 AND NOT from_me`, e.sid).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(want) {
		t.Fatalf("%d message rows, want %d", rows, len(want))
	}
	if n := e.countEvents("message"); n != len(want) {
		t.Fatalf("%d message events, want %d (%v)", n, len(want), e.events())
	}
	for _, c := range []*wasim.Contact{known, newcomer} {
		for _, r := range c.Receipts() {
			if r.Type == "retry" {
				t.Fatalf("%s got a retry receipt: %+v", c.JID(), r)
			}
		}
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}
