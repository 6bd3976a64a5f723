// Package wasimtest connects real whatsmeow clients to a wasim simulator in
// tests: client construction with the redirected transport, pairing
// helpers and an event recorder. It imports "testing" and must only be
// used from tests.
package wasimtest

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/appstate"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/memstore"
)

// DefaultTimeout bounds every wait in these helpers.
const DefaultTimeout = 15 * time.Second

// Logger returns a zerolog logger that writes to the test log when
// WASIM_DEBUG is set, and discards otherwise.
func Logger(t testing.TB) zerolog.Logger {
	if os.Getenv("WASIM_DEBUG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

// NewServer starts a memory-mode simulator (strict unless opts says
// otherwise is not possible: pass a full Options to NewServerOpts) and
// closes it at cleanup.
func NewServer(t testing.TB) *wasim.Server {
	return NewServerOpts(t, wasim.Options{Logger: Logger(t), Strict: true})
}

// NewServerOpts starts a simulator with the given options.
func NewServerOpts(t testing.TB, opts wasim.Options) *wasim.Server {
	t.Helper()
	wasim.InstallRootKey()
	s, err := wasim.New(opts)
	if err != nil {
		t.Fatalf("wasim.New: %v", err)
	}
	if err = s.Start(); err != nil {
		t.Fatalf("wasim Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Events records a client's events and lets tests wait for them.
type Events struct {
	mu     sync.Mutex
	list   []any
	notify chan struct{}
}

func newEvents() *Events { return &Events{notify: make(chan struct{})} }

func (e *Events) add(evt any) {
	e.mu.Lock()
	e.list = append(e.list, evt)
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
}

// All returns the events recorded so far.
func (e *Events) All() []any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// Wait returns the first event (recorded at index >= from) matching pred.
func (e *Events) Wait(ctx context.Context, from int, pred func(any) bool) (any, int, error) {
	for {
		e.mu.Lock()
		for i := from; i < len(e.list); i++ {
			if pred(e.list[i]) {
				evt := e.list[i]
				e.mu.Unlock()
				return evt, i, nil
			}
		}
		ch := e.notify
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// Len returns the number of recorded events (use as "from" for Wait).
func (e *Events) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

// WaitFor waits for an event of type T matching pred (nil = any) after index from.
func WaitFor[T any](t testing.TB, e *Events, from int, pred func(T) bool) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	evt, _, err := e.Wait(ctx, from, func(a any) bool {
		v, ok := a.(T)
		return ok && (pred == nil || pred(v))
	})
	if err != nil {
		var zero T
		t.Fatalf("waiting for %T: %v", zero, err)
	}
	return evt.(T)
}

// Client is a whatsmeow client connected to a simulator, with its events.
type Client struct {
	*whatsmeow.Client
	Events *Events
}

// Container returns a new in-memory device container.
func Container() *memstore.Container {
	return memstore.NewContainer(waLog.Noop)
}

// NewClient creates a whatsmeow client for dev whose transports point at
// the simulator. It does not connect. The client is disconnected at cleanup.
func NewClient(t testing.TB, s *wasim.Server, dev *store.Device) *Client {
	t.Helper()
	wasim.InstallRootKey()
	log := waLog.Noop
	if os.Getenv("WASIM_DEBUG") != "" {
		log = waLog.Zerolog(Logger(t).With().Str("client", "whatsmeow").Logger())
	}
	cli := whatsmeow.NewClient(dev, log)
	hc := s.HTTPClient()
	cli.SetPreLoginHTTPClient(hc)
	cli.SetWebsocketHTTPClient(hc)
	cli.SetMediaHTTPClient(hc)
	ev := newEvents()
	cli.AddEventHandler(ev.add)
	t.Cleanup(cli.Disconnect)
	return &Client{Client: cli, Events: ev}
}

// PairQR connects an unpaired client, lets the phone scan the first QR code
// and waits for events.Connected on the post-515 login. It returns the
// companion device JID.
func PairQR(t testing.TB, c *Client, phone *wasim.Phone) types.JID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	qrs, err := c.GetQRChannel(ctx)
	if err != nil {
		t.Fatalf("GetQRChannel: %v", err)
	}
	if err = c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var code string
	for item := range qrs {
		if item.Event == whatsmeow.QRChannelEventCode {
			code = item.Code
			break
		}
		t.Fatalf("unexpected QR channel item %q: %v", item.Event, item.Error)
	}
	jid, err := phone.ScanQR(ctx, code)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	WaitFor[*events.Connected](t, c.Events, 0, nil)
	WaitAppStateSynced(t, c)
	return jid
}

// WaitAppStateSynced waits until the client finished the full sync of all
// five app-state collections (which starts when the phone shares its key).
func WaitAppStateSynced(t testing.TB, c *Client) {
	t.Helper()
	for _, name := range appstate.AllPatchNames {
		WaitFor[*events.AppStateSyncComplete](t, c.Events, 0, func(e *events.AppStateSyncComplete) bool { return e.Name == name })
	}
}

// NewPairedClient creates a client on a fresh in-memory device and pairs it
// with the phone by QR.
func NewPairedClient(t testing.TB, s *wasim.Server, phone *wasim.Phone) *Client {
	t.Helper()
	c := NewClient(t, s, Container().NewDevice())
	PairQR(t, c, phone)
	return c
}

// Eventually polls cond until it is true or the default timeout passes.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(DefaultTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Ctx returns a context with the default timeout, cancelled at cleanup.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}
