package wasim_test

import (
	"testing"

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
