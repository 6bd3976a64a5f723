package sandbox_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// TestExpireMedia: expire-media through the sandbox control plane, in
// process and through the control API of `wagate simulator`, drops the
// file of a contact's media message from the simulated media server; an
// unknown message is 404 with its text, an unlinked session 409. (The
// recovery itself: messaging's TestExpiredMediaRecovery.)
func TestExpireMedia(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "remote"}[remote], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := testkit.NewDB(t)
			wasim.InstallRootKey()
			sim, err := wasim.New(wasim.Options{Logger: logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sim.Close() })
			var control sandbox.Control = sandbox.Local{Sim: sim}
			if remote {
				control = &sandbox.Remote{BaseURL: newControlServer(t, sandbox.ControlHandler(control))}
			}
			store := postgres.NewStore(pool)
			m, err := whatsapp.NewManager(ctx, whatsapp.Options{
				Pool: pool, Status: store, Devices: postgres.NewDeviceStore(pool), Logger: logger(t),
				HTTPClient: sim.HTTPClient(), TrustSimulator: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close() })
			svc := &sandbox.Service{Runtime: m, Control: control, LinkTimeout: 20 * time.Second}
			var h gateway.KeyHash
			_, _ = rand.Read(h[:])
			s, err := store.CreateSession(ctx, gateway.NewSession{Name: "expire", KeyHash: h})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.ExpireMedia(ctx, s.ID, "X", nil); gateway.ErrorCode(err) != gateway.CodeConflict {
				t.Fatalf("unlinked session: %v", err)
			}
			if _, _, err := svc.Link(ctx, s.ID, "15550014101", "qr"); err != nil {
				t.Fatalf("Link: %v", err)
			}
			id, err := sim.Contact("15550014102").SendImage(ctx, "15550014101", []byte("\xff\xd8\xff\xe0fake jpeg"), "image/jpeg", "")
			if err != nil {
				t.Fatal(err)
			}
			before := sim.MediaCount()
			off := true
			if err := svc.ExpireMedia(ctx, s.ID, id, &off); err != nil {
				t.Fatal(err)
			}
			if n := sim.MediaCount(); n != before-1 {
				t.Fatalf("%d blobs after expiring, want %d", n, before-1)
			}
			if err := svc.ExpireMedia(ctx, s.ID, id, nil); err != nil {
				t.Fatalf("expiring again: %v", err)
			}
			err = svc.ExpireMedia(ctx, s.ID, "3EB0NOSUCHMESSAGE", nil)
			if ge := (*gateway.Error)(nil); !errors.As(err, &ge) || ge.Code != gateway.CodeNotFound || ge.Message != gateway.MsgSandboxNoMedia {
				t.Fatalf("unknown message: %v", err)
			}
		})
	}
}
