package wasim_test

import (
	"context"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestRestartRightAfterPairSuccess is the regression test of the flaky
// sandbox restart ("login refused" after a restart, session logged out):
// the client stores its new device as soon as it gets pair-success, so a
// Postgres-backed simulator must have committed the companion before it
// sends pair-success. Here the simulator is closed right after the client
// confirmed the pairing (pair-device-sign), before it could finish; the
// restarted simulator must still know the device and accept its login.
func TestRestartRightAfterPairSuccess(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	phone := s1.Phone("15550170001")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)

	reached, release := make(chan struct{}), make(chan struct{})
	wasim.SetPairSignedHook(func() {
		close(reached)
		<-release
	})
	t.Cleanup(func() { wasim.SetPairSignedHook(nil) })

	ctx, cancel := context.WithTimeout(context.Background(), wasimtest.DefaultTimeout)
	defer cancel()
	qrs, err := c1.GetQRChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err = c1.Connect(); err != nil {
		t.Fatal(err)
	}
	item := <-qrs
	if item.Event != whatsmeow.QRChannelEventCode {
		t.Fatalf("QR channel: %q %v", item.Event, item.Error)
	}
	code := item.Code
	scanned := make(chan error, 1)
	go func() {
		_, err := phone.ScanQR(ctx, code)
		scanned <- err
	}()
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("pairing never reached pair-device-sign")
	}
	// The client holds its device now; the simulator dies before finishing.
	pair := wasimtest.WaitFor[*events.PairSuccess](t, c1.Events, 0, nil)
	c1.Disconnect()
	_ = s1.Close()
	close(release)
	select {
	case _ = <-scanned: // success or error: the server was closed under it
	case <-time.After(wasimtest.DefaultTimeout):
		t.Fatal("ScanQR did not return after Close")
	}
	wasim.SetPairSignedHook(nil)

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	if devs := s2.Devices(phone.JID().User); len(devs) != 1 || devs[0] != pair.ID {
		t.Fatalf("devices after restart %v, want [%s]", devs, pair.ID)
	}
	c2 := wasimtest.NewClient(t, s2, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	evt, _, err := c2.Events.Wait(ctx, 0, func(e any) bool {
		switch e.(type) {
		case *events.Connected, *events.LoggedOut:
			return true
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := evt.(*events.Connected); !ok {
		t.Fatalf("login after restart: %T %+v (simulator lost the companion)", evt, evt)
	}
	if v := s2.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestLoadKeepsLinkedDevices: state with an account whose simulated device
// row is missing, or a companion whose account row is missing (written
// one statement at a time by older versions, or cut off by a crash), must
// not make the companion vanish: its client must still log in.
func TestLoadKeepsLinkedDevices(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	ctx := wasimtest.Ctx(t)
	type linked struct {
		phone string
		jid   types.JID
		dev   *store.Device
	}
	var all []linked
	for _, pn := range []string{"15550170002", "15550170003"} {
		dev := wasimtest.Container().NewDevice()
		c := wasimtest.NewClient(t, s1, dev)
		all = append(all, linked{pn, wasimtest.PairQR(t, c, s1.Phone(pn)), dev})
		c.Disconnect()
	}
	if errs := s1.PersistErrors(); len(errs) > 0 {
		t.Fatalf("persist errors: %v", errs)
	}
	_ = s1.Close()
	if _, err := pool.Exec(ctx, `DELETE FROM wasim_sim_devices WHERE pn=$1`, all[0].phone); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM wasim_accounts WHERE pn=$1`, all[1].phone); err != nil {
		t.Fatal(err)
	}

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	for _, l := range all {
		if devs := s2.Devices(l.phone); len(devs) != 1 || devs[0] != l.jid {
			t.Fatalf("%s: devices after restart %v, want [%s]", l.phone, devs, l.jid)
		}
		c := wasimtest.NewClient(t, s2, l.dev)
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		wasimtest.WaitFor[*events.Connected](t, c.Events, 0, nil)
	}
	// A new device of the recreated account does not reuse the linked id.
	c := wasimtest.NewClient(t, s2, wasimtest.Container().NewDevice())
	if jid := wasimtest.PairQR(t, c, s2.Phone(all[1].phone)); jid.Device == all[1].jid.Device {
		t.Fatalf("new device got the id of a linked one: %s", jid)
	}
	if errs := s2.PersistErrors(); len(errs) > 0 {
		t.Fatalf("persist errors: %v", errs)
	}
}
