package sandbox_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// TestFaults injects faults through the sandbox control plane, in process
// and through the control API of `wagate simulator`: stream-error-ack
// (reconnects and receives the next message), client-outdated (failed with
// the upgrade message), an unknown kind (invalid) and an unlinked session
// (conflict).
func TestFaults(t *testing.T) {
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
				ReconnectBaseDelay: 50 * time.Millisecond, ReconnectMaxDelay: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close() })
			svc := &sandbox.Service{Runtime: m, Control: control, LinkTimeout: 20 * time.Second}
			var h gateway.KeyHash
			_, _ = rand.Read(h[:])
			s, err := store.CreateSession(ctx, gateway.NewSession{Name: "faults", KeyHash: h})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Fault(ctx, s.ID, "drop"); gateway.ErrorCode(err) != gateway.CodeConflict {
				t.Fatalf("fault on an unlinked session: %v", err)
			}
			if _, _, err := svc.Link(ctx, s.ID, "15550014001", "qr"); err != nil {
				t.Fatalf("Link: %v", err)
			}
			if err := svc.Fault(ctx, s.ID, "no-such-fault"); gateway.ErrorCode(err) != gateway.CodeInvalid {
				t.Fatalf("unknown kind: %v", err)
			}
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(20 * time.Second); !cond(); {
					if time.Now().After(deadline) {
						t.Fatalf("timed out waiting for %s", what)
					}
					time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
				}
			}
			state := func() gateway.SessionState { st, _ := m.State(s.ID); return st }
			if err := svc.Fault(ctx, s.ID, "stream-error-ack"); err != nil {
				t.Fatal(err)
			}
			waitFor("the stream error noticed", func() bool { return state() != gateway.StateConnected })
			waitFor("connected again", func() bool { return state() == gateway.StateConnected })
			if id, err := svc.Inbound(ctx, s.ID, "15550014002", gateway.SandboxInboundMessage{Text: "after the fault"}); err != nil || id == "" {
				t.Fatalf("Inbound after the fault: %q %v", id, err)
			}
			waitFor("every stanza acked", func() bool { return len(sim.Acks().Outstanding) == 0 })

			if err := svc.Fault(ctx, s.ID, "client-outdated"); err != nil {
				t.Fatal(err)
			}
			waitFor("failed", func() bool { return state() == gateway.StateFailed })
			got, err := store.GetSession(ctx, s.ID)
			if err != nil || got.LastError == nil || *got.LastError != whatsapp.MsgClientOutdated {
				t.Fatalf("stored session %+v, %v", got.LastError, err)
			}
		})
	}
}
