package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

var _ gateway.SessionRuntime = (*Manager)(nil)

// Options configures a Manager. Pool, Status and Devices are required;
// every duration and count has a default.
type Options struct {
	// Pool is wagate's pgx pool; whatsmeow's sqlstore shares it (its own
	// tables, upgraded by NewManager).
	Pool *pgxpool.Pool
	// Status receives every state change of every session.
	Status gateway.SessionStatusStore
	// Devices links sessions to their whatsmeow devices.
	Devices gateway.DeviceStore
	// Inbound is the one inbound port: every message, receipt, history
	// sync and app-state change the message store keeps, acknowledged to
	// WhatsApp only once StoreInbound returned nil. Nil acknowledges and
	// stores nothing (tests of the connection alone).
	Inbound gateway.MessageSink
	// Events records presence, typing and call events (conversation.go);
	// nil records none.
	Events gateway.EventRecorder
	// CallPolicy decides whether offered calls are rejected at once; nil
	// rejects none.
	CallPolicy gateway.CallPolicySource
	// Calls keeps the ringing calls in PostgreSQL, so that a reject works
	// after a restart or on another node. Nil keeps them in this manager
	// only (tests of one process).
	Calls gateway.RingingCalls
	// Proxies gives each session's proxy (nil: every session connects
	// directly). A session's clients are built through it on every start.
	Proxies gateway.ProxySource
	// Logger is the root logger; each session gets a sub-logger with its
	// session_id, and each whatsmeow client one of those (component=whatsmeow).
	Logger zerolog.Logger

	// HTTPClient, when set, carries every websocket and media request of
	// every session (e.g. a transport that dials the simulator). Nil uses
	// a clone of http.DefaultTransport, like whatsmeow does.
	HTTPClient *http.Client
	// TrustSimulator says this process talks to wasim, the simulated
	// WhatsApp: the caller has installed the simulator's root key
	// (wasim.InstallRootKey) and set HTTPClient. NewManager refuses to run
	// when the root key and this flag disagree. Only sandbox mode and tests
	// set it. Default false.
	TrustSimulator bool
	// WSCompression lets the websocket negotiate permessage-deflate, as
	// whatsmeow offers by default. It costs inflate/deflate state per
	// connection (see docs/benchmarks.md) for little gain on WhatsApp's
	// already compact binary frames. Default false (the offer is removed).
	WSCompression bool

	// RestoreConcurrency bounds how many sessions connect (handshake and
	// login) at the same time, at start-up and in reconnect storms.
	// Default 64.
	RestoreConcurrency int
	// BootWorkers is how many sessions Boot claims and starts (lease claim,
	// "starting" state write) at a time. Default 16; 1 is the old serial
	// Boot, kept for the sessions benchmark's comparison.
	BootWorkers int
	// ReconnectBaseDelay is the first reconnect delay; it doubles per
	// failed attempt up to ReconnectMaxDelay, with jitter (each delay is
	// drawn from [d/2, d]). Defaults 1 s and 60 s.
	ReconnectBaseDelay time.Duration
	ReconnectMaxDelay  time.Duration
	// MediaRetryTimeout bounds how long a download of expired media waits
	// for the phone to upload the file again (mediaretry.go). Defaults to
	// 30 s.
	MediaRetryTimeout time.Duration
	// LoginTimeout bounds the time from an open socket to a logged-in
	// connection before the attempt is abandoned. Default 30 s.
	LoginTimeout time.Duration
	// LivenessInterval is how long a connected session may go without
	// traffic from WhatsApp before the manager probes it with a ping.
	// Default 60 s.
	LivenessInterval time.Duration
	// LivenessTimeout is how long a probe may wait for its answer before
	// the socket is declared dead and the session reconnects. Default 15 s.
	LivenessTimeout time.Duration
	// KeepAliveFailures is how many consecutive failed whatsmeow keepalives
	// force a reconnect (whatsmeow alone waits 3 minutes). Default 2.
	KeepAliveFailures int
	// LastSeenEvery throttles SessionStatusStore.TouchLastSeen per session.
	// Default 60 s.
	LastSeenEvery time.Duration
	// QRRounds is how many rounds of QR codes (a fresh pairing connection
	// each, about 2.5 minutes on real WhatsApp) an unlinked session shows
	// before it fails with "QR code not scanned in time". Default 5.
	QRRounds int
	// PairCodeWait bounds how long PairCode waits for the pairing
	// connection to be ready. Default 15 s.
	PairCodeWait time.Duration
	// Leases, when set, makes the manager run a session's client only
	// while this node holds the session's lease (a cluster): Boot and
	// Start claim it first, Stop, Logout and Remove release it after the
	// client is stopped. Nil runs every session (one node).
	Leases LeaseHooks
	// LogoutTimeout bounds how long Logout and Remove try to tell WhatsApp
	// to unlink the device (connecting a short-lived client when the
	// session is not logged in) before they delete it locally only and
	// say so in the session's lastError. Default 15 s.
	LogoutTimeout time.Duration
	// OnReconnect, when set, is called each time a linked session's
	// connection ends (or a connect or login fails) and the supervisor
	// will reconnect, with the reason (one of ReconnectReasons).
	OnReconnect func(reason string)
	// SendAckTimeout bounds how long a send waits for WhatsApp's server
	// ack of the message; without it the send fails with 503 (the message
	// may not have left). Default 20 s (whatsmeow alone waits 75 s).
	SendAckTimeout time.Duration
}

