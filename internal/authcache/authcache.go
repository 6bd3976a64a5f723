// Package authcache answers authentication (key hash -> principal) and
// authorization (session -> owner, state) from memory. It decorates the
// storage ports of internal/gateway: misses go to the wrapped stores, and
// every committed change of keys and sessions, on any node, arrives as a
// gateway.AuthChange (the postgres adapter's LISTEN connection) and drops
// what it affects. Local writes through the cache drop their entries at
// once, so a node reads its own writes.
//
// Safety nets: entries are reloaded after TTL even when no change arrived;
// while the change feed is down nothing is served from memory (every
// lookup goes to the stores) and everything is dropped when it comes back.
// Trial-key expiry is a time and is checked in memory on every lookup.
//
// Unknown keys: a bounded LRU remembers hashes the store refused, and
// lookups of hashes not known at all take a token from a bucket, so a
// caller cycling random keys neither grows memory nor reaches the database
// faster than MissLookupsPerSecond.
package authcache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Defaults of Options.
const (
	DefaultTTL                  = 30 * time.Second
	DefaultNegativeSize         = 10000
	DefaultMissLookupsPerSecond = 100
	DefaultMissWait             = 100 * time.Millisecond
	DefaultMaxEntries           = 200000
)

// Options tune a Cache; zero fields take the defaults above.
type Options struct {
	// TTL is how long an entry is served before it is loaded again (the
	// safety net for a lost change notification).
	TTL time.Duration
	// NegativeSize bounds the remembered unknown key hashes.
	NegativeSize int
	// MissLookupsPerSecond bounds the store lookups of key hashes that are
	// neither cached nor remembered as unknown (burst: the same number).
	MissLookupsPerSecond float64
	// MissWait is how long such a lookup may wait for its turn before it is
	// refused with 429.
	MissWait time.Duration
	// MaxEntries bounds cached principals and sessions (each); past it the
	// cache starts over empty.
	MaxEntries int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Cache implements gateway.KeyStore and gateway.SessionStore over the
// stores it wraps, and gateway.AuthChangeSink to learn of changes. Create
// it with New; it serves nothing from memory until AuthFeedUp.
type Cache struct {
	gateway.KeyStore
	gateway.SessionStore

	opts    Options
	limiter *rate.Limiter

	mu         sync.Mutex
	live       bool
	gen        uint64 // bumped by every invalidation
	keyGen     uint64 // gen of the last invalidation of any key (or flush)
	flushGen   uint64
	sessInval  map[uuid.UUID]uint64
	principals map[gateway.KeyHash]principalEntry
	byKeyID    map[string]map[gateway.KeyHash]struct{}
	bySession  map[uuid.UUID]gateway.KeyHash
	sessions   map[uuid.UUID]sessionEntry
	negative   *lru
	stats      Stats
}

// Stats counts what the cache did since it was created.
type Stats struct {
	KeyHits, KeyMisses, NegativeHits, MissRefused int64
	SessionHits, SessionMisses                    int64
	Invalidations, Flushes                        int64
}

type principalEntry struct {
	p      gateway.Principal
	loaded time.Time
}

type sessionEntry struct {
	s      gateway.Session
	loaded time.Time
}

var (
	_ gateway.KeyStore       = (*Cache)(nil)
	_ gateway.SessionStore   = (*Cache)(nil)
	_ gateway.AuthChangeSink = (*Cache)(nil)
)

// New returns a cache over keys and sessions.
func New(keys gateway.KeyStore, sessions gateway.SessionStore, o Options) *Cache {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeSize <= 0 {
		o.NegativeSize = DefaultNegativeSize
	}
	if o.MissLookupsPerSecond <= 0 {
		o.MissLookupsPerSecond = DefaultMissLookupsPerSecond
	}
	if o.MissWait <= 0 {
		o.MissWait = DefaultMissWait
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	burst := int(o.MissLookupsPerSecond)
	if burst < 1 {
		burst = 1
	}
	c := &Cache{
		KeyStore:     keys,
		SessionStore: sessions,
		opts:         o,
		limiter:      rate.NewLimiter(rate.Limit(o.MissLookupsPerSecond), burst),
		negative:     newLRU(o.NegativeSize),
	}
	c.reset()
	return c
}

// reset empties every map; c.mu held (or c not shared yet).
func (c *Cache) reset() {
	c.principals = map[gateway.KeyHash]principalEntry{}
	c.byKeyID = map[string]map[gateway.KeyHash]struct{}{}
	c.bySession = map[uuid.UUID]gateway.KeyHash{}
	c.sessions = map[uuid.UUID]sessionEntry{}
	c.sessInval = map[uuid.UUID]uint64{}
	c.negative.clear()
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

var errInvalid = gateway.E(gateway.CodeUnauthorized, gateway.MsgInvalidAPIKey)

// LookupKey implements gateway.KeyStore from memory when it can.
func (c *Cache) LookupKey(ctx context.Context, hash gateway.KeyHash) (*gateway.Principal, error) {
	now := c.opts.Now()
	c.mu.Lock()
	live, known := c.live, false
	if live {
		if e, ok := c.principals[hash]; ok {
			known = true
			if now.Sub(e.loaded) < c.opts.TTL {
				c.stats.KeyHits++
				c.mu.Unlock()
				if e.p.ExpiresAt != nil && !e.p.ExpiresAt.After(now) {
					return nil, errInvalid
				}
				p := e.p
				return &p, nil
			}
		}
		if at, ok := c.negative.get(hash); ok {
			if now.Sub(at) < c.opts.TTL {
				c.stats.NegativeHits++
				c.mu.Unlock()
				return nil, errInvalid
			}
			known = true // remembered, but stale: reload without a token
		}
	}
	start := c.gen
	c.stats.KeyMisses++
	c.mu.Unlock()

	if live && !known && !c.takeMissToken() {
		c.mu.Lock()
		c.stats.MissRefused++
		c.mu.Unlock()
		return nil, gateway.E(gateway.CodeRateLimited, gateway.MsgRateLimited(1))
	}
	p, err := c.KeyStore.LookupKey(ctx, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.keyGen > start || c.flushGen > start {
		return p, err // something changed meanwhile: serve, do not keep
	}
	switch {
	case err == nil:
		c.storePrincipal(hash, *p, now)
	case gateway.ErrorCode(err) == gateway.CodeUnauthorized:
		c.negative.put(hash, now)
	}
	return p, err
}

// takeMissToken waits up to MissWait for a store lookup of an unknown hash.
func (c *Cache) takeMissToken() bool {
	r := c.limiter.Reserve()
	d := r.Delay()
	if !r.OK() || d > c.opts.MissWait {
		r.Cancel()
		return false
	}
	if d > 0 {
		time.Sleep(d)
	}
	return true
}

// storePrincipal caches p for hash; c.mu held.
func (c *Cache) storePrincipal(hash gateway.KeyHash, p gateway.Principal, now time.Time) {
	if len(c.principals) >= c.opts.MaxEntries {
		c.flushLocked()
	}
	c.principals[hash] = principalEntry{p: p, loaded: now}
	c.negative.remove(hash)
	index := func(id string) {
		set := c.byKeyID[id]
		if set == nil {
			set = map[gateway.KeyHash]struct{}{}
			c.byKeyID[id] = set
		}
		set[hash] = struct{}{}
	}
	switch p.Kind {
	case gateway.KindManaged:
		index(p.KeyID)
	case gateway.KindSession:
		c.bySession[p.SessionID] = hash
		if p.OwnerKeyID != nil {
			index(*p.OwnerKeyID)
		}
	}
}

// GetSession implements gateway.SessionStore from memory when it can.
func (c *Cache) GetSession(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	now := c.opts.Now()
	c.mu.Lock()
	if c.live {
		if e, ok := c.sessions[id]; ok && now.Sub(e.loaded) < c.opts.TTL {
			c.stats.SessionHits++
			c.mu.Unlock()
			return e.s, nil
		}
	}
	start := c.gen
	c.stats.SessionMisses++
	c.mu.Unlock()

	s, err := c.SessionStore.GetSession(ctx, id)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && c.sessInval[id] <= start && c.flushGen <= start {
		if len(c.sessions) >= c.opts.MaxEntries {
			c.flushLocked()
		}
		c.sessions[id] = sessionEntry{s: s, loaded: now}
	}
	return s, nil
}

// CreateSession implements gateway.SessionStore; the new session key may
// have been remembered as unknown.
func (c *Cache) CreateSession(ctx context.Context, n gateway.NewSession) (gateway.Session, error) {
	s, err := c.SessionStore.CreateSession(ctx, n)
	if err == nil {
		c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthKeyCreated})
	}
	return s, err
}

// DeleteSession implements gateway.SessionStore and forgets the session and
// its key at once.
func (c *Cache) DeleteSession(ctx context.Context, id uuid.UUID) error {
	err := c.SessionStore.DeleteSession(ctx, id)
	c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthSessionDeleted, SessionID: id})
	return err
}

