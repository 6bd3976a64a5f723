package wasim_test

import (
	"testing"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestDeviceConnectionsCountsReplaced: the simulator counts a linked
// device's live connections and every connection it had to replace because
// the same device logged in again while connected (what
// GET /sandbox/sessions/{id}/device reports). A disconnect and a later
// login is not a replacement.
func TestDeviceConnectionsCountsReplaced(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550170101")
	if _, _, ok := s.DeviceConnections(phone.JID().User); ok {
		t.Fatal("counts of a phone without a linked device")
	}
	c1 := wasimtest.NewPairedClient(t, s, phone)
	check := func(what string, conns, replaced int) {
		t.Helper()
		wasimtest.Eventually(t, what, func() bool {
			c, r, ok := s.DeviceConnections(phone.JID().User)
			return ok && c == conns && r == replaced
		})
	}
	check("one connection, none replaced", 1, 0)

	c1.Disconnect()
	check("no connection after a disconnect", 0, 0)
	if err := c1.Connect(); err != nil {
		t.Fatal(err)
	}
	check("one connection after a reconnect, none replaced", 1, 0)

	// A second client with the same device keys logs in while c1 is live.
	c2 := wasimtest.NewClient(t, s, c1.Store)
	if err := c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.StreamReplaced](t, c1.Events, 0, nil)
	check("the first connection replaced", 1, 1)
}
