package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestGroupControl drives the simulator's groups through GroupControl, in
// process and through the control API: the group's truth, a member's
// message decrypted by the others, participant changes with per-number
// results, and refusals that keep their identity across the wire.
func TestGroupControl(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "remote"}[remote], func(t *testing.T) {
			ctx := context.Background()
			wasim.InstallRootKey()
			sim, err := wasim.New(wasim.Options{Logger: logger(t), Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sim.Close() })
			var gc sandbox.GroupControl = sandbox.Local{Sim: sim}
			if remote {
				gc = &sandbox.Remote{BaseURL: newControlServer(t, sandbox.ControlHandler(sandbox.Local{Sim: sim}))}
			}
			owner, alice, bob := sim.Contact("15550310001"), sim.Contact("15550310002"), sim.Contact("15550310003")
			gid, err := gc.CreateGroup(ctx, "Sandbox group", owner.JID().User, []string{alice.JID().User}, true)
			if err != nil || !strings.HasSuffix(gid, "@g.us") {
				t.Fatalf("create: %q %v", gid, err)
			}
			g, err := gc.Group(ctx, gid)
			if err != nil || g.Subject != "Sandbox group" || g.AddressingMode != "lid" || len(g.Participants) != 2 || g.Participants[0].Role != "superadmin" {
				t.Fatalf("view %+v %v", g, err)
			}
			id, err := gc.GroupSend(ctx, gid, alice.JID().User, "hello owner")
			if err != nil {
				t.Fatal(err)
			}
			got, err := owner.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == id })
			if err != nil || got.Text != "hello owner" || got.Chat != gid || got.From != alice.JID().String() {
				t.Fatalf("owner got %+v %v", got, err)
			}
			res, err := gc.GroupParticipants(ctx, gid, wasim.ParticipantAdd, owner.JID().User, []string{bob.JID().User, alice.JID().User, "9990000002"})
			if err != nil || len(res) != 3 || res[0].Error != 0 || res[1].Error != 409 || res[2].Error != 404 {
				t.Fatalf("add %+v %v", res, err)
			}
			if _, err = gc.GroupParticipants(ctx, gid, wasim.ParticipantRemove, bob.JID().User, []string{alice.JID().User}); !errors.Is(err, wasim.ErrNotGroupAdmin) {
				t.Fatalf("non-admin remove: %v", err)
			}
			if _, err = gc.GroupSend(ctx, gid, "15550310009", "intruder"); !errors.Is(err, wasim.ErrNotGroupMember) {
				t.Fatalf("non-member send: %v", err)
			}
			if _, err = gc.Group(ctx, "120363000000000001@g.us"); !errors.Is(err, wasim.ErrGroupNotFound) {
				t.Fatalf("unknown group: %v", err)
			}
			if _, err = gc.CreateGroup(ctx, "", owner.JID().User, nil, false); !errors.Is(err, wasim.ErrInvalidRequest) {
				t.Fatalf("empty subject: %v", err)
			}
			if _, err = gc.CreateGroup(ctx, "x", "9990000003", nil, false); !errors.Is(err, wasim.ErrUnknownNumber) {
				t.Fatalf("unknown owner: %v", err)
			}
			if g, _ = gc.Group(ctx, gid); len(g.Participants) != 3 {
				t.Fatalf("after refusals %+v", g.Participants)
			}
			if v := sim.Violations(); len(v) > 0 {
				t.Fatalf("violations %v", v)
			}
		})
	}
}
