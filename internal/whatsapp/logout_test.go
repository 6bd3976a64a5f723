package whatsapp_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow/types"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// slowReconnect keeps a disconnected session disconnected for the test:
// the supervisor's next attempt is at least 30 s away.
func slowReconnect(o *whatsapp.Options) {
	o.ReconnectBaseDelay = time.Minute
	o.ReconnectMaxDelay = time.Minute
}

// linked creates a session, links it to phone by QR and returns it with
// its companion device; stopped also stops it and waits until the
// simulator has seen the connection go.
func (f *fixture) linked(m *whatsapp.Manager, name, phone string, stopped bool) (uuid.UUID, types.JID) {
	f.t.Helper()
	id := f.createSession(name)
	f.linkQR(m, id, phone)
	dev := f.sim.Devices(phone)[0]
	if stopped {
		if err := m.Stop(context.Background(), id); err != nil {
			f.t.Fatalf("Stop: %v", err)
		}
		eventually(f.t, "the simulator sees the device gone", func() bool { return !f.sim.Connected(dev) })
	}
	return id, dev
}

// requireLoggedOut checks the session's state in memory and in the store,
// and its lastError (nil, or containing each of want).
func (f *fixture) requireLoggedOut(m *whatsapp.Manager, id uuid.UUID, want ...string) {
	f.t.Helper()
	if st, _ := m.State(id); st != gateway.StateLoggedOut {
		f.t.Fatalf("state %s after logout", st)
	}
	s := f.session(id)
	ok := s.State == gateway.StateLoggedOut && (s.LastError == nil) == (len(want) == 0)
	for _, w := range want {
		ok = ok && strings.Contains(*s.LastError, w)
	}
	if !ok {
		f.t.Fatalf("stored session %s, last error %v", s.State, s.LastError)
	}
}

// requireDeletedLocally checks that the device's keys and our link are gone.
func (f *fixture) requireDeletedLocally(id uuid.UUID, dev types.JID) {
	f.t.Helper()
	ctx := context.Background()
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, dev.String()).Scan(&n); err != nil || n != 0 {
		f.t.Fatalf("whatsmeow device rows left: %d (%v)", n, err)
	}
	if jid, err := f.devices.DeviceJID(ctx, id); err != nil || jid != "" {
		f.t.Fatalf("device link %q kept (%v)", jid, err)
	}
}

// requireUnlinkedOnWhatsApp checks that the simulator no longer lists the
// account's companion device.
func (f *fixture) requireUnlinkedOnWhatsApp(phone string) {
	f.t.Helper()
	if devs := f.sim.Devices(phone); len(devs) != 0 {
		f.t.Fatalf("simulator still lists %v for %s", devs, phone)
	}
}

func TestLogoutStoppedSessionUnlinksOnWhatsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id, dev := f.linked(m, "logout-stopped", "15550011001", true)

	if err := m.Logout(ctx, id); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550011001")
	f.requireDeletedLocally(id, dev)
	f.requireLoggedOut(m, id)
	requireErr(t, m.Logout(ctx, id), gateway.CodeConflict, gateway.MsgNotAuthenticated)

	// The same after a process restart: the stopped session is only in the
	// database, the new manager has never seen it.
	id2, dev2 := f.linked(m, "logout-stopped-restart", "15550011002", true)
	m2 := f.manager()
	if err := m2.Logout(ctx, id2); err != nil {
		t.Fatalf("Logout in a new manager: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550011002")
	f.requireDeletedLocally(id2, dev2)
	f.requireLoggedOut(m2, id2)
}

func TestLogoutOfUnlinkedSessionLeavesItRunning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("logout-unlinked")
	if err := m.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	qr := waitQR(t, m, id)
	requireErr(t, m.Logout(ctx, id), gateway.CodeConflict, gateway.MsgNotAuthenticated)
	// Still pairing: the QR code can be scanned.
	if _, err := f.sim.Phone("15550011003").ScanQR(ctx, qr); err != nil {
		t.Fatalf("ScanQR after a refused logout: %v", err)
	}
	waitState(t, m, id, gateway.StateConnected)
}

