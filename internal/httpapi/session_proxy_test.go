package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestSessionProxyHTTP: `proxy` at create and through PATCH, at the HTTP
// level: a bad URL is a 400 naming the problem without echoing the
// password and creates (or changes) nothing; a good one is stored (the
// column) and answered masked; "" removes it.
func TestSessionProxyHTTP(t *testing.T) {
	t.Parallel()
	pool := testkit.NewDB(t)
	settingsStore := postgres.NewSessionSettings(pool)
	ts := testkit.NewServer(t, testkit.Options{Pool: pool, Deps: func(d *httpapi.Deps) {
		d.SessionSettings = sessions.NewSettings(settingsStore, nil)
	}})
	ctx := context.Background()
	str := func(s string) *string { return &s }
	countSessions := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	storedProxy := func(t *testing.T, id any) *string {
		t.Helper()
		var p *string
		err := pool.QueryRow(ctx, `SELECT proxy_url FROM session_settings WHERE session_id = $1`, id).Scan(&p)
		if err != nil && !strings.Contains(err.Error(), "no rows") {
			t.Fatal(err)
		}
		return p
	}

	bad := []struct{ proxy, want string }{
		{"ftp://user:hunter2@10.0.0.5:21", "proxy"},
		{"http://user:hunter2@10.0.0.5", "port"},
		{"socks5://user:hunter2@10.0.0.5:1080/path", "path"},
		{"not a url", "proxy"},
	}
	for _, c := range bad {
		t.Run("CreateBad/"+c.proxy, func(t *testing.T) {
			before := countSessions()
			r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("proxybad"), Proxy: str(c.proxy)})
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode() != http.StatusBadRequest || r.JSON400 == nil {
				t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
			}
			if !strings.Contains(r.JSON400.Error, c.want) {
				t.Errorf("error %q does not name %q", r.JSON400.Error, c.want)
			}
			if strings.Contains(string(r.Body), "hunter2") {
				t.Errorf("the password is echoed: %s", r.Body)
			}
			if after := countSessions(); after != before {
				t.Errorf("sessions %d -> %d: a session was created", before, after)
			}
		})
	}

	r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("proxygood"), Proxy: str("socks5://alice:hunter2@10.0.0.5:1080")})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
	}
	if p := r.JSON201.Settings.Proxy; p == nil || *p != "socks5://alice:***@10.0.0.5:1080" {
		t.Errorf("settings.proxy = %v, want the masked URL", p)
	}
	if strings.Contains(string(r.Body), "hunter2") {
		t.Errorf("the password is in the create answer: %s", r.Body)
	}
	id := r.JSON201.Session.Id
	if p := storedProxy(t, id); p == nil || *p != "socks5://alice:hunter2@10.0.0.5:1080" {
		t.Errorf("stored proxy_url = %v, want the full URL", p)
	}
	// The runtime starts after the proxy is stored: the settings store
	// (what the WhatsApp adapter reads before its first dial) has it.
	if st, err := settingsStore.GetSettings(ctx, id); err != nil || st.Proxy != "socks5://alice:hunter2@10.0.0.5:1080" {
		t.Errorf("GetSettings = %+v, %v", st, err)
	}

	t.Run("CreateWithoutProxy", func(t *testing.T) {
		r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("proxynone")})
		if err != nil || r.JSON201 == nil {
			t.Fatalf("%v: %d %s", err, r.StatusCode(), r.Body)
		}
		if r.JSON201.Settings.Proxy != nil || r.JSON201.Settings.RejectCalls {
			t.Errorf("settings = %+v", r.JSON201.Settings)
		}
		if p := storedProxy(t, r.JSON201.Session.Id); p != nil {
			t.Errorf("stored proxy_url = %q", *p)
		}
	})
	t.Run("PatchBadUnchanged", func(t *testing.T) {
		pr, err := ts.Admin().UpdateSessionSettingsWithResponse(ctx, id, client.UpdateSessionSettingsJSONRequestBody{Proxy: str("http://bob:s3cret@proxy.example")})
		if err != nil {
			t.Fatal(err)
		}
		if pr.StatusCode() != http.StatusBadRequest || pr.JSON400 == nil || !strings.Contains(pr.JSON400.Error, "port") {
			t.Fatalf("status %d: %s", pr.StatusCode(), pr.Body)
		}
		if strings.Contains(string(pr.Body), "s3cret") {
			t.Errorf("the password is echoed: %s", pr.Body)
		}
		if p := storedProxy(t, id); p == nil || *p != "socks5://alice:hunter2@10.0.0.5:1080" {
			t.Errorf("stored proxy_url = %v after a refused PATCH", p)
		}
	})
	t.Run("PatchGoodThenRemove", func(t *testing.T) {
		pr, err := ts.Admin().UpdateSessionSettingsWithResponse(ctx, id, client.UpdateSessionSettingsJSONRequestBody{Proxy: str("http://bob:s3cret@127.0.0.1:3128")})
		if err != nil || pr.JSON200 == nil {
			t.Fatalf("%v: %d %s", err, pr.StatusCode(), pr.Body)
		}
		if p := pr.JSON200.Settings.Proxy; p == nil || *p != "http://bob:***@127.0.0.1:3128" {
			t.Errorf("settings.proxy = %v", p)
		}
		if strings.Contains(string(pr.Body), "s3cret") {
			t.Errorf("the password is in the answer: %s", pr.Body)
		}
		pr, err = ts.Admin().UpdateSessionSettingsWithResponse(ctx, id, client.UpdateSessionSettingsJSONRequestBody{Proxy: str("")})
		if err != nil || pr.JSON200 == nil {
			t.Fatalf("%v: %d %s", err, pr.StatusCode(), pr.Body)
		}
		if pr.JSON200.Settings.Proxy != nil {
			t.Errorf("settings.proxy = %q after removal", *pr.JSON200.Settings.Proxy)
		}
		if p := storedProxy(t, id); p != nil {
			t.Errorf("stored proxy_url = %q after removal", *p)
		}
	})
}