// LeaseHooks are the cluster's session leases as the manager uses them.
type LeaseHooks interface {
	// Claim takes the session's lease for this node; false when another
	// live node holds it.
	Claim(ctx context.Context, id uuid.UUID) (bool, error)
	// Release gives the lease up at once (the client is stopped).
	Release(ctx context.Context, id uuid.UUID) error
}

// claim takes the session's lease (nil Leases: always held). The answer
// when another node holds it is CodeUnavailable + MsgSessionMoving.
func (m *Manager) claim(ctx context.Context, id uuid.UUID) error {
	if m.opts.Leases == nil {
		return nil
	}
	ok, err := m.opts.Leases.Claim(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return gateway.E(gateway.CodeUnavailable, gateway.MsgSessionMoving)
	}
	return nil
}

func (m *Manager) release(ctx context.Context, id uuid.UUID) {
	if m.opts.Leases == nil {
		return
	}
	if err := m.opts.Leases.Release(ctx, id); err != nil {
		m.log.Warn().Err(err).Str("session_id", id.String()).Msg("could not release the session lease; it expires by itself")
	}
}

// HaltAll disconnects every session's client without changing its
// recorded state and forgets the sessions, so that none reconnects: the
// node lost its leases (it could not renew them in time) and another node
// may take the sessions over. The manager stays usable.
func (m *Manager) HaltAll() {
	list := m.snapshot()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.opMu.Lock()
			defer s.opMu.Unlock()
			s.halt()
			m.forget(s.id)
		}()
	}
	wg.Wait()
}

// Release disconnects the session's client without changing its recorded
// state and gives up its lease: a handover to another node.
func (m *Manager) Release(ctx context.Context, id uuid.UUID) {
	s, _ := m.session(id, false)
	if s != nil {
		s.opMu.Lock()
		s.halt()
		m.forget(id)
		s.opMu.Unlock()
	}
	m.release(ctx, id)
}

// Owned returns the ids of the sessions this manager runs.
func (m *Manager) Owned() []uuid.UUID {
	list := m.snapshot()
	out := make([]uuid.UUID, len(list))
	for i, s := range list {
		out[i] = s.id
	}
	return out
}

func (o *Options) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.BootWorkers <= 0 {
		o.BootWorkers = 16
	}
	if o.RestoreConcurrency <= 0 {
		o.RestoreConcurrency = 64
	}
	def(&o.ReconnectBaseDelay, time.Second)
	def(&o.ReconnectMaxDelay, 60*time.Second)
	if o.ReconnectMaxDelay < o.ReconnectBaseDelay {
		o.ReconnectMaxDelay = o.ReconnectBaseDelay
	}
	def(&o.LoginTimeout, 30*time.Second)
	def(&o.MediaRetryTimeout, 30*time.Second)
	def(&o.LivenessInterval, 60*time.Second)
	def(&o.LivenessTimeout, 15*time.Second)
	if o.KeepAliveFailures <= 0 {
		o.KeepAliveFailures = 2
	}
	def(&o.LastSeenEvery, 60*time.Second)
	if o.QRRounds <= 0 {
		o.QRRounds = 5
	}
	def(&o.PairCodeWait, 15*time.Second)
	def(&o.LogoutTimeout, 15*time.Second)
	def(&o.SendAckTimeout, 20*time.Second)
}