// CreateAPIKey implements gateway.KeyStore.
func (c *Cache) CreateAPIKey(ctx context.Context, k gateway.APIKey, hash gateway.KeyHash) (gateway.APIKey, error) {
	out, err := c.KeyStore.CreateAPIKey(ctx, k, hash)
	if err == nil {
		c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthKeyCreated})
	}
	return out, err
}

// RevokeAPIKey implements gateway.KeyStore and forgets the key (and the
// session keys it owns) at once.
func (c *Cache) RevokeAPIKey(ctx context.Context, id string) error {
	err := c.KeyStore.RevokeAPIKey(ctx, id)
	c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthKeyChanged, KeyID: id})
	return err
}

// AuthChanged implements gateway.AuthChangeSink.
func (c *Cache) AuthChanged(ch gateway.AuthChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.stats.Invalidations++
	switch ch.Kind {
	case gateway.AuthKeyCreated:
		c.negative.clear()
	case gateway.AuthKeyChanged:
		c.keyGen = c.gen
		c.negative.clear() // e.g. an expired key given a later expiry
		for h := range c.byKeyID[ch.KeyID] {
			c.dropPrincipal(h)
		}
		delete(c.byKeyID, ch.KeyID)
	case gateway.AuthSessionKeyChanged:
		c.keyGen = c.gen
		c.negative.clear()
		if h, ok := c.bySession[ch.SessionID]; ok {
			c.dropPrincipal(h)
		}
	case gateway.AuthSessionChanged:
		c.sessInval[ch.SessionID] = c.gen
		delete(c.sessions, ch.SessionID)
	case gateway.AuthSessionDeleted:
		c.keyGen = c.gen
		c.sessInval[ch.SessionID] = c.gen
		delete(c.sessions, ch.SessionID)
		if h, ok := c.bySession[ch.SessionID]; ok {
			c.dropPrincipal(h)
		}
	default:
		c.flushLocked()
	}
	if len(c.sessInval) > c.opts.MaxEntries {
		c.flushLocked()
	}
}

