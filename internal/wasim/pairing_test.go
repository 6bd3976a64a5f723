package wasim_test

import (
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func TestQRPairingAndLogin(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("+1 555 000 1111")
	c := wasimtest.NewClient(t, s, wasimtest.Container().NewDevice())
	jid := wasimtest.PairQR(t, c, phone)
	if jid.User != "15550001111" || jid.Device == 0 {
		t.Fatalf("unexpected device JID %s", jid)
	}
	if got := c.Store.GetJID(); got != jid {
		t.Fatalf("client stored %s, server paired %s", got, jid)
	}
	if got := c.Store.GetLID(); got.User != phone.LID().User || got.Device != jid.Device {
		t.Fatalf("client LID %s, want %s device %d", got, phone.LID(), jid.Device)
	}
	if !s.Connected(jid) {
		t.Fatal("server does not see the device connected")
	}
	if devs := s.Devices("15550001111"); len(devs) != 1 || devs[0] != jid {
		t.Fatalf("Devices = %v", devs)
	}
	// The phone shares the app-state key: the client runs its full syncs and learns the push name.
	wasimtest.Eventually(t, "push name from app state", func() bool { return c.Store.PushName == "User 15550001111" })
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	_ = events.Connected{}
}

func TestCodePairingAndReconnect(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550002222")
	container := wasimtest.Container()
	dev := container.NewDevice()
	c := wasimtest.NewClient(t, s, dev)
	ctx := wasimtest.Ctx(t)
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.QR](t, c.Events, 0, nil)
	_, err := c.PairPhone(ctx, "+1 555 000 2222", true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if _, err := phone.EnterCode(ctx, "AAAA-AAAA"); err == nil {
		t.Fatal("wrong code accepted")
	}
	// The failed attempt consumed the pending pairing; start over.
	code, err := c.PairPhone(ctx, "15550002222", true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone again: %v", err)
	}
	jid, err := phone.EnterCode(ctx, code)
	if err != nil {
		t.Fatalf("EnterCode: %v", err)
	}
	wasimtest.WaitFor[*events.Connected](t, c.Events, 0, nil)
	wasimtest.WaitAppStateSynced(t, c)
	if c.Store.GetJID() != jid {
		t.Fatalf("client %s, server %s", c.Store.GetJID(), jid)
	}

	// A new Client on the same store logs in again.
	c.Disconnect()
	wasimtest.Eventually(t, "server sees disconnect", func() bool { return !s.Connected(jid) })
	c2 := wasimtest.NewClient(t, s, dev)
	if err := c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c2.Events, 0, nil)
	if !s.Connected(jid) {
		t.Fatal("not connected after re-login")
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestUnknownDeviceGetsLoggedOut(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550003333")
	dev := wasimtest.Container().NewDevice()
	c := wasimtest.NewClient(t, s, dev)
	jid := wasimtest.PairQR(t, c, phone)
	c.Disconnect()
	s.RemoteLogout(jid) // unlinked while offline
	if len(s.Devices("15550003333")) != 0 {
		t.Fatal("device still listed")
	}
	c2 := wasimtest.NewClient(t, s, dev)
	if err := c2.Connect(); err != nil {
		t.Fatal(err)
	}
	lo := wasimtest.WaitFor[*events.LoggedOut](t, c2.Events, 0, nil)
	if !lo.OnConnect {
		t.Fatalf("want OnConnect logout (failure 401), got %+v", lo)
	}
}
