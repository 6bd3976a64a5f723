package sandbox_test

import (
	"context"
	"testing"

	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestCallControlRemote: calls placed and read through the control API
// (Remote) are the simulator's calls (Local).
func TestCallControlRemote(t *testing.T) {
	sim, err := wasim.New(wasim.Options{Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	sim.Contact("15550106000") // the called account
	local := sandbox.Local{Sim: sim}
	remote := &sandbox.Remote{BaseURL: newControlServer(t, sandbox.ControlHandler(local))}
	ctx := context.Background()
	id, err := remote.OfferCall(ctx, "15550106001", "15550106000")
	if err != nil || id == "" {
		t.Fatalf("OfferCall = %q, %v", id, err)
	}
	for _, c := range []sandbox.CallControl{local, remote} {
		got, found, err := c.CallState(ctx, id)
		if err != nil || !found || got.State != wasim.CallStateRinging || got.From != "15550106001@s.whatsapp.net" ||
			got.To != "15550106000@s.whatsapp.net" || got.RejectedBy != nil {
			t.Fatalf("%T CallState = %+v, %v, %v", c, got, found, err)
		}
		if _, found, err := c.CallState(ctx, "NOSUCHCALL"); found || err != nil {
			t.Fatalf("%T unknown call: found %v, %v", c, found, err)
		}
	}
	if _, err := remote.OfferCall(ctx, "15550106001", "15550106999"); err == nil {
		t.Fatal("a call to a number without an account succeeded")
	}
}
