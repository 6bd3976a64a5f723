package sandbox_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestConvControlRemote: a contact saved and a contact view read through
// the control API (Remote, as with `wagate simulator`) are the simulator's
// (Local): the phone decoded the contact action it pushed.
func TestConvControlRemote(t *testing.T) {
	sim, err := wasim.New(wasim.Options{Logger: testkit.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	sim.Contact("15550106100") // the account
	local := sandbox.Local{Sim: sim}
	remote := &sandbox.Remote{BaseURL: newControlServer(t, sandbox.ControlHandler(local))}
	ctx := context.Background()
	if err := remote.SaveContact(ctx, "15550106100", "15550106101", "Asha Verma", "Asha"); err != nil {
		t.Fatalf("SaveContact: %v", err)
	}
	got := sim.Phone("15550106100").View().Contacts["15550106101@s.whatsapp.net"]
	if got.FullName != "Asha Verma" || got.FirstName != "Asha" {
		t.Fatalf("the phone's address book: %+v", sim.Phone("15550106100").View().Contacts)
	}
	lv, err := local.ContactView(ctx, "15550106101")
	if err != nil {
		t.Fatal(err)
	}
	rv, err := remote.ContactView(ctx, "15550106101")
	if err != nil || !reflect.DeepEqual(lv, rv) {
		t.Fatalf("remote view %+v, %v; local %+v", rv, err, lv)
	}
}
