package whatsapp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wagate-dev/wagate/internal/dbfault"
)

// Database outages.
//
// whatsmeow keeps its Signal sessions, prekeys, identities and the
// decrypted-event buffer in the same database as wagate. When one of those
// reads or writes fails while it decrypts a message, whatsmeow takes the
// message for undecryptable (message.go decryptMessages): it sends a retry
// receipt and an <ack>, then emits events.UndecryptableMessage. WhatsApp
// drops the stanza on that ack, so the message is lost, although no
// handler refused it: only the sender's phone answering the retry receipt
// could bring it back. Other store failures (the message secret, sender
// keys, LID mappings) are only logged, and the receipt goes out anyway.
//
// dbGuard closes that hole without changing whatsmeow: it wraps the
// device's stores, and when a call fails because the database is
// unavailable it closes the WhatsApp socket before handing the error back.
// Whatever whatsmeow sends next for that stanza (retry receipt, ack,
// receipt) then fails with "not connected", WhatsApp keeps the stanza and
// delivers it again after the next login. The supervisor is told to
// reconnect; while the database stays down every login ends the same way
// without a Connected state (so the reconnect backoff grows), and the first
// login with the database back delivers everything again. A stanza
// decrypted before the outage comes back from the event buffer (decryption
// and buffer write share one transaction, so either both or neither are
// stored); the message store absorbs one that was already committed.
//
// The message store's own failures (inbound.go) trip the guard the same
// way when they come from the database, so a refused message is delivered
// again as soon as the database is back rather than at some later
// reconnect.
type dbGuard struct {
	s   *Session
	cli *whatsmeow.Client

	mu   sync.Mutex  // serialises trips, so one socket yields one reconnect signal
	down atomic.Bool // an outage was seen and the database has not answered since
}

// outagePing bounds the database check before a login counts as connected
// after an outage.
const outagePing = 5 * time.Second

// guardStores wraps dev's stores with a new guard for cli. Call it before
// cli connects. A device that is not paired yet gets its stores when the
// pairing saves it (sqlstore's initializeDevice); the guard provides them
// itself instead, created on first use once the device has its JID.
func (s *Session) guardStores(dev *store.Device, cli *whatsmeow.Client) *dbGuard {
	g := &dbGuard{s: s, cli: cli}
	gs := &guardedStore{g: g, dev: dev, container: s.m.container}
	lids := dev.LIDs
	if dev.Initialized {
		in := &innerStores{dev.Identities, dev.Sessions, dev.PreKeys, dev.SenderKeys, dev.AppStateKeys,
			dev.AppState, dev.Contacts, dev.ChatSettings, dev.MsgSecrets, dev.PrivacyTokens, dev.NCTSalt, dev.EventBuffer}
		if prev, ok := dev.Sessions.(*guardedStore); ok { // wrapped before: wrap the original stores
			if p, err := prev.inner(); err == nil {
				in = p
			}
		}
		gs.stores.Store(in)
	} else {
		dev.Container = s.m.container
		dev.Initialized = true
		lids = s.m.container.LIDMap
	}
	if prev, ok := lids.(*guardedLIDs); ok {
		lids = prev.inner
	}
	dev.SetAllStores(gs)
	dev.LIDs = &guardedLIDs{g: g, inner: lids}
	return g
}

// check trips the guard when err says the database is unavailable, and
// returns err unchanged.
func (g *dbGuard) check(err error, op string) error {
	if err != nil && dbfault.Unavailable(err) {
		g.trip(err, op)
	}
	return err
}

// trip closes the socket now (before the caller gets to acknowledge
// anything) and, once per socket, asks the supervisor to reconnect.
func (g *dbGuard) trip(err error, op string) {
	if g == nil {
		return
	}
	g.down.Store(true)
	g.mu.Lock()
	wasConnected := g.cli.IsConnected()
	g.cli.Disconnect()
	g.mu.Unlock()
	if !wasConnected || !g.current() {
		return
	}
	g.s.log.Warn().Err(err).Str("op", op).Msg("database unavailable: disconnected from WhatsApp so that nothing is acknowledged; it delivers again after the database is back")
	go g.s.forceDown("database unavailable")
}

// current reports whether the guard's client is the session's running one
// (a late store call of an earlier run must not take the next one down).
func (g *dbGuard) current() bool {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	return g.s.cli == g.cli && g.s.cancel != nil
}

// loginOK decides, at events.Connected, whether the login may count: after
// an outage only when the database answers again. Otherwise the guard
// takes the connection down (the supervisor retries with a growing delay).
func (g *dbGuard) loginOK(ctx context.Context) bool {
	if g == nil || !g.down.Load() {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, outagePing)
	defer cancel()
	if err := g.s.m.opts.Pool.Ping(pctx); err != nil {
		if ctx.Err() == nil {
			g.trip(err, "ping after login")
		}
		return false
	}
	g.down.Store(false)
	g.s.log.Info().Msg("database available again")
	return true
}

// innerStores are the stores a guardedStore forwards to (one per store
// interface, as a device may mix them).
type innerStores struct {
	store.IdentityStore
	store.SessionStore
	store.PreKeyStore
	store.SenderKeyStore
	store.AppStateSyncKeyStore
	store.AppStateStore
	store.ContactStore
	store.ChatSettingsStore
	store.MsgSecretStore
	store.PrivacyTokenStore
	store.NCTSaltStore
	store.EventBuffer
}

// guardedStore is every session-specific store of a device, guarded. Its
// methods, and those of guardedLIDs, are generated into dbguard_stores.go
// from whatsmeow's store interfaces (internal/guardgen).
//
//go:generate go run ./internal/guardgen -o dbguard_stores.go
type guardedStore struct {
	g         *dbGuard
	dev       *store.Device
	container *sqlstore.Container

	mu     sync.Mutex
	stores atomic.Pointer[innerStores]
}

var (
	_ store.AllSessionSpecificStores = (*guardedStore)(nil)
	_ store.LIDStore                 = (*guardedLIDs)(nil)
)

// inner returns the wrapped stores; for a device paired during this run
// they are created once it has its JID (as sqlstore would on saving it).
func (s *guardedStore) inner() (*innerStores, error) {
	if in := s.stores.Load(); in != nil {
		return in, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.stores.Load(); in != nil {
		return in, nil
	}
	if s.dev.ID == nil {
		return nil, sqlstore.ErrDeviceIDMustBeSet
	}
	sq := sqlstore.NewSQLStore(s.container, *s.dev.ID)
	in := &innerStores{sq, sq, sq, sq, sq, sq, sq, sq, sq, sq, sq, sq}
	s.stores.Store(in)
	return in, nil
}

// guardedLIDs is the device's LID map (shared by all devices), guarded.
type guardedLIDs struct {
	g     *dbGuard
	inner store.LIDStore
}
