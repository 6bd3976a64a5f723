package whatsapp

import (
	"context"
	"sync"
	"time"
)

// The signal lock (issue 14: the soak's lost messages).
//
// whatsmeow reads a peer's Signal session record, ratchets it and writes
// it back in two places that run concurrently:
//
//   - a send (SendMessage, on the caller's goroutine) prefetches the
//     records of every recipient device (Sessions.GetManySessions),
//     encrypts, and writes the advanced records back
//     (Sessions.PutManySessions) before the stanza goes out;
//   - the decryption of an incoming message (on the client's handler
//     goroutine) loads, decrypts and stores the same record inside
//     EventBuffer.DoDecryptionTxn.
//
// whatsmeow serialises sends among themselves (its messageSendLock) but
// not with decryptions, and the SQL store does plain reads and upserts, so
// the later write wins. When a contact writes while the session writes to
// it, the decryption's copy overwrites the send's advanced sending chain
// and the next send reuses a message key the contact has already used: the
// contact cannot decrypt it ("received message with old counter") although
// the server acked it, so the API answered 200 and the message never
// arrived. The mirror case (the send's copy overwriting a ratchet step of
// the decryption) loses the receiving chain, and the contact's next
// messages fail to decrypt on the gateway. The soak of stop 20 lost 17
// outbound messages this way (and about 230 at 100 sessions), with or
// without an injected fault; TestSendsWhileReceiving reproduces it without
// any.
//
// Without changing whatsmeow, the session's stores make the two critical
// sections mutually exclusive: DoDecryptionTxn holds Session.signalMu for
// the whole decryption transaction, and a send made through sendOp holds
// it from its first session prefetch until its records are written (or
// SendMessage returns, whichever is first). The lock is per session (one
// device, one set of records) and is never held across the wait for the
// server's ack: PutManySessions releases it before the stanza is sent.
//
// A third writer runs outside both: whatsmeow answers a retry receipt on
// a goroutine of its own (tryHandleRetryReceipt), and each of its two
// steps, processing the requester's prekey bundle and encrypting the
// message again, loads the peer's record (Sessions.GetSession) and stores
// it (Sessions.PutSession) with neither a send's lease nor the
// decryption transaction in its context. Such a stray load takes the lock
// until the next stray store, so the retry's read-modify-write cannot
// interleave with a send or a decryption. A stray load whose store never
// comes (an error between the two) holds it for strayHold at most.

// signalLease is a send's claim on the signal lock, carried in its context.
type signalLease struct {
	mu   sync.Mutex
	held *sync.Mutex // the session's signalMu while held
}

type signalLeaseKey struct{}

// withSignalLease marks ctx as a send's, and returns the function that
// releases the lock if the send still holds it (call it when SendMessage
// returns).
func withSignalLease(ctx context.Context) (context.Context, func()) {
	l := &signalLease{}
	return context.WithValue(ctx, signalLeaseKey{}, l), l.release
}

func leaseOf(ctx context.Context) *signalLease {
	l, _ := ctx.Value(signalLeaseKey{}).(*signalLease)
	return l
}

// acquire takes mu for the lease unless it holds it already.
func (l *signalLease) acquire(mu *sync.Mutex) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		mu.Lock()
		l.held = mu
	}
}

func (l *signalLease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != nil {
		l.held.Unlock()
		l.held = nil
	}
}

// signalMu is the lock of the session whose stores these are.
func (s *guardedStore) signalMu() *sync.Mutex { return &s.g.s.signalMu }

// GetManySessions implements store.SessionStore; a send's prefetch takes
// the signal lock first.
func (s *guardedStore) GetManySessions(ctx context.Context, addresses []string) (map[string][]byte, error) {
	if l := leaseOf(ctx); l != nil {
		l.acquire(s.signalMu())
	}
	return s.guardGetManySessions(ctx, addresses)
}

// PutManySessions implements store.SessionStore; a send releases the
// signal lock once its records are written.
func (s *guardedStore) PutManySessions(ctx context.Context, sessions map[string][]byte) error {
	err := s.guardPutManySessions(ctx, sessions)
	if l := leaseOf(ctx); l != nil {
		l.release()
	}
	return err
}

// DoDecryptionTxn implements store.EventBuffer under the signal lock.
// The transaction's context is marked, so its own loads and stores do not
// take the lock a second time.
func (s *guardedStore) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	mu := s.signalMu()
	mu.Lock()
	defer mu.Unlock()
	return s.guardDoDecryptionTxn(ctx, func(ctx context.Context) error {
		return fn(context.WithValue(ctx, decryptionTxnKey{}, true))
	})
}

type decryptionTxnKey struct{}

// strayHold bounds how long a stray load holds the signal lock without its
// store. Loading, ratcheting and storing one record takes microseconds.
const strayHold = 2 * time.Second

// stray reports whether ctx is neither a send's (with its lease) nor the
// decryption transaction's.
func stray(ctx context.Context) bool {
	return leaseOf(ctx) == nil && ctx.Value(decryptionTxnKey{}) == nil
}

// GetSession implements store.SessionStore; a stray load takes the signal
// lock until the next stray store.
func (s *guardedStore) GetSession(ctx context.Context, address string) ([]byte, error) {
	if stray(ctx) {
		s.g.s.acquireStray()
	}
	return s.guardGetSession(ctx, address)
}

// PutSession implements store.SessionStore; a stray store releases the
// lock a stray load took.
func (s *guardedStore) PutSession(ctx context.Context, address string, session []byte) error {
	err := s.guardPutSession(ctx, address, session)
	if stray(ctx) {
		s.g.s.releaseStray()
	}
	return err
}

// acquireStray takes the signal lock for a stray load, for strayHold at
// most.
func (s *Session) acquireStray() {
	l := &signalLease{}
	l.acquire(&s.signalMu)
	s.strayLease.Store(l)
	time.AfterFunc(strayHold, func() {
		if s.strayLease.CompareAndSwap(l, nil) {
			l.release()
		}
	})
}

// releaseStray gives back the lock a stray load took, if it is still held.
func (s *Session) releaseStray() {
	if l := s.strayLease.Swap(nil); l != nil {
		l.release()
	}
}
