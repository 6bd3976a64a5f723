package authcache_test

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/authcache"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// fakeKeys is a KeyStore that knows a fixed set of principals and counts
// lookups; block, when set, holds each lookup until it is closed.
type fakeKeys struct {
	gateway.KeyStore
	mu      sync.Mutex
	known   map[gateway.KeyHash]gateway.Principal
	lookups atomic.Int64
	block   chan struct{}
	entered chan struct{}
}

func (f *fakeKeys) LookupKey(_ context.Context, h gateway.KeyHash) (*gateway.Principal, error) {
	f.lookups.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.known[h]
	if !ok {
		return nil, gateway.E(gateway.CodeUnauthorized, gateway.MsgInvalidAPIKey)
	}
	return &p, nil
}

type fakeSessions struct {
	gateway.SessionStore
	gets atomic.Int64
}

func (f *fakeSessions) GetSession(_ context.Context, id uuid.UUID) (gateway.Session, error) {
	f.gets.Add(1)
	return gateway.Session{ID: id, State: gateway.StateConnected}, nil
}

func randomHash(t *testing.T) gateway.KeyHash {
	var h gateway.KeyHash
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestUnknownKeysAreBounded(t *testing.T) {
	t.Parallel()
	keys := &fakeKeys{known: map[gateway.KeyHash]gateway.Principal{}}
	c := authcache.New(keys, &fakeSessions{}, authcache.Options{
		NegativeSize: 50, MissLookupsPerSecond: 20, MissWait: time.Nanosecond,
	})
	c.AuthFeedUp()
	ctx := context.Background()
	start := time.Now()
	refused := 0
	for range 2000 {
		_, err := c.LookupKey(ctx, randomHash(t))
		switch gateway.ErrorCode(err) {
		case gateway.CodeUnauthorized:
		case gateway.CodeRateLimited:
			refused++
		default:
			t.Fatalf("unknown key: %v", err)
		}
	}
	elapsed := time.Since(start)
	// The bucket allows its burst (20) plus 20 per second elapsed.
	if max := 20 + int64(20*elapsed.Seconds()) + 1; keys.lookups.Load() > max {
		t.Errorf("%d store lookups of 2000 random keys in %s, want at most %d", keys.lookups.Load(), elapsed, max)
	}
	if refused == 0 {
		t.Error("no lookup was refused")
	}
	if s := c.Stats(); s.MissRefused != int64(refused) {
		t.Errorf("stats %+v, refused %d", s, refused)
	}

	// A repeated unknown key is answered from the negative cache.
	h := randomHash(t)
	time.Sleep(100 * time.Millisecond) // let the bucket refill a token
	if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
		t.Fatalf("first lookup: %v", err)
	}
	before := keys.lookups.Load()
	for range 100 {
		if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
			t.Fatalf("repeated lookup: %v", err)
		}
	}
	if n := keys.lookups.Load() - before; n != 0 {
		t.Errorf("repeated unknown key reached the store %d times", n)
	}
}

func TestKnownKeyFromMemoryAndTrialExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	expires := now.Add(time.Minute)
	h := randomHash(t)
	keys := &fakeKeys{known: map[gateway.KeyHash]gateway.Principal{
		h: {Kind: gateway.KindManaged, KeyID: "key_0123456789abcdef", ExpiresAt: &expires},
	}}
	c := authcache.New(keys, &fakeSessions{}, authcache.Options{TTL: time.Hour, Now: func() time.Time { return *clock.Load() }})
	ctx := context.Background()

	// Before the feed is up every lookup goes to the store.
	for range 3 {
		if _, err := c.LookupKey(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if n := keys.lookups.Load(); n != 3 {
		t.Fatalf("feed down: %d lookups, want 3", n)
	}
	c.AuthFeedUp()
	for range 10 {
		p, err := c.LookupKey(ctx, h)
		if err != nil || p.KeyID != "key_0123456789abcdef" {
			t.Fatalf("lookup: %v %v", p, err)
		}
	}
	if n := keys.lookups.Load(); n != 4 {
		t.Fatalf("feed up: %d lookups, want 4 (one load, then memory)", n)
	}
	later := expires.Add(time.Second)
	clock.Store(&later)
	if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
		t.Fatalf("expired trial key: %v", err)
	}
	if n := keys.lookups.Load(); n != 4 {
		t.Errorf("expiry needed a store lookup (%d)", n)
	}

	// Revocation elsewhere arrives as a change and drops the key.
	clock.Store(&now)
	keys.mu.Lock()
	delete(keys.known, h)
	keys.mu.Unlock()
	c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthKeyChanged, KeyID: "key_0123456789abcdef"})
	if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
		t.Fatalf("revoked key: %v", err)
	}
	// TTL: a remembered entry is loaded again once it is older than TTL.
	keys.mu.Lock()
	keys.known[h] = gateway.Principal{Kind: gateway.KindManaged, KeyID: "key_0123456789abcdef"}
	keys.mu.Unlock()
	if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
		t.Fatalf("negative entry within TTL: %v", err)
	}
	muchLater := now.Add(2 * time.Hour)
	clock.Store(&muchLater)
	if _, err := c.LookupKey(ctx, h); err != nil {
		t.Fatalf("after TTL: %v", err)
	}

	// Feed down: nothing from memory.
	c.AuthFeedDown()
	before := keys.lookups.Load()
	if _, err := c.LookupKey(ctx, h); err != nil {
		t.Fatal(err)
	}
	if keys.lookups.Load() != before+1 {
		t.Error("feed down: served from memory")
	}
}

// A load that started before a change must not put its (older) answer in
// the cache.
func TestLoadRacingAChangeIsNotKept(t *testing.T) {
	t.Parallel()
	h := randomHash(t)
	sid := uuid.New()
	keys := &fakeKeys{
		known:   map[gateway.KeyHash]gateway.Principal{h: {Kind: gateway.KindSession, KeyID: "session:" + sid.String(), SessionID: sid}},
		block:   make(chan struct{}),
		entered: make(chan struct{}, 1),
	}
	c := authcache.New(keys, &fakeSessions{}, authcache.Options{})
	c.AuthFeedUp()
	ctx := context.Background()
	done := make(chan error)
	go func() {
		_, err := c.LookupKey(ctx, h)
		done <- err
	}()
	<-keys.entered
	c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthSessionDeleted, SessionID: sid})
	close(keys.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	keys.entered = nil
	keys.mu.Lock()
	delete(keys.known, h)
	keys.mu.Unlock()
	if _, err := c.LookupKey(ctx, h); gateway.ErrorCode(err) != gateway.CodeUnauthorized {
		t.Fatalf("stale load was kept: %v", err)
	}
}

func TestSessionsFromMemory(t *testing.T) {
	t.Parallel()
	sessions := &fakeSessions{}
	c := authcache.New(&fakeKeys{}, sessions, authcache.Options{})
	c.AuthFeedUp()
	ctx := context.Background()
	id := uuid.New()
	for range 5 {
		if s, err := c.GetSession(ctx, id); err != nil || s.ID != id {
			t.Fatal(s, err)
		}
	}
	if n := sessions.gets.Load(); n != 1 {
		t.Fatalf("%d store reads, want 1", n)
	}
	c.AuthChanged(gateway.AuthChange{Kind: gateway.AuthSessionChanged, SessionID: id})
	if _, err := c.GetSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := sessions.gets.Load(); n != 2 {
		t.Fatalf("after a change: %d store reads, want 2", n)
	}
	if s := c.Stats(); s.SessionHits != 4 || s.SessionMisses != 2 {
		t.Errorf("stats %+v", s)
	}
}