// Manager owns every session's whatsmeow client in this process. Create it
// with NewManager, bring back the sessions of the last run with Boot, and
// Close it on shutdown. All methods are safe for concurrent use.
type Manager struct {
	opts       Options
	log        zerolog.Logger
	db         *sql.DB
	container  *sqlstore.Container
	httpClient *http.Client
	connectSem chan struct{}
	probeSem   chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[uuid.UUID]*Session
	closed   bool

	calls   callRegistry                  // ringing calls per session (conversation.go)
	retries mediaRetries                  // media retry requests waiting for the phone (mediaretry.go)
	tokens  *groupCommit[pruneReq, int64] // privacy-token cleanups after login (tokenprune.go)
	preKeys *groupCommit[string, int]     // uploaded-prekey counts after login (prekeycount.go)
}

// NewManager checks opts, upgrades whatsmeow's schema in the shared
// database and starts the liveness loop. No session runs until Boot or
// Start.
func NewManager(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Pool == nil || opts.Status == nil || opts.Devices == nil {
		return nil, errors.New("whatsapp: Options.Pool, Status and Devices are required")
	}
	if err := checkTrust(&opts); err != nil {
		return nil, err
	}
	opts.withDefaults()
	log := opts.Logger.With().Str("component", "whatsapp").Logger()
	signalLog := log.With().Str("component", "libsignal").Logger()
	signalTarget.CompareAndSwap(nil, &signalLog)
	db := stdlib.OpenDBFromPool(opts.Pool)
	container := newContainer(db, log)
	if err := container.Upgrade(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("whatsapp: upgrade whatsmeow store: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		calls:      callRegistry{store: opts.Calls},
		opts:       opts,
		log:        log,
		db:         db,
		container:  container,
		httpClient: buildHTTPClient(&opts),
		connectSem: make(chan struct{}, opts.RestoreConcurrency),
		probeSem:   make(chan struct{}, 32),
		tokens:     newTokenPruner(opts.Pool),
		preKeys:    newPreKeyCounter(opts.Pool),
		ctx:        mctx,
		cancel:     cancel,
		sessions:   map[uuid.UUID]*Session{},
	}
	m.wg.Add(1)
	go m.livenessLoop()
	return m, nil
}

func newContainer(db *sql.DB, log zerolog.Logger) *sqlstore.Container {
	return sqlstore.NewWithDB(db, "pgx", waLog.Zerolog(log.With().Str("component", "whatsmeow_store").Logger()))
}

// UpgradeStore upgrades whatsmeow's tables in the database of pool. It is
// idempotent. NewManager upgrades too, but processes that start together
// on an empty database must run this first while holding the migration
// lock (postgres.Migrate's SchemaOwner), or their concurrent CREATE TABLEs
// collide.
func UpgradeStore(ctx context.Context, pool *pgxpool.Pool, log zerolog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	if err := newContainer(db, log.With().Str("component", "whatsapp").Logger()).Upgrade(ctx); err != nil {
		return fmt.Errorf("whatsapp: upgrade whatsmeow store: %w", err)
	}
	return nil
}

// Close disconnects every session without changing its recorded state (so
// the next Boot restores it) and stops the manager. whatsmeow's tables and
// the shared pool stay open for their owner.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	list := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.opMu.Lock()
			defer s.opMu.Unlock()
			s.halt()
		}()
	}
	wg.Wait()
	m.cancel()
	m.wg.Wait()
	return m.db.Close()
}

// session returns the session object for id, creating it when create is
// set. It returns nil (or an error when closed) otherwise.
func (m *Manager) session(id uuid.UUID, create bool) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, gateway.ErrStillConnecting(nil)
	}
	s := m.sessions[id]
	if s == nil && create {
		s = newSession(m, id)
		m.sessions[id] = s
	}
	return s, nil
}

func (m *Manager) forget(id uuid.UUID) {
	m.mu.Lock()
	delete(m.sessions, id)
	m.mu.Unlock()
}

func (m *Manager) snapshot() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out
}

