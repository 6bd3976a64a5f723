package whatsapp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// storeTimeout bounds each write of a state change.
const storeTimeout = 10 * time.Second

// sigKind is what an event handler tells a session's supervisor.
type sigKind int

const (
	sigConnected    sigKind = iota // logged in (events.Connected)
	sigDisconnected                // socket closed by the server or the network (events.Disconnected)
	sigDown                        // connection is unusable: force a reconnect (stream error, liveness, keepalive)
	sigPaired                      // pair-success handled, device saved and linked
	sigPairing                     // a pairing code was issued
	sigLoggedOut                   // unlinked remotely: keys are gone
	sigFatal                       // cannot continue (banned, outdated, replaced)
	sigInfo                        // account details changed (push name)
)

type signal struct {
	kind   sigKind
	reason string
	jid    types.JID
}

// Session is one wagate session's WhatsApp side: one whatsmeow client
// driven by one supervisor goroutine that connects, reconnects with backoff
// and is the only writer of the session's state while it runs.
type Session struct {
	id  uuid.UUID
	m   *Manager
	log zerolog.Logger

	// opMu serialises lifecycle operations (Start, Stop, Logout, ...).
	opMu sync.Mutex

	mu       sync.Mutex
	state    gateway.SessionState
	qr       string
	cli      *whatsmeow.Client
	linked   bool // the device is linked (has a JID)
	loading  bool // startStored is claiming and loading it: not known linked yet
	cancel   context.CancelFunc
	done     chan struct{}
	changed  chan struct{} // closed and replaced on every state change
	quitting bool          // an operation is taking the session down; ignore signals
	sigs     chan signal
	runCtx   context.Context // lives as long as the current supervisor

	lastActivity atomic.Int64 // unix nanoseconds of the last traffic from WhatsApp
	lastTouched  atomic.Int64 // unix nanoseconds of the last TouchLastSeen
	probing      atomic.Bool

	// signalMu keeps a send's encryption and a message's decryption from
	// overlapping on the device's Signal sessions (signallock.go). It is
	// the session's, not the client's: every client of the session uses
	// the same stores.
	signalMu sync.Mutex
	// strayLease is the signal lock held for a load outside a send and
	// the decryption transaction (signallock.go), until its store.
	strayLease atomic.Pointer[signalLease]
}

func newSession(m *Manager, id uuid.UUID) *Session {
	return &Session{
		id:      id,
		m:       m,
		log:     m.log.With().Str("session_id", id.String()).Logger(),
		state:   gateway.StateStopped,
		changed: make(chan struct{}),
	}
}

func (s *Session) isRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancel != nil
}

func (s *Session) qrState() (gateway.SessionState, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == gateway.StateQRReady || s.state == gateway.StatePairing {
		return s.state, s.qr
	}
	return s.state, ""
}

func (s *Session) accountJID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == nil || s.cli.Store.ID == nil {
		return ""
	}
	return s.cli.Store.ID.ToNonAD().String()
}

func (s *Session) readyClient() (*whatsmeow.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == gateway.StateConnected && s.cli != nil && s.cli.IsLoggedIn():
		return s.cli, nil
	case s.loading:
		// Claimed by this node (an adoption, a handover) and still
		// loading its device: linked is not known yet.
		return nil, gateway.ErrStillConnecting(nil)
	case !s.linked:
		return nil, gateway.E(gateway.CodeConflict, gateway.MsgNotAuthenticated)
	default:
		return nil, gateway.ErrStillConnecting(nil)
	}
}

