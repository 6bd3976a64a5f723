package whatsapp_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow/types"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// reconnectWithin is how fast a session must be connected again after a
// fault that a reconnect can cure (issue 14).
const reconnectWithin = 5 * time.Second

// reasons records OnReconnect calls.
type reasons struct {
	mu  sync.Mutex
	got []string
}

func (r *reasons) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, reason)
}

func (r *reasons) has(reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.got, reason)
}

// faultFixture is one database, simulator and manager for many sessions,
// with a liveness probe fast enough to catch a silent socket quickly.
type faultFixture struct {
	*fixture
	m       *whatsapp.Manager
	reasons *reasons
}

func newFaultFixture(t *testing.T) *faultFixture {
	f := newFixture(t)
	r := &reasons{}
	m := f.manager(func(o *whatsapp.Options) {
		o.LivenessInterval = 500 * time.Millisecond
		o.LivenessTimeout = 500 * time.Millisecond
		o.OnReconnect = r.add
	})
	return &faultFixture{fixture: f, m: m, reasons: r}
}

// inSink reports whether the sink holds the message id.
func (f *faultFixture) inSink(id string) bool {
	for _, m := range f.sink.messages() {
		if m.ID == id {
			return true
		}
	}
	return false
}

// awaitReconnect waits for the states after n to go disconnected (or
// starting) and end connected, within reconnectWithin of since.
func (f *faultFixture) awaitReconnect(t *testing.T, id uuid.UUID, n int, since time.Time) {
	t.Helper()
	// The state is stored before the supervisor hands out the new client,
	// so "connected" counts once the client is usable too (Ready).
	eventually(t, "down, then connected again and usable", func() bool {
		s := f.states(id)[n:]
		return len(s) >= 2 && s[0] == "disconnected" && s[len(s)-1] == "connected" && f.m.Ready(id) == nil
	})
	if took := time.Since(since); took > reconnectWithin {
		t.Fatalf("connected again after %v, want within %v", took, reconnectWithin)
	}
}

// awaitAcked waits until the simulator has no stanza left unacked.
func (f *faultFixture) awaitAcked(t *testing.T) {
	t.Helper()
	eventually(t, "every stanza acked", func() bool { return len(f.sim.Acks().Outstanding) == 0 })
}

// TestFaultsReconnect injects each fault a reconnect cures and checks that
// the session is connected again within 5 s, never stays "connected" on a
// dead socket, loses no message queued before or during the fault,
// receives the next one, and that whatsmeow acked every stanza that
// expects an ack (the simulator's accounting).
func TestFaultsReconnect(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	cases := []struct {
		name   string
		inject func(sim *wasim.Server, dev types.JID) error
		reason string
	}{
		{"drop", kind(wasim.FaultDrop), whatsapp.ReasonClosed},
		// The WAHA 2151 / Evolution Go 185 pattern.
		{"stream-error-ack", kind(wasim.FaultStreamErrorAck), whatsapp.ReasonStreamError},
		{"ack-message", ackClass("message"), whatsapp.ReasonStreamError},
		{"ack-receipt", ackClass("receipt"), whatsapp.ReasonStreamError},
		{"ack-notification", ackClass("notification"), whatsapp.ReasonStreamError},
		{"ack-call", ackClass("call"), whatsapp.ReasonStreamError},
		{"ping-error", kind(wasim.FaultPingError), whatsapp.ReasonStreamError},
		{"stream-error-503", func(sim *wasim.Server, dev types.JID) error {
			sim.StreamError(dev, "503")
			return nil
		}, whatsapp.ReasonClosed},
		{"login-unavailable", kind(wasim.FaultLoginUnavailable), whatsapp.ReasonClosed},
		{"silent", kind(wasim.FaultSilent), whatsapp.ReasonLiveness},
		{"half-frame", kind(wasim.FaultHalfFrame), whatsapp.ReasonLiveness},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			phone := fmt.Sprintf("1555014%04d", i)
			id := f.createSession(tc.name)
			f.linkQR(f.m, id, phone)
			dev := f.sim.Devices(phone)[0]
			contact := f.sim.Contact(fmt.Sprintf("1555015%04d", i))

			before, err := contact.SendText(ctx, phone, "before the fault")
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the first message stored", func() bool { return f.inSink(before) })
			n := len(f.states(id))
			start := time.Now()
			if err := tc.inject(f.sim, dev); err != nil {
				t.Fatal(err)
			}
			// Queued while the connection is failing: delivered after the reconnect.
			during, err := contact.SendText(ctx, phone, "during the fault")
			if err != nil {
				t.Fatal(err)
			}
			f.awaitReconnect(t, id, n, start)
			if s := f.session(id); s.State != gateway.StateConnected || s.LastError != nil {
				t.Fatalf("stored session after reconnect: state %s lastError %v", s.State, s.LastError)
			}
			after, err := contact.SendText(ctx, phone, "after the fault")
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the messages of during and after the fault stored", func() bool {
				return f.inSink(during) && f.inSink(after)
			})
			eventually(t, "nothing queued for the device", func() bool { return f.sim.Pending(dev) == 0 })
			if !f.reasons.has(tc.reason) {
				t.Fatalf("reconnect reasons %v lack %q", f.reasons.got, tc.reason)
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		// After every subtest: everything the simulator sent that needs an
		// ack was acked, of every class.
		f.awaitAcked(t)
		r := f.sim.Acks()
		for _, class := range []string{"message", "receipt", "notification", "call", "status"} {
			if r.Sent[class] == 0 || r.Acked[class] != r.Sent[class] {
				t.Errorf("class %s: sent %d, acked %d", class, r.Sent[class], r.Acked[class])
			}
		}
	})
}

