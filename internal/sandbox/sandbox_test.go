package sandbox_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

func logger(t *testing.T) zerolog.Logger {
	if os.Getenv("WAGATE_TEST_DEBUG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

// TestServiceWithPersistentSimulator drives the sandbox control plane
// against a Postgres-backed simulator, in process (Local) and through the
// control API (Remote), as `wagate serve --sandbox` and `wagate simulator` do.
func TestServiceWithPersistentSimulator(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "remote"}[remote], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := testkit.NewDB(t)
			wasim.InstallRootKey()
			sim, err := wasim.New(wasim.Options{DB: pool, Logger: logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sim.Close() })
			var control sandbox.Control = sandbox.Local{Sim: sim}
			if remote {
				srv := newControlServer(t, sandbox.ControlHandler(control))
				control = &sandbox.Remote{BaseURL: srv}
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
			s, err := store.CreateSession(ctx, gateway.NewSession{Name: "sbx", KeyHash: h})
			if err != nil {
				t.Fatal(err)
			}
			reqCtx, cancel := context.WithTimeout(ctx, 25*time.Second)
			defer cancel()
			jid, dev, err := svc.Link(reqCtx, s.ID, "15550001111", "qr")
			if err != nil {
				t.Fatalf("Link: %v", err)
			}
			if jid != "15550001111@s.whatsapp.net" || !strings.HasPrefix(dev, "15550001111:") {
				t.Fatalf("Link = %q, %q", jid, dev)
			}
			if _, _, err := svc.Link(ctx, s.ID, "15550001111", "qr"); gateway.ErrorCode(err) != gateway.CodeConflict {
				t.Fatalf("second Link: %v", err)
			}
			id, err := svc.Inbound(ctx, s.ID, "15550002222", gateway.SandboxInboundMessage{Text: "hello"})
			if err != nil || id == "" {
				t.Fatalf("Inbound = %q, %v", id, err)
			}
			// Every kind crosses the control plane (Remote: as JSON).
			lat, lon := 1.5, -2.5
			for _, m := range []gateway.SandboxInboundMessage{
				{Type: gateway.SandboxInboundDocument, Media: []byte("%PDF-1.4 x"), FileName: "a.pdf"},
				{Type: gateway.SandboxInboundLocation, Latitude: &lat, Longitude: &lon},
				{Type: gateway.SandboxInboundContact, Contacts: []gateway.ContactCard{{Name: "Ivy", Phones: []string{"15550100003"}}}},
			} {
				if id, err := svc.Inbound(ctx, s.ID, "15550002222", m); err != nil || id == "" {
					t.Fatalf("Inbound %s = %q, %v", m.Type, id, err)
				}
			}
			pollID, err := svc.Inbound(ctx, s.ID, "15550002222", gateway.SandboxInboundMessage{Type: gateway.SandboxInboundPoll,
				Question: "Q?", Options: []string{"a", "b"}})
			if err != nil {
				t.Fatalf("Inbound poll: %v", err)
			}
			if _, err := svc.Inbound(ctx, s.ID, "15550002222", gateway.SandboxInboundMessage{Type: gateway.SandboxInboundPollVote,
				TargetID: pollID, Options: []string{"c"}}); gateway.ErrorCode(err) != gateway.CodeInvalid {
				t.Fatalf("vote for an unknown option: %v", err)
			}
			if id, err := svc.Inbound(ctx, s.ID, "15550002222", gateway.SandboxInboundMessage{Type: gateway.SandboxInboundPollVote,
				TargetID: pollID, Options: []string{"b"}}); err != nil || id == "" {
				t.Fatalf("vote = %q, %v", id, err)
			}
			ids, err := svc.History(ctx, s.ID, []gateway.SandboxHistoryMessage{{Chat: "15550002222", Text: "old", Timestamp: time.Now().Add(-time.Hour)}})
			if err != nil || len(ids) != 1 {
				t.Fatalf("History = %v, %v", ids, err)
			}
			if v, err := svc.PhoneView(ctx, s.ID); err != nil || v.JID != jid {
				t.Fatalf("PhoneView = %+v, %v", v, err)
			}
			if _, err := svc.ContactMessages(ctx, "15550002222"); err != nil {
				t.Fatalf("ContactMessages: %v", err)
			}
			// Code linking of a second session.
			s2, err := store.CreateSession(ctx, gateway.NewSession{Name: "sbx2", KeyHash: gateway.HashKey("2")})
			if err != nil {
				t.Fatal(err)
			}
			if jid, _, err := svc.Link(ctx, s2.ID, "+15550003333", "code"); err != nil || jid != "15550003333@s.whatsapp.net" {
				t.Fatalf("code Link = %q, %v", jid, err)
			}

			// The contact view reports a reaction with its emoji and a
			// removed reaction with emoji "" (not left out), through the
			// remote control API too; other kinds have no emoji.
			contact := "15550002222@s.whatsapp.net"
			target := gateway.MessageKey{ChatJID: contact, ID: id, Sender: contact}
			if _, err := m.SendText(ctx, s.ID, gateway.OutgoingText{Chat: gateway.ChatRef{JID: contact}, Text: "a text"}); err != nil {
				t.Fatalf("SendText: %v", err)
			}
			for _, emoji := range []string{"👍", ""} {
				if _, err := m.React(ctx, s.ID, target, emoji); err != nil {
					t.Fatalf("React(%q): %v", emoji, err)
				}
			}
			var got []gateway.SandboxReceived
			for deadline := time.Now().Add(20 * time.Second); len(got) < 3; {
				if got, err = svc.ContactMessages(ctx, "15550002222"); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("contact view %+v, want a text and two reactions", got)
				}
				time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
			}
			if r := got[0]; r.Kind != wasim.KindText || r.Emoji != nil {
				t.Fatalf("text: %+v", r)
			}
			for i, want := range []string{"👍", ""} {
				if r := got[1+i]; r.Kind != wasim.KindReaction || r.TargetID != id || r.Emoji == nil || *r.Emoji != want {
					t.Fatalf("reaction %d: %+v (emoji %v), want %q", i, r, r.Emoji, want)
				}
			}

			// The kinds of issue 12 keep their fields in the view (through
			// the remote control API too).
			poll := &gateway.Poll{Question: "q?", Options: []string{"a", "b"}, SelectableCount: 1}
			if _, err := m.SendContent(ctx, s.ID, gateway.OutgoingContent{Chat: gateway.ChatRef{JID: contact}, Kind: gateway.ContentPoll, Poll: poll}); err != nil {
				t.Fatalf("SendContent poll: %v", err)
			}
			loc := &gateway.Location{Latitude: -33.8568, Longitude: 151.2153, Name: "Opera"}
			if _, err := m.SendContent(ctx, s.ID, gateway.OutgoingContent{Chat: gateway.ChatRef{JID: contact}, Kind: gateway.ContentLocation, Location: loc, Mentions: []string{contact}}); err != nil {
				t.Fatalf("SendContent location: %v", err)
			}
			for deadline := time.Now().Add(20 * time.Second); len(got) < 5; {
				if got, err = svc.ContactMessages(ctx, "15550002222"); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("contact view %+v, want a poll and a location", got)
				}
				time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
			}
			if r := got[3]; r.Kind != wasim.KindPoll || strings.Join(r.PollOptions, ",") != "a,b" || r.SelectableCount != 1 {
				t.Fatalf("poll: %+v", r)
			}
			if r := got[4]; r.Kind != wasim.KindLocation || r.Latitude == nil || *r.Latitude != -33.8568 || *r.Longitude != 151.2153 ||
				r.LocationName != "Opera" || len(r.Mentions) != 1 || r.Mentions[0] != contact {
				t.Fatalf("location: %+v", r)
			}
		})
	}
}