// setState records a state change in memory and in the status store. u
// carries the other fields (may be nil); lastErr nil leaves it unchanged.
func (s *Session) setState(ctx context.Context, st gateway.SessionState, u *gateway.StatusUpdate, lastErr *string) error {
	upd := gateway.StatusUpdate{State: st}
	if u != nil {
		upd = *u
		upd.State = st
	}
	if lastErr != nil {
		upd.LastError = lastErr
	}
	// Store first, memory second: whoever sees the new state in memory
	// (Ready, State, QR) also finds it in the database.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	err := s.m.opts.Status.UpdateStatus(wctx, s.id, upd)
	if err != nil {
		s.log.Warn().Err(err).Str("state", string(st)).Msg("failed to record session state")
	} else {
		s.log.Info().Str("state", string(st)).Msg("session state changed")
	}
	s.mu.Lock()
	s.state = st
	if st != gateway.StateQRReady && st != gateway.StatePairing {
		s.qr = ""
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return err
}

func (s *Session) markLoggedOut(ctx context.Context, reason string) {
	s.mu.Lock()
	s.linked = false
	s.mu.Unlock()
	if err := s.m.opts.Devices.UnlinkDevice(ctx, s.id); err != nil {
		s.log.Warn().Err(err).Msg("failed to remove device link")
	}
	_ = s.setState(ctx, gateway.StateLoggedOut, nil, &reason)
}

// newClient builds the whatsmeow client for dev with our settings.
func (s *Session) newClient(dev *store.Device) *whatsmeow.Client {
	cli := whatsmeow.NewClient(dev, waLog.Zerolog(s.log.With().Str("component", "whatsmeow").Logger()))
	// Reconnects are ours: capped exponential backoff with jitter.
	cli.EnableAutoReconnect = false
	cli.InitialAutoReconnect = false
	// Persist, then ack: a handler returning false withholds the receipt.
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	hc := s.httpClient()
	cli.SetPreLoginHTTPClient(hc)
	cli.SetWebsocketHTTPClient(hc)
	cli.SetMediaHTTPClient(hc)
	return cli
}

// httpClient is the manager's client, or one through the session's proxy
// (Options.Proxies) when it has one.
func (s *Session) httpClient() *http.Client {
	if s.m.opts.Proxies == nil {
		return s.m.httpClient
	}
	raw, err := s.m.opts.Proxies.SessionProxy(s.m.ctx, s.id)
	if err != nil {
		s.log.Warn().Err(err).Msg("failed to read the session's proxy setting")
		return failingClient(errors.New("the session's proxy setting could not be read"))
	}
	if raw == "" {
		return s.m.httpClient
	}
	hc, err := proxiedClient(s.m.httpClient, raw)
	if err != nil {
		// Never log raw: it holds the proxy's credentials.
		s.log.Warn().Str("proxy", gateway.MaskProxyURL(raw)).Err(err).Msg("unusable session proxy")
		return failingClient(proxyError{errors.New("the proxy setting is unusable")})
	}
	return hc
}

// start launches the supervisor with dev (a linked device, or nil/unpaired
// for a new link). Caller holds opMu and the session is not running.
func (s *Session) start(dev *store.Device) error {
	if dev == nil {
		dev = s.m.container.NewDevice()
	}
	ctx, cancel := context.WithCancel(s.m.ctx)
	cli := s.newClient(dev)
	h := &clientHandler{s: s, cli: cli, ctx: ctx}
	h.guard = s.guardStores(dev, cli) // database outages: dbguard.go
	cli.AddEventHandlerWithSuccessStatus(h.handleEvent)
	done := make(chan struct{})
	s.mu.Lock()
	s.cli = cli
	s.cancel = cancel
	s.done = done
	s.quitting = false
	s.linked = dev.ID != nil
	s.sigs = make(chan signal, 16)
	s.runCtx = ctx
	s.mu.Unlock()
	now := time.Now().UnixNano()
	s.lastActivity.Store(now)
	// The login's own traffic does not write lastSeenAt by itself: the
	// "connected" state write carries it (one statement less per restored
	// session); touch writes it from LastSeenEvery after the start on.
	s.lastTouched.Store(now)
	if err := s.setState(ctx, gateway.StateStarting, nil, nil); err != nil && gateway.ErrorCode(err) == gateway.CodeNotFound {
		cancel()
		s.mu.Lock()
		s.cli, s.cancel, s.done = nil, nil, nil
		s.mu.Unlock()
		return err
	}
	go s.supervise(ctx, cli, done)
	return nil
}

// halt stops the supervisor and disconnects, without recording a state.
// Caller holds opMu.
func (s *Session) halt() {
	s.mu.Lock()
	cancel, done, cli := s.cancel, s.done, s.cli
	s.quitting = true
	s.mu.Unlock()
	if cli != nil {
		cli.Disconnect()
	}
	if cancel != nil {
		cancel()
		<-done
	}
	if cli != nil {
		// Also when the supervisor had ended by itself (logged out,
		// failed): nothing of this run keeps receiving events.
		cli.RemoveEventHandlers()
	}
	s.mu.Lock()
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
}

// send delivers a signal to the supervisor; it gives up when the client's
// run has ended so a late whatsmeow event never blocks.
func (s *Session) send(ctx context.Context, sig signal) {
	s.mu.Lock()
	ch := s.sigs
	s.mu.Unlock()
	select {
	case ch <- sig:
	case <-ctx.Done():
	}
}

// round outcomes of one connection.
type outcome int

const (
	outRetry   outcome = iota // reconnect after a backoff delay
	outAgain                  // reconnect at once (new QR round)
	outStopped                // ctx cancelled or an operation is taking over
	outFinal                  // logged out or failed: the supervisor ends
)

// supervise is the session's only loop: connect, wait until the connection
// ends, back off, repeat.
func (s *Session) supervise(ctx context.Context, cli *whatsmeow.Client, done chan struct{}) {
	defer close(done)
	defer func() {
		// Ended by itself (logged out, failed): the session is not running.
		s.mu.Lock()
		if s.done == done {
			s.cancel()
			s.cancel, s.done = nil, nil
		}
		s.mu.Unlock()
	}()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Any("panic", r).Msg("session supervisor panicked")
			msg := "internal error in the session supervisor"
			_ = s.setState(ctx, gateway.StateFailed, nil, &msg)
		}
	}()
	attempt, qrRounds := 0, 0
	for ctx.Err() == nil {
		var out outcome
		var connected bool
		if cli.Store.ID == nil {
			qrRounds++
			if qrRounds > s.m.opts.QRRounds {
				msg := "QR code not scanned in time; start the session again"
				_ = s.setState(ctx, gateway.StateFailed, nil, &msg)
				return
			}
			out, connected = s.pairRound(ctx, cli)
		} else {
			out, connected = s.connectRound(ctx, cli)
		}
		if connected {
			attempt = 0
		}
		switch out {
		case outStopped, outFinal:
			return
		case outAgain:
			continue
		}
		delay := backoff(s.m.opts.ReconnectBaseDelay, s.m.opts.ReconnectMaxDelay, attempt)
		attempt++
		if !s.sleep(ctx, cli, delay) {
			return
		}
	}
}

