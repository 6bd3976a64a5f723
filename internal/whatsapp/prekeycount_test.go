package whatsapp_test

import (
	"context"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
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