// Boot starts every session that was running when the process last went
// down (gateway.DeviceStore.RestorableSessions): linked ones reconnect with
// their stored keys and no new QR, unlinked ones start a new QR round.
// It returns once all are started; connections come up in the background,
// at most RestoreConcurrency at a time.
func (m *Manager) Boot(ctx context.Context) (int, error) {
	list, err := m.opts.Devices.RestorableSessions(ctx)
	if err != nil {
		return 0, fmt.Errorf("whatsapp: list sessions to restore: %w", err)
	}
	devices, err := m.container.GetAllDevices(ctx)
	if err != nil {
		return 0, fmt.Errorf("whatsapp: load devices: %w", err)
	}
	byJID := make(map[string]*store.Device, len(devices))
	for _, d := range devices {
		if d.ID != nil {
			byJID[d.ID.String()] = d
		}
	}
	// Claiming the lease and recording "starting" are a few database
	// round trips per session; done one session after another they made
	// the restore time n × commit latency (slower still while the sessions
	// already started compete for the pool), so Options.BootWorkers sessions are
	// started at a time. Connections then come up under connectSem.
	var (
		started atomic.Int64
		errMu   sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	work := make(chan gateway.RestorableSession)
	for range min(m.opts.BootWorkers, max(len(list), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rs := range work {
				ok, err := m.bootOne(ctx, rs, byJID)
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					continue
				}
				if ok {
					started.Add(1)
				}
			}
		}()
	}
	for _, rs := range list {
		errMu.Lock()
		failed := first != nil
		errMu.Unlock()
		if failed {
			break
		}
		work <- rs
	}
	close(work)
	wg.Wait()
	if first != nil {
		return int(started.Load()), first
	}
	m.log.Info().Int("sessions", int(started.Load())).Msg("sessions restored")
	return int(started.Load()), nil
}

// bootOne claims and starts one session of Boot; ok is false when another
// node runs it or its keys are gone.
func (m *Manager) bootOne(ctx context.Context, rs gateway.RestorableSession, byJID map[string]*store.Device) (bool, error) {
	if m.opts.Leases != nil {
		ok, err := m.opts.Leases.Claim(ctx, rs.ID)
		if err != nil || !ok {
			return false, err // !ok: another live node runs it
		}
	}
	s, err := m.session(rs.ID, true)
	if err != nil {
		return false, err
	}
	var dev *store.Device
	if rs.DeviceJID != "" {
		if dev = byJID[rs.DeviceJID]; dev == nil {
			// Linked once, but whatsmeow deleted the keys (e.g. a remote
			// logout seen while our link row was not yet removed).
			s.opMu.Lock()
			s.markLoggedOut(ctx, "device keys are gone; link the session again")
			s.opMu.Unlock()
			return false, nil
		}
	}
	s.opMu.Lock()
	err = s.start(dev)
	s.opMu.Unlock()
	return err == nil, err
}

// loadDevice returns the session's linked device, or a new unpaired one.
func (m *Manager) loadDevice(ctx context.Context, id uuid.UUID) (*store.Device, error) {
	jidStr, err := m.opts.Devices.DeviceJID(ctx, id)
	if err != nil {
		return nil, err
	}
	if jidStr == "" {
		return m.container.NewDevice(), nil
	}
	jid, err := types.ParseJID(jidStr)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: stored device jid %q: %w", jidStr, err)
	}
	dev, err := m.container.GetDevice(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: load device: %w", err)
	}
	if dev == nil {
		// Keys are gone (logged out while we were not looking): start over.
		if err := m.opts.Devices.UnlinkDevice(ctx, id); err != nil {
			return nil, err
		}
		return m.container.NewDevice(), nil
	}
	return dev, nil
}

// locked runs op on the session (known from now on) under its operation
// lock.
func (m *Manager) locked(id uuid.UUID, op func(*Session) error) error {
	s, err := m.session(id, true)
	if err != nil {
		return err
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return op(s)
}

// startStored starts the session with its stored device (or a new one).
// Caller holds opMu and the session is not running.
func (s *Session) startStored(ctx context.Context) error {
	// From the claim on, requests are routed here; until start knows
	// whether the device is linked they are told to retry, not that the
	// session needs a QR code.
	s.mu.Lock()
	s.loading = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.loading = false
		s.mu.Unlock()
	}()
	if err := s.m.claim(ctx, s.id); err != nil {
		return err
	}
	dev, err := s.m.loadDevice(ctx, s.id)
	if err != nil {
		return err
	}
	return s.start(dev)
}

// Start connects the session (gateway.SessionRuntime). A linked session
// reconnects with its keys, an unlinked one starts showing QR codes. It
// does nothing when the session already runs.
func (m *Manager) Start(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		if s.isRunning() {
			return nil
		}
		return s.startStored(ctx)
	})
}

// Stop disconnects the session and keeps its link (state stopped).
func (m *Manager) Stop(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		s.halt()
		if err := s.setState(ctx, gateway.StateStopped, nil, nil); err != nil {
			return err
		}
		m.release(ctx, id)
		return nil
	})
}

// Restart stops the session's connection and starts it again.
func (m *Manager) Restart(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		s.halt()
		return s.startStored(ctx)
	})
}