// backoff returns the delay before reconnect attempt n (0-based): base·2^n
// capped at max, drawn uniformly from [d/2, d].
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// sleep waits d while handling signals; false means the supervisor ends.
func (s *Session) sleep(ctx context.Context, cli *whatsmeow.Client, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case sig := <-s.sigs:
			if s.final(ctx, cli, sig) {
				return false
			}
		}
	}
}

// final handles logged-out and fatal signals (true: the supervisor ends).
func (s *Session) final(ctx context.Context, cli *whatsmeow.Client, sig signal) bool {
	if s.isQuitting() {
		return true
	}
	switch sig.kind {
	case sigLoggedOut:
		cli.Disconnect()
		s.markLoggedOut(ctx, sig.reason)
		return true
	case sigFatal:
		cli.Disconnect()
		_ = s.setState(ctx, gateway.StateFailed, nil, &sig.reason)
		return true
	}
	return false
}

func (s *Session) isQuitting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quitting
}

// acquire takes a connect slot (bounded concurrency for boot and storms).
func (s *Session) acquire(ctx context.Context) bool {
	select {
	case s.m.connectSem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Session) release() { <-s.m.connectSem }

// connectRound connects a linked device and waits until the connection
// ends. connected reports whether it logged in.
func (s *Session) connectRound(ctx context.Context, cli *whatsmeow.Client) (out outcome, connected bool) {
	if !s.acquire(ctx) {
		return outStopped, false
	}
	err := cli.ConnectContext(ctx)
	if err != nil {
		s.release()
		if ctx.Err() != nil {
			return outStopped, false
		}
		if deviceDeleted(err) {
			s.markLoggedOut(ctx, "device keys were deleted")
			return outFinal, false
		}
		s.log.Debug().Err(err).Msg("connect failed")
		msg := "connect failed: " + err.Error()
		_ = s.setState(ctx, s.downState(), nil, &msg)
		s.noteReconnect(msg)
		return outRetry, false
	}
	out, connected = s.awaitLogin(ctx, cli)
	s.release()
	if !connected {
		return out, false
	}
	return s.awaitDown(ctx, cli), true
}

// downState is the state of a session between connections.
func (s *Session) downState() gateway.SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == gateway.StateStarting {
		return gateway.StateStarting
	}
	return gateway.StateDisconnected
}

