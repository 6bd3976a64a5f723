package whatsapp_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

func requireErr(t *testing.T, err error, code gateway.Code, msg string) {
	t.Helper()
	if gateway.ErrorCode(err) != code || gateway.ErrorMessage(err) != msg {
		t.Fatalf("got error %v, want %s %q", err, code, msg)
	}
}

func TestQRLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("qr")

	_, err := m.QR(ctx, id)
	requireErr(t, err, gateway.CodeConflict, "QR code not available yet. Session state: stopped")
	requireErr(t, m.Ready(id), gateway.CodeUnavailable, gateway.MsgStillConnecting)

	if err := m.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, id); err != nil { // idempotent
		t.Fatal(err)
	}
	qr := waitQR(t, m, id)
	if !strings.HasPrefix(qr, "https://wa.me/settings/linked_devices#") {
		t.Fatalf("QR %q is not whatsmeow's raw string", qr)
	}
	requireErr(t, m.Ready(id), gateway.CodeConflict, gateway.MsgNotAuthenticated)
	png, err := whatsapp.QRPNG(qr, 256)
	if err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Fatalf("QRPNG: %v (%d bytes)", err, len(png))
	}

	dev, err := f.sim.Phone("15550001001").ScanQR(ctx, qr)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, id, gateway.StateConnected)
	if err := m.Ready(id); err != nil {
		t.Fatalf("Ready after link: %v", err)
	}
	_, err = m.QR(ctx, id)
	requireErr(t, err, gateway.CodeConflict, "QR code not available yet. Session state: connected")

	s := f.session(id)
	if s.State != gateway.StateConnected || s.JID == nil || *s.JID != "15550001001@s.whatsapp.net" ||
		s.Phone == nil || *s.Phone != "15550001001" || s.ConnectedAt == nil || s.LastError != nil {
		t.Fatalf("stored session %+v", s)
	}
	if jid, _ := f.devices.DeviceJID(ctx, id); jid != dev.String() {
		t.Fatalf("device link %q, want %q", jid, dev)
	}
	if !f.sim.Connected(dev) {
		t.Fatal("simulator does not see the device connected")
	}
	got := f.states(id)
	want := []string{"starting", "qr_ready", "pairing", "connected"}
	if !slices.Equal(compact(got), want) {
		t.Fatalf("recorded states %v, want %v", got, want)
	}
	if m.AccountJID(id) != "15550001001@s.whatsapp.net" {
		t.Fatalf("AccountJID %q", m.AccountJID(id))
	}
}

// compact drops consecutive duplicates (QR rotation records qr_ready again).
func compact(s []string) []string { return slices.Compact(slices.Clone(s)) }

func TestCodeLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("code")

	_, err := m.PairCode(ctx, id, "not a phone")
	requireErr(t, err, gateway.CodeInvalid, "Invalid phone number: use the international format with country code, digits only")

	code, err := m.PairCode(ctx, id, "+1 555 000 2002") // starts the session
	if err != nil {
		t.Fatalf("PairCode: %v", err)
	}
	if len(strings.ReplaceAll(code, "-", "")) != 8 {
		t.Fatalf("pairing code %q is not 8 characters", code)
	}
	waitState(t, m, id, gateway.StatePairing)
	dev, err := f.sim.Phone("15550002002").EnterCode(ctx, code)
	if err != nil {
		t.Fatalf("EnterCode: %v", err)
	}
	waitState(t, m, id, gateway.StateConnected)
	if s := f.session(id); s.JID == nil || *s.JID != "15550002002@s.whatsapp.net" {
		t.Fatalf("stored JID %v", s.JID)
	}
	if !f.sim.Connected(dev) {
		t.Fatal("simulator does not see the device connected")
	}
	_, err = m.PairCode(ctx, id, "15550002002")
	requireErr(t, err, gateway.CodeConflict, "Session is already linked")
}

func TestManagerRestartRestoresSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m1 := f.manager()
	ctx := context.Background()
	ids := []uuid.UUID{f.createSession("a"), f.createSession("b"), f.createSession("c")}
	for i, id := range ids {
		f.linkQR(m1, id, fmt.Sprintf("1555000300%d", i))
	}
	stopped := f.createSession("stopped")
	f.linkQR(m1, stopped, "15550003009")
	if err := m1.Stop(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		dev := f.sim.Devices(fmt.Sprintf("1555000300%d", i))
		eventually(t, "simulator sees the old connection gone", func() bool { return !f.sim.Connected(dev[0]) })
	}
	before := map[uuid.UUID]int{}
	for _, id := range ids {
		before[id] = len(f.states(id))
	}

	m2 := f.manager()
	n, err := m2.Boot(ctx)
	if err != nil || n != len(ids) {
		t.Fatalf("Boot = %d, %v; want %d", n, err, len(ids))
	}
	for i, id := range ids {
		waitState(t, m2, id, gateway.StateConnected)
		after := f.states(id)[before[id]:]
		if slices.Contains(after, "qr_ready") || slices.Contains(after, "pairing") {
			t.Fatalf("session %d went through %v after restart: a new link was needed", i, after)
		}
		if devs := f.sim.Devices(fmt.Sprintf("1555000300%d", i)); len(devs) != 1 || !f.sim.Connected(devs[0]) {
			t.Fatalf("simulator devices %v", devs)
		}
	}
	if st, known := m2.State(stopped); known {
		t.Fatalf("stopped session was restored (%s)", st)
	}
	if f.session(stopped).State != gateway.StateStopped {
		t.Fatal("stopped session changed state")
	}
	// A stopped session starts again without a new link.
	if err := m2.Start(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	waitState(t, m2, stopped, gateway.StateConnected)
}

func TestDroppedConnectionReconnects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	id := f.createSession("drop")
	f.linkQR(m, id, "15550004004")
	dev := f.sim.Devices("15550004004")[0]
	n := len(f.states(id))

	f.sim.DropConnection(dev)
	eventually(t, "disconnected then connected again", func() bool {
		s := f.states(id)[n:]
		return len(s) >= 2 && s[0] == "disconnected" && s[len(s)-1] == "connected"
	})
	waitState(t, m, id, gateway.StateConnected)
	if !f.sim.Connected(dev) {
		t.Fatal("simulator does not see the device back")
	}
	if s := f.session(id); s.LastError != nil {
		t.Fatalf("last error not cleared after reconnect: %q", *s.LastError)
	}

	n = len(f.states(id))
	f.sim.StreamError(dev, "503")
	eventually(t, "reconnect after a stream error", func() bool {
		s := f.states(id)[n:]
		return len(s) >= 2 && s[0] == "disconnected" && s[len(s)-1] == "connected"
	})
}

func TestFrozenSocketDetectedByLiveness(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(func(o *whatsapp.Options) {
		o.LivenessInterval = 300 * time.Millisecond
		o.LivenessTimeout = 300 * time.Millisecond
		o.LastSeenEvery = 100 * time.Millisecond
	})
	id := f.createSession("frozen")
	f.linkQR(m, id, "15550005005")
	dev := f.sim.Devices("15550005005")[0]
	eventually(t, "lastSeenAt moves while the socket answers", func() bool {
		s := f.session(id)
		return s.LastSeenAt != nil && s.ConnectedAt != nil && s.LastSeenAt.After(*s.ConnectedAt)
	})
	n := len(f.states(id))

	f.sim.Freeze(dev, true)
	eventually(t, "the dead socket detected", func() bool {
		return slices.Contains(f.states(id)[n:], "disconnected")
	})
	if s := f.session(id); s.LastError == nil || !strings.Contains(*s.LastError, "liveness") {
		t.Fatalf("last error %v does not name the liveness probe", s.LastError)
	}
	requireErr(t, m.Ready(id), gateway.CodeUnavailable, gateway.MsgStillConnecting)
	f.sim.Freeze(dev, false)
	waitState(t, m, id, gateway.StateConnected)
	if err := m.Ready(id); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("remote-logout")
	f.linkQR(m, id, "15550006006")
	dev := f.sim.Devices("15550006006")[0]

	f.sim.RemoteLogout(dev)
	waitState(t, m, id, gateway.StateLoggedOut)
	eventually(t, "stored state logged_out", func() bool { return f.session(id).State == gateway.StateLoggedOut })
	if jid, _ := f.devices.DeviceJID(ctx, id); jid != "" {
		t.Fatalf("device link %q kept after logout", jid)
	}
	requireErr(t, m.Ready(id), gateway.CodeConflict, gateway.MsgNotAuthenticated)
	// Starting again begins a new link.
	if err := m.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitQR(t, m, id)
}