// dropPrincipal forgets hash; c.mu held.
func (c *Cache) dropPrincipal(h gateway.KeyHash) {
	e, ok := c.principals[h]
	if !ok {
		return
	}
	delete(c.principals, h)
	if e.p.Kind == gateway.KindSession && c.bySession[e.p.SessionID] == h {
		delete(c.bySession, e.p.SessionID)
	}
}

// flushLocked forgets everything; c.mu held.
func (c *Cache) flushLocked() {
	c.gen++
	c.keyGen, c.flushGen = c.gen, c.gen
	c.stats.Flushes++
	c.reset()
}

// AuthFeedUp implements gateway.AuthChangeSink: start over empty and serve
// from memory.
func (c *Cache) AuthFeedUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	c.live = true
}

// AuthFeedDown implements gateway.AuthChangeSink: serve nothing from memory
// until the feed is up again.
func (c *Cache) AuthFeedDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = false
	c.flushLocked()
}

// Status returns next wrapped so that a node's own status writes drop the
// session from the cache as soon as they are committed (the change
// notification does the same on the other nodes).
func (c *Cache) Status(next gateway.SessionStatusStore) gateway.SessionStatusStore {
	return &statusStore{c: c, next: next}
}

type statusStore struct {
	c    *Cache
	next gateway.SessionStatusStore
}

func (s *statusStore) UpdateStatus(ctx context.Context, id uuid.UUID, u gateway.StatusUpdate) error {
	err := s.next.UpdateStatus(ctx, id, u)
	s.c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthSessionChanged, SessionID: id})
	return err
}

func (s *statusStore) TouchLastSeen(ctx context.Context, id uuid.UUID, at time.Time) error {
	err := s.next.TouchLastSeen(ctx, id, at)
	s.c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthSessionChanged, SessionID: id})
	return err
}

// lru is a bounded set of key hashes with the time each was added, the
// least recently used dropped first.
type lru struct {
	max   int
	order *list.List // front: most recent; values are *lruItem
	items map[gateway.KeyHash]*list.Element
}

type lruItem struct {
	h  gateway.KeyHash
	at time.Time
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[gateway.KeyHash]*list.Element{}}
}

func (l *lru) get(h gateway.KeyHash) (time.Time, bool) {
	e, ok := l.items[h]
	if !ok {
		return time.Time{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruItem).at, true
}

func (l *lru) put(h gateway.KeyHash, at time.Time) {
	if e, ok := l.items[h]; ok {
		e.Value.(*lruItem).at = at
		l.order.MoveToFront(e)
		return
	}
	l.items[h] = l.order.PushFront(&lruItem{h: h, at: at})
	for l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*lruItem).h)
	}
}

func (l *lru) remove(h gateway.KeyHash) {
	if e, ok := l.items[h]; ok {
		l.order.Remove(e)
		delete(l.items, h)
	}
}

func (l *lru) clear() {
	l.order.Init()
	clear(l.items)
}