// awaitLogin waits for the open socket to log in.
func (s *Session) awaitLogin(ctx context.Context, cli *whatsmeow.Client) (outcome, bool) {
	t := time.NewTimer(s.m.opts.LoginTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return outStopped, false
		case <-t.C:
			cli.Disconnect()
			msg := "login timed out"
			_ = s.setState(ctx, s.downState(), nil, &msg)
			s.noteReconnect(msg)
			return outRetry, false
		case sig := <-s.sigs:
			if s.final(ctx, cli, sig) {
				return outFinal, false
			}
			switch sig.kind {
			case sigConnected:
				s.onConnected(ctx, cli)
				return outRetry, true
			case sigDisconnected, sigDown:
				if sig.kind == sigDisconnected && cli.IsConnected() {
					continue // stale: from an earlier socket
				}
				cli.Disconnect()
				_ = s.setState(ctx, s.downState(), nil, &sig.reason)
				s.noteReconnect(sig.reason)
				return outRetry, false
			case sigPaired:
				s.onPaired(ctx, sig.jid)
			}
		}
	}
}

// awaitDown waits while the session is connected.
func (s *Session) awaitDown(ctx context.Context, cli *whatsmeow.Client) outcome {
	for {
		select {
		case <-ctx.Done():
			return outStopped
		case sig := <-s.sigs:
			if s.final(ctx, cli, sig) {
				return outFinal
			}
			switch sig.kind {
			case sigDisconnected, sigDown:
				if sig.kind == sigDisconnected && cli.IsConnected() {
					continue
				}
				cli.Disconnect()
				_ = s.setState(ctx, gateway.StateDisconnected, nil, &sig.reason)
				s.noteReconnect(sig.reason)
				return outRetry
			case sigInfo:
				s.onConnected(ctx, cli)
			}
		}
	}
}

func (s *Session) onConnected(ctx context.Context, cli *whatsmeow.Client) {
	now := time.Now()
	s.lastActivity.Store(now.UnixNano())
	s.lastTouched.Store(now.UnixNano())
	u := &gateway.StatusUpdate{ConnectedAt: &now, LastSeenAt: &now}
	if id := cli.Store.ID; id != nil {
		jid := id.ToNonAD().String()
		u.JID, u.Phone = &jid, &id.User
		s.mu.Lock()
		wasLinked := s.linked
		s.linked = true
		s.mu.Unlock()
		if !wasLinked {
			s.onPaired(ctx, *id)
		}
	}
	if pn := cli.Store.PushName; pn != "" {
		u.PushName = &pn
	}
	_ = s.setState(ctx, gateway.StateConnected, u, strPtr(""))
}

// onPaired records the new link and moves the session to pairing until
// the follow-up login completes.
func (s *Session) onPaired(ctx context.Context, jid types.JID) {
	s.mu.Lock()
	s.linked = true
	s.mu.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := s.m.opts.Devices.LinkDevice(wctx, s.id, jid.String()); err != nil {
		s.log.Error().Err(err).Msg("failed to record device link")
	}
	pn := jid.ToNonAD().String()
	_ = s.setState(ctx, gateway.StatePairing, &gateway.StatusUpdate{JID: &pn, Phone: &jid.User}, nil)
}