// TestRestartWithPersistentSimulator: a sandbox gateway is stopped and
// started again with a new in-process simulator on the same database; the
// linked session comes back connected without a new link.
func TestRestartWithPersistentSimulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testkit.NewDB(t)
	wasim.InstallRootKey()
	store := postgres.NewStore(pool)
	boot := func() (*wasim.Server, *whatsapp.Manager) {
		sim, err := wasim.New(wasim.Options{DB: pool, Logger: logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		m, err := whatsapp.NewManager(ctx, whatsapp.Options{
			Pool: pool, Status: store, Devices: postgres.NewDeviceStore(pool), Logger: logger(t),
			HTTPClient: sim.HTTPClient(), TrustSimulator: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Boot(ctx); err != nil {
			t.Fatal(err)
		}
		return sim, m
	}
	sim, m := boot()
	s, err := store.CreateSession(ctx, gateway.NewSession{Name: "restart", KeyHash: gateway.HashKey("r")})
	if err != nil {
		t.Fatal(err)
	}
	svc := &sandbox.Service{Runtime: m, Control: sandbox.Local{Sim: sim}}
	if _, _, err := svc.Link(ctx, s.ID, "15550004444", "qr"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Inbound(ctx, s.ID, "15550005555", gateway.SandboxInboundMessage{Text: "queued while we restart"}); err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	_ = sim.Close()

	sim, m = boot()
	t.Cleanup(func() { _ = m.Close(); _ = sim.Close() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := m.State(s.ID)
		if st == gateway.StateConnected {
			break
		}
		if time.Now().After(deadline) || st == gateway.StateLoggedOut {
			stored, _ := store.GetSession(ctx, s.ID)
			t.Fatalf("after restart: state %s (stored %s, last error %v)", st, stored.State, stored.LastError)
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}
