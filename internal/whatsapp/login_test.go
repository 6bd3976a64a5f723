package whatsapp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// TestLoginUploadsPreKeysOnlyWhenFew: after every login whatsmeow asks the
// store how many uploaded prekeys it has (wagate answers with a count that
// stops at whatsmeow.MinPreKeyCount, prekeycount.go) and uploads a new
// batch when there are fewer. A linked device with its 812 keys uploads
// nothing when it reconnects; one left with 3 uploads a batch of 50.
func TestLoginUploadsPreKeysOnlyWhenFew(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	id := f.createSession("prekeys")
	f.linkQR(m, id, "15550004242")
	jid, err := f.devices.DeviceJID(ctx, id)
	if err != nil || jid == "" {
		t.Fatalf("device jid %q, %v", jid, err)
	}
	uploaded := func() int {
		t.Helper()
		var n int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_pre_keys WHERE jid = $1 AND uploaded`, jid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	all := func() int {
		t.Helper()
		var n int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM whatsmeow_pre_keys WHERE jid = $1`, jid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	reconnect := func() {
		t.Helper()
		if err := m.Restart(ctx, id); err != nil {
			t.Fatal(err)
		}
		// Connected is dispatched after the prekey check and any upload.
		waitState(t, m, id, gateway.StateConnected)
	}
	if n := uploaded(); n != 812 {
		t.Fatalf("uploaded prekeys after linking: %d, want 812", n)
	}
	reconnect()
	if n, a := uploaded(), all(); n != 812 || a != 812 {
		t.Fatalf("after a reconnect with 812 keys: %d uploaded of %d, want 812 of 812 (no upload)", n, a)
	}
	if _, err := f.pool.Exec(ctx, `DELETE FROM whatsmeow_pre_keys WHERE jid = $1 AND key_id NOT IN (
		SELECT key_id FROM whatsmeow_pre_keys WHERE jid = $1 ORDER BY key_id LIMIT 3)`, jid); err != nil {
		t.Fatal(err)
	}
	reconnect()
	if n := uploaded(); n != 53 {
		t.Fatalf("after a reconnect with 3 keys: %d uploaded, want 3 + a batch of 50", n)
	}
}

// TestLoginPrunesExpiredPrivacyTokens: after its login every client has
// whatsmeow delete its device's expired privacy tokens (wagate does it for
// all devices logging in at once in one DELETE, tokenprune.go): the
// expired tokens of each device are gone, the current ones are kept.
func TestLoginPrunesExpiredPrivacyTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	var ids []uuid.UUID
	for i := range 3 {
		id := f.createSession(fmt.Sprintf("tokens-%d", i))
		f.linkQR(m, id, fmt.Sprintf("1555000430%d", i))
		jid, err := f.devices.DeviceJID(ctx, id)
		if err != nil || jid == "" {
			t.Fatalf("device jid %q, %v", jid, err)
		}
		now := time.Now().Unix()
		for _, tok := range []struct {
			their string
			at    int64
		}{{"15550009001@s.whatsapp.net", 1000}, {"15550009002@s.whatsapp.net", now - 60*24*3600}, {"15550009003@s.whatsapp.net", now}} {
			if _, err := f.pool.Exec(ctx, `INSERT INTO whatsmeow_privacy_tokens (our_jid, their_jid, token, timestamp) VALUES ($1, $2, '\x01', $3)`, jid, tok.their, tok.at); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Restart(ctx, id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eventually(t, "expired tokens pruned", func() bool {
		var expired, current int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE timestamp < $1), count(*) FILTER (WHERE timestamp >= $1) FROM whatsmeow_privacy_tokens`,
			time.Now().Unix()-3600).Scan(&expired, &current); err != nil {
			t.Fatal(err)
		}
		return expired == 0 && current == 3
	})
}

// slowLeases holds every Claim until release is closed.
type slowLeases struct {
	claiming chan struct{}
	release  chan struct{}
}

func (l *slowLeases) Claim(ctx context.Context, _ uuid.UUID) (bool, error) {
	l.claiming <- struct{}{}
	select {
	case <-l.release:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (l *slowLeases) Release(context.Context, uuid.UUID) error { return nil }

// TestAdoptedSessionRetriesWhileLoading: a linked session this node is
// claiming and loading (an adoption after a failover, a handover) answers
// "still connecting, retry" (503), never "not authenticated, scan the QR
// code" (409): whether it is linked is not known until its device is
// loaded.
func TestAdoptedSessionRetriesWhileLoading(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.createSession("adopted")
	m := f.manager()
	f.linkQR(m, id, "15550004343")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	leases := &slowLeases{claiming: make(chan struct{}, 1), release: make(chan struct{})}
	m2 := f.manager(func(o *whatsapp.Options) { o.Leases = leases })
	var once sync.Once
	free := func() { once.Do(func() { close(leases.release) }) }
	t.Cleanup(free) // before m2 closes (cleanups run last first), even on failure
	started := make(chan error, 1)
	go func() { started <- m2.Start(ctx, id) }()
	<-leases.claiming
	if err := m2.Ready(id); gateway.ErrorCode(err) != gateway.CodeUnavailable {
		t.Fatalf("while the session is claimed and loaded: %v, want still connecting (unavailable)", err)
	}
	free()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	waitState(t, m2, id, gateway.StateConnected)
	if err := m2.Ready(id); err != nil {
		t.Fatalf("once connected: %v", err)
	}
}