// pairRound runs one pairing connection: QR codes until the phone links
// (then waits for the login) or the codes run out.
func (s *Session) pairRound(ctx context.Context, cli *whatsmeow.Client) (outcome, bool) {
	qrCh, err := cli.GetQRChannel(ctx)
	if err != nil {
		msg := "pairing failed: " + err.Error()
		_ = s.setState(ctx, gateway.StateFailed, nil, &msg)
		return outFinal, false
	}
	if s.currentState() != gateway.StateStarting {
		_ = s.setState(ctx, gateway.StateStarting, nil, nil)
	}
	if !s.acquire(ctx) {
		return outStopped, false
	}
	err = cli.ConnectContext(ctx)
	s.release()
	if err != nil {
		if ctx.Err() != nil {
			return outStopped, false
		}
		msg := "connect failed: " + err.Error()
		_ = s.setState(ctx, gateway.StateStarting, nil, &msg)
		return outRetry, false
	}
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return outStopped, false
		case item, ok := <-qrCh:
			if !ok {
				item = whatsmeow.QRChannelTimeout
			}
			switch item.Event {
			case whatsmeow.QRChannelEventCode:
				s.showQR(ctx, item.Code)
			case whatsmeow.QRChannelSuccess.Event:
				// The PairSuccess handler linked the device; the login
				// after WhatsApp's 515 restart follows.
				out, ok := s.awaitLogin(ctx, cli)
				if !ok {
					return out, false
				}
				return s.awaitDown(ctx, cli), true
			case whatsmeow.QRChannelTimeout.Event:
				cli.Disconnect()
				if time.Since(started) < time.Second {
					return outRetry, false // the server hung up at once: back off
				}
				return outAgain, false
			case whatsmeow.QRChannelEventError:
				msg := "pairing failed"
				if item.Error != nil {
					msg += ": " + item.Error.Error()
				}
				cli.Disconnect()
				_ = s.setState(ctx, gateway.StateStarting, nil, &msg)
				return outRetry, false
			case whatsmeow.QRChannelClientOutdated.Event:
				msg := MsgClientOutdated
				_ = s.setState(ctx, gateway.StateFailed, nil, &msg)
				return outFinal, false
			default:
				s.log.Warn().Str("event", item.Event).Msg("unexpected QR channel event")
				cli.Disconnect()
				return outRetry, false
			}
		case sig := <-s.sigs:
			if s.final(ctx, cli, sig) {
				return outFinal, false
			}
			switch sig.kind {
			case sigPaired:
				s.onPaired(ctx, sig.jid)
			case sigPairing:
				if s.currentState() != gateway.StatePairing {
					_ = s.setState(ctx, gateway.StatePairing, nil, nil)
				}
			}
		}
	}
}

func (s *Session) currentState() gateway.SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// showQR publishes a new QR code; in pairing (a code was issued) the state
// stays pairing but the QR still rotates.
func (s *Session) showQR(ctx context.Context, code string) {
	s.mu.Lock()
	s.qr = code
	st := s.state
	if st == gateway.StatePairing {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	if st != gateway.StatePairing {
		_ = s.setState(ctx, gateway.StateQRReady, nil, nil)
	}
}

// pairCode waits for the pairing connection and asks for a phone code.
func (s *Session) pairCode(ctx context.Context, phone string) (string, error) {
	wait, cancel := context.WithTimeout(ctx, s.m.opts.PairCodeWait)
	defer cancel()
	for {
		s.mu.Lock()
		st, qr, cli, linked, changed := s.state, s.qr, s.cli, s.linked, s.changed
		s.mu.Unlock()
		if linked {
			return "", gateway.E(gateway.CodeConflict, msgAlreadyLinked)
		}
		if cli != nil && qr != "" && (st == gateway.StateQRReady || st == gateway.StatePairing) {
			code, err := cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
			if err != nil {
				return "", TranslateError(err)
			}
			s.send(s.currentRunCtx(), signal{kind: sigPairing})
			return code, nil
		}
		if st == gateway.StateFailed || st == gateway.StateStopped || st == gateway.StateLoggedOut {
			return "", gateway.E(gateway.CodeConflict, gateway.MsgQRNotAvailable(st))
		}
		select {
		case <-changed:
		case <-wait.Done():
			return "", gateway.ErrStillConnecting(nil)
		}
	}
}

// touch records traffic from WhatsApp and, throttled, lastSeenAt.
func (s *Session) touch() {
	now := time.Now()
	s.lastActivity.Store(now.UnixNano())
	last := s.lastTouched.Load()
	if now.UnixNano()-last < int64(s.m.opts.LastSeenEvery) || !s.lastTouched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := s.m.opts.Status.TouchLastSeen(ctx, s.id, now); err != nil {
			s.log.Debug().Err(err).Msg("failed to record last seen")
		}
	}()
}

// forceDown declares the current connection dead (liveness, keepalive).
func (s *Session) forceDown(reason string) {
	s.mu.Lock()
	cli, cancel := s.cli, s.cancel
	s.mu.Unlock()
	if cli == nil || cancel == nil {
		return
	}
	s.log.Warn().Str("reason", reason).Msg("connection declared dead, reconnecting")
	cli.Disconnect()
	s.send(s.currentRunCtx(), signal{kind: sigDown, reason: reason})
}

func (s *Session) currentRunCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil {
		return s.m.ctx
	}
	return s.runCtx
}