func TestLogoutAndRemove(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	a, b := f.createSession("logout"), f.createSession("remove")
	f.linkQR(m, a, "15550007007")
	f.linkQR(m, b, "15550007008")

	if err := m.Logout(ctx, a); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if devs := f.sim.Devices("15550007007"); len(devs) != 0 {
		t.Fatalf("simulator still lists %v after logout", devs)
	}
	if st := f.session(a).State; st != gateway.StateLoggedOut {
		t.Fatalf("state %s after logout", st)
	}
	requireErr(t, m.Logout(ctx, a), gateway.CodeConflict, gateway.MsgNotAuthenticated)

	bdev := f.sim.Devices("15550007008")[0]
	if err := m.Remove(ctx, b); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if devs := f.sim.Devices("15550007008"); len(devs) != 0 {
		t.Fatalf("simulator still lists %v after remove", devs)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, bdev.String()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("whatsmeow device rows left: %d (%v)", n, err)
	}
	if _, known := m.State(b); known {
		t.Fatal("manager still knows the removed session")
	}

	// Removing a stopped linked session deletes its keys too.
	c := f.createSession("remove-stopped")
	f.linkQR(m, c, "15550007009")
	if err := m.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_device`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("whatsmeow device rows left: %d (%v)", n, err)
	}
}

func TestInboundMessagesReachTheSink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("inbound")
	f.linkQR(m, id, "15550008008")

	contact := f.sim.Contact("15550008100")
	inSink := func(id, text string) func() bool {
		return func() bool {
			for _, m := range f.sink.messages() {
				if m.ID == id && m.Text != nil && *m.Text == text && !m.FromMe && strings.HasPrefix(m.ChatJID, "15550008100") {
					return true
				}
			}
			return false
		}
	}
	msgID, err := contact.SendText(ctx, "15550008008", "hello gateway")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message in the sink", inSink(msgID, "hello gateway"))

	// A refused message is not acknowledged: WhatsApp keeps it and delivers
	// it again on the next connection.
	f.sink.mu.Lock()
	f.sink.fail = 1
	f.sink.mu.Unlock()
	msgID, err = contact.SendText(ctx, "15550008008", "second")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the sink refused it", func() bool {
		f.sink.mu.Lock()
		defer f.sink.mu.Unlock()
		return f.sink.fail == 0
	})
	if inSink(msgID, "second")() {
		t.Fatal("refused message recorded")
	}
	dev := f.sim.Devices("15550008008")[0]
	f.sim.DropConnection(dev)
	eventually(t, "the redelivered message in the sink", inSink(msgID, "second"))
}

func TestManySessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	const n = 12
	ctx := context.Background()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = f.createSession(fmt.Sprintf("many-%d", i))
		if err := m.Start(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, id := range ids {
		qr := waitQR(t, m, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.sim.Phone(fmt.Sprintf("155500090%02d", i)).ScanQR(ctx, qr); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, id := range ids {
		waitState(t, m, id, gateway.StateConnected)
		if err := m.Ready(id); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
}

func TestSimulatorTrustInterlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := whatsapp.NewManager(context.Background(), f.options(func(o *whatsapp.Options) { o.TrustSimulator = false }))
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("NewManager without TrustSimulator after the root key was replaced: %v", err)
	}
	_, err = whatsapp.NewManager(context.Background(), f.options(func(o *whatsapp.Options) { o.HTTPClient = nil }))
	if err == nil {
		t.Fatal("TrustSimulator without HTTPClient accepted")
	}
}
