package wasim_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	signallog "go.mau.fi/libsignal/logger"
	"go.mau.fi/whatsmeow/proto/waE2E"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestParallelSimulatorsSignalLogger: libsignal's logger is installed
// before any Signal work, so simulators created and used in parallel do
// not race on it (run with -race).
func TestParallelSimulatorsSignalLogger(t *testing.T) {
	wasim.InstallRootKey()
	// Not nil and not the default one that libsignal installs lazily
	// (racily) on its first log call.
	if l := signallog.Logger; l == nil || fmt.Sprintf("%T", l) == "*logger.defaultLogger" {
		t.Fatalf("libsignal logger not installed: %T", l)
	}
	for i, pn := range []string{"15550130001", "15550130002"} {
		t.Run(pn, func(t *testing.T) {
			t.Parallel()
			s := wasimtest.NewServer(t)
			// Signal work on both simulators at once: the phone and a
			// contact build sessions with a client and exchange messages.
			c := wasimtest.NewPairedClient(t, s, s.Phone(pn))
			ctx := wasimtest.Ctx(t)
			contact := s.Contact(fmt.Sprintf("155501400%02d", i))
			r, err := c.SendMessage(ctx, contact.JID(), &waE2E.Message{Conversation: proto.String("parallel")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err = contact.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID }); err != nil {
				t.Fatal(err)
			}
		})
	}
}