func TestRemoveStoppedSessionUnlinksOnWhatsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	id, dev := f.linked(m, "remove-stopped", "15550012001", true)

	if err := m.Remove(context.Background(), id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550012001")
	f.requireDeletedLocally(id, dev)
	if _, known := m.State(id); known {
		t.Fatal("manager still knows the removed session")
	}
}

func TestRemoveDisconnectedSessionUnlinksOnWhatsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(slowReconnect)
	id, dev := f.linked(m, "remove-disconnected", "15550013001", false)
	n := len(f.states(id))

	f.sim.DropConnection(dev)
	waitState(t, m, id, gateway.StateDisconnected)
	requireErr(t, m.Ready(id), gateway.CodeUnavailable, gateway.MsgStillConnecting)

	if err := m.Remove(context.Background(), id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550013001")
	f.requireDeletedLocally(id, dev)
	if _, known := m.State(id); known {
		t.Fatal("manager still knows the removed session")
	}
	if after := f.states(id)[n:]; slices.Contains(after, "connected") {
		t.Fatalf("the supervisor reconnected during Remove: %v", after)
	}
}

func TestLogoutDisconnectedSessionUnlinksOnWhatsApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(slowReconnect, func(o *whatsapp.Options) {
		o.LivenessInterval = 300 * time.Millisecond
		o.LivenessTimeout = 300 * time.Millisecond
	})
	id, dev := f.linked(m, "logout-disconnected", "15550014001", false)

	// A dead socket: the liveness check gives up on it, and the next
	// attempt is far away.
	f.sim.Freeze(dev, true)
	waitState(t, m, id, gateway.StateDisconnected)
	f.sim.Freeze(dev, false)

	if err := m.Logout(context.Background(), id); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550014001")
	f.requireDeletedLocally(id, dev)
	f.requireLoggedOut(m, id)
}

func TestLogoutWhenWhatsAppUnreachable(t *testing.T) {
	t.Parallel()
	const bound = time.Second
	f := newFixture(t)
	m := f.manager(func(o *whatsapp.Options) { o.LogoutTimeout = bound })
	ctx := context.Background()
	a, adev := f.linked(m, "logout-frozen", "15550015001", true)
	b, bdev := f.linked(m, "logout-closed", "15550015002", true)

	check := func(id uuid.UUID, dev types.JID, took time.Duration) {
		t.Helper()
		if took > bound+5*time.Second {
			t.Fatalf("Logout took %s with a bound of %s", took, bound)
		}
		f.requireDeletedLocally(id, dev)
		f.requireLoggedOut(m, id, "could not unlink the device on WhatsApp", "remove it on the phone")
	}

	// The socket opens but the login is never answered.
	f.sim.Freeze(adev, true)
	start := time.Now()
	if err := m.Logout(ctx, a); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	check(a, adev, time.Since(start))
	if devs := f.sim.Devices("15550015001"); len(devs) != 1 {
		t.Fatalf("simulator lists %v: the frozen device was unlinked", devs)
	}

	// Nothing answers at all.
	if err := f.sim.Close(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := m.Logout(ctx, b); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	check(b, bdev, time.Since(start))
}

// TestLogoutLeavesNoGoroutines runs alone (not parallel): the short-lived
// logout client and its simulator connection must be gone afterwards.
func TestLogoutLeavesNoGoroutines(t *testing.T) {
	f := newFixture(t)
	m := f.manager()
	id, _ := f.linked(m, "logout-goroutines", "15550016001", true)
	var before int
	eventually(t, "a steady goroutine count", func() bool {
		n := runtime.NumGoroutine()
		steady := n == before
		before = n
		return steady
	})

	if err := m.Logout(context.Background(), id); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	f.requireUnlinkedOnWhatsApp("15550016001")
	var after int
	eventually(t, "the goroutines of the logout client gone", func() bool {
		after = runtime.NumGoroutine()
		return after <= before
	})
}