// Reconnect restarts the session's connection when it runs (after its
// proxy changed); a stopped session stays stopped.
func (m *Manager) Reconnect(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		if !s.isRunning() {
			return nil
		}
		s.halt()
		return s.startStored(ctx)
	})
}

// Logout unlinks the device on WhatsApp and deletes its keys; the session
// ends in logged_out. A session that is linked but not logged in (stopped,
// disconnected) connects a short-lived client to send the logout. When
// WhatsApp cannot be reached within Options.LogoutTimeout the keys are
// deleted locally only and lastError tells the user to remove the device
// on the phone. CodeConflict + MsgNotAuthenticated when the session is not
// linked (it is left as it is).
func (m *Manager) Logout(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		cli, jid, err := s.linkedDevice(ctx)
		if err != nil {
			return err
		}
		if jid == nil {
			return gateway.E(gateway.CodeConflict, gateway.MsgNotAuthenticated)
		}
		warning, err := s.unlink(ctx, cli, *jid)
		if err != nil {
			return err
		}
		if err := s.setState(ctx, gateway.StateLoggedOut, nil, &warning); err != nil {
			return err
		}
		m.release(ctx, id)
		return nil
	})
}

// Remove logs the session out (as Logout) when it is linked, stops it and
// deletes its WhatsApp data (device, keys). The caller deletes the session
// row afterwards.
func (m *Manager) Remove(ctx context.Context, id uuid.UUID) error {
	return m.locked(id, func(s *Session) error {
		cli, jid, err := s.linkedDevice(ctx)
		if err != nil {
			return err
		}
		if jid == nil {
			s.halt()
		} else if _, err := s.unlink(ctx, cli, *jid); err != nil {
			return err // a warning is only logged: the session row goes
		}
		m.forget(id)
		m.release(ctx, id)
		return nil
	})
}

// QR returns the session's current QR string, exactly as whatsmeow made it
// (https://wa.me/settings/linked_devices#...). It changes as WhatsApp
// rotates codes. CodeConflict + MsgQRNotAvailable(state) when there is none.
func (m *Manager) QR(_ context.Context, id uuid.UUID) (string, error) {
	s, err := m.session(id, false)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", gateway.E(gateway.CodeConflict, gateway.MsgQRNotAvailable(gateway.StateStopped))
	}
	st, qr := s.qrState()
	if qr == "" {
		return "", gateway.E(gateway.CodeConflict, gateway.MsgQRNotAvailable(st))
	}
	return qr, nil
}

// PairCode asks WhatsApp for an 8-character pairing code ("XXXX-XXXX") to
// type on the phone with the given number. The session is started when it
// is not running; CodeConflict when it is already linked.
func (m *Manager) PairCode(ctx context.Context, id uuid.UUID, phone string) (string, error) {
	phone, err := waid.ParsePhone("phone", phone)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInvalid, msgInvalidPhone, err)
	}
	if err := m.Start(ctx, id); err != nil {
		return "", err
	}
	s, err := m.session(id, false)
	if err != nil || s == nil {
		return "", gateway.ErrStillConnecting(nil)
	}
	return s.pairCode(ctx, phone)
}

// Ready is the gate every WhatsApp operation passes first: nil when the
// session is linked and logged in; CodeConflict + MsgNotAuthenticated when
// it is not linked; CodeUnavailable + MsgStillConnecting when it is linked
// but (re)connecting, disconnected or stopped.
func (m *Manager) Ready(id uuid.UUID) error {
	_, err := m.client(id)
	return err
}

// client returns the logged-in whatsmeow client of a session, for the
// operations of this package (messages, chats); see Ready for the errors.
func (m *Manager) client(id uuid.UUID) (*whatsmeow.Client, error) {
	s, err := m.session(id, false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, gateway.ErrStillConnecting(nil)
	}
	return s.readyClient()
}

// State returns the session's current state as this process sees it, and
// false when the manager does not know the session.
func (m *Manager) State(id uuid.UUID) (gateway.SessionState, bool) {
	s, _ := m.session(id, false)
	if s == nil {
		return "", false
	}
	st, _ := s.qrState()
	return st, true
}

// AccountJID returns the linked account's JID in phone form
// ("15550001111@s.whatsapp.net"), or "" when the session is not linked.
func (m *Manager) AccountJID(id uuid.UUID) string {
	s, _ := m.session(id, false)
	if s == nil {
		return ""
	}
	return s.accountJID()
}

func strPtr(s string) *string { return &s }