// kind injects one wasim fault kind.
func kind(k wasim.FaultKind) func(*wasim.Server, types.JID) error {
	return func(sim *wasim.Server, dev types.JID) error { return sim.InjectFault(dev, k) }
}

// ackClass sends the ack stream error naming a stanza of class.
func ackClass(class string) func(*wasim.Server, types.JID) error {
	return func(sim *wasim.Server, dev types.JID) error { return sim.StreamErrorAck(dev, class) }
}

// TestFaultsFinal injects the faults no reconnect can cure: the session
// ends failed or logged_out with a clear lastError.
func TestFaultsFinal(t *testing.T) {
	t.Parallel()
	f := newFaultFixture(t)
	cases := []struct {
		kind    wasim.FaultKind
		state   gateway.SessionState
		lastErr string
	}{
		{wasim.FaultClientOutdated, gateway.StateFailed, "WhatsApp rejected this client version; upgrade wagate"},
		{wasim.FaultReplaced, gateway.StateFailed, "another client connected with this session's keys"},
		{wasim.FaultTempBan, gateway.StateFailed, "temporarily banned by WhatsApp"},
		{wasim.FaultLogout, gateway.StateLoggedOut, "logged out from the phone"},
	}
	for i, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			phone := fmt.Sprintf("1555016%04d", i)
			id := f.createSession(string(tc.kind))
			f.linkQR(f.m, id, phone)
			dev := f.sim.Devices(phone)[0]
			if err := f.sim.InjectFault(dev, tc.kind); err != nil {
				t.Fatal(err)
			}
			waitState(t, f.m, id, tc.state)
			eventually(t, "the stored state", func() bool { return f.session(id).State == tc.state })
			s := f.session(id)
			if s.LastError == nil || !strings.HasPrefix(*s.LastError, tc.lastErr) {
				t.Fatalf("lastError %v, want %q", s.LastError, tc.lastErr)
			}
			if tc.kind == wasim.FaultClientOutdated && *s.LastError != tc.lastErr {
				t.Fatalf("lastError %q, want exactly %q", *s.LastError, tc.lastErr)
			}
			if f.sim.Connected(dev) {
				t.Fatal("the session still holds a connection")
			}
		})
	}
}

// TestSendWithoutServerAck: a send whose server ack never comes fails
// with 503 "WhatsApp did not answer in time" after SendAckTimeout instead
// of answering success; slow acks still succeed; acks back, sends work.
func TestSendWithoutServerAck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(func(o *whatsapp.Options) { o.SendAckTimeout = 3 * time.Second })
	ctx := context.Background()
	id := f.createSession("no-acks")
	f.linkQR(m, id, "15550170001")
	dev := f.sim.Devices("15550170001")[0]
	to := gateway.OutgoingText{Chat: gateway.ChatRef{JID: "15550170002@s.whatsapp.net"}, Text: "hello"}
	f.sim.Contact("15550170002")

	if err := f.sim.InjectFault(dev, wasim.FaultSlowAcks); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SendText(ctx, id, to); err != nil {
		t.Fatalf("send with slow acks: %v", err)
	}
	if err := f.sim.InjectFault(dev, wasim.FaultNoAcks); err != nil {
		t.Fatal(err)
	}
	_, err := m.SendText(ctx, id, to)
	requireErr(t, err, gateway.CodeUnavailable, "WhatsApp did not answer in time. Please try again.")
	if err := f.sim.InjectFault(dev, wasim.FaultClear); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SendText(ctx, id, to); err != nil {
		t.Fatalf("send after the acks are back: %v", err)
	}
}
