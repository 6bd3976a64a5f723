package postgres_test

import (
	"context"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestSessionSettingsProxyColumn: session_settings.proxy_url (0095) is
// written at creation in the session's transaction, kept by patches that
// leave it out, replaced, and removed by "".
func TestSessionSettingsProxyColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	st := postgres.NewSessionSettings(pool)
	const first = "socks5://u:p@10.0.0.5:1080"
	s, err := store.CreateSession(ctx, gateway.NewSession{Name: "proxy-col", KeyHash: gateway.HashKey("wask_x"), ProxyURL: first})
	if err != nil {
		t.Fatal(err)
	}
	get := func(want string) {
		t.Helper()
		got, err := st.GetSettings(ctx, s.ID)
		if err != nil || got.Proxy != want {
			t.Fatalf("GetSettings = %+v, %v; want proxy %q", got, err, want)
		}
	}
	get(first)
	yes := true
	if _, err := st.UpdateSettings(ctx, s.ID, gateway.SessionSettingsPatch{RejectCalls: &yes}); err != nil {
		t.Fatal(err)
	}
	get(first) // kept
	second := "http://127.0.0.1:3128"
	if got, err := st.UpdateSettings(ctx, s.ID, gateway.SessionSettingsPatch{Proxy: &second}); err != nil || got.Proxy != second || !got.RejectCalls {
		t.Fatalf("UpdateSettings = %+v, %v", got, err)
	}
	get(second)
	empty := ""
	if _, err := st.UpdateSettings(ctx, s.ID, gateway.SessionSettingsPatch{Proxy: &empty}); err != nil {
		t.Fatal(err)
	}
	get("")
	var isNull bool
	if err := pool.QueryRow(ctx, `SELECT proxy_url IS NULL FROM session_settings WHERE session_id = $1`, s.ID).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("proxy_url IS NULL = %v, %v", isNull, err)
	}
	// A session created without a proxy has no settings row until a patch.
	s2, err := store.CreateSession(ctx, gateway.NewSession{Name: "proxy-none", KeyHash: gateway.HashKey("wask_y")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetSettings(ctx, s2.ID); err != nil || got.Proxy != "" {
		t.Fatalf("GetSettings = %+v, %v", got, err)
	}
}
