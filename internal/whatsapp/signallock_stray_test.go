package whatsapp

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/store"
)

// memSessions is an in-memory store.SessionStore for the lock's own test.
// Methods the test does not call are the nil embedded interface's.
type memSessions struct {
	store.SessionStore
	mu   sync.Mutex
	recs map[string][]byte
}

func (m *memSessions) GetSession(_ context.Context, a string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[a], nil
}

func (m *memSessions) HasSession(_ context.Context, a string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.recs[a]
	return ok, nil
}

func (m *memSessions) GetManySessions(_ context.Context, as []string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for _, a := range as {
		out[a] = m.recs[a]
	}
	return out, nil
}

func (m *memSessions) PutSession(_ context.Context, a string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[a] = b
	return nil
}

func (m *memSessions) PutManySessions(_ context.Context, all map[string][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, b := range all {
		m.recs[a] = b
	}
	return nil
}

// TestStrayLoadHoldsSignalLock: a load of a Signal record outside a send's
// lease and the decryption transaction (whatsmeow answering a retry
// receipt) holds the session's signal lock until its store, so a send or a
// decryption cannot interleave with its read-modify-write; a load whose
// store never comes gives the lock back after strayHold; loads of a send
// or of the decryption transaction leave it alone.
func TestStrayLoadHoldsSignalLock(t *testing.T) {
	sess := &Session{}
	gs := &guardedStore{g: &dbGuard{s: sess}}
	gs.stores.Store(&innerStores{SessionStore: &memSessions{recs: map[string][]byte{}}})
	ctx := context.Background()
	locked := func() bool {
		if sess.signalMu.TryLock() {
			sess.signalMu.Unlock()
			return false
		}
		return true
	}

	// The retry's shape: load, then store.
	if _, err := gs.GetSession(ctx, "peer.0"); err != nil {
		t.Fatal(err)
	}
	if !locked() {
		t.Fatal("a stray load did not take the signal lock")
	}
	// A send waits for it.
	sendIn := make(chan struct{})
	go func() {
		lctx, release := withSignalLease(ctx)
		defer release()
		_, _ = gs.GetManySessions(lctx, []string{"peer.0"})
		close(sendIn)
		_ = gs.PutManySessions(lctx, map[string][]byte{"peer.0": []byte("send")})
	}()
	select {
	case <-sendIn:
		t.Fatal("a send's prefetch ran during a stray load-store")
	case <-time.After(100 * time.Millisecond):
	}
	if err := gs.PutSession(ctx, "peer.0", []byte("retry")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sendIn:
	case <-time.After(5 * time.Second):
		t.Fatal("the stray store did not release the lock for the send")
	}

	// Loads inside the decryption transaction and a send's lease do not
	// take it again (they hold it already).
	txnCtx := context.WithValue(ctx, decryptionTxnKey{}, true)
	waitUnlocked(t, locked)
	if _, err := gs.GetSession(txnCtx, "peer.0"); err != nil {
		t.Fatal(err)
	}
	if err := gs.PutSession(txnCtx, "peer.0", []byte("txn")); err != nil {
		t.Fatal(err)
	}
	if locked() {
		t.Fatal("a load in the decryption transaction took the lock")
	}

	// A stray load without its store: the lock comes back by itself.
	if _, err := gs.GetSession(ctx, "peer.1"); err != nil {
		t.Fatal(err)
	}
	if !locked() {
		t.Fatal("a stray load did not take the signal lock")
	}
	waitUnlocked(t, locked)
	// A late store after that must not release someone else's hold.
	sess.signalMu.Lock()
	if err := gs.PutSession(ctx, "peer.1", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if !locked() {
		t.Fatal("a late stray store released a lock it did not hold")
	}
	sess.signalMu.Unlock()
}

func waitUnlocked(t *testing.T, locked func() bool) {
	t.Helper()
	deadline := time.Now().Add(strayHold + 3*time.Second)
	for locked() {
		if time.Now().After(deadline) {
			t.Fatal("the signal lock was never given back")
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a lock's state
	}
}
