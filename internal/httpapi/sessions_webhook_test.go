package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// TestCreateSessionWebhookURLGuard: POST /sessions/create refuses a
// webhookUrl that resolves to a loopback, private or link-local address
// (400, nothing created) unless private receivers are allowed, with the
// webhook package's Guard as cmd/wagate wires it.
func TestCreateSessionWebhookURLGuard(t *testing.T) {
	t.Parallel()
	// Names resolve through a fixed table: no DNS in tests.
	hosts := map[string][]string{
		"hooks.example":      {"93.184.216.34"},
		"internal.example":   {"10.1.2.3"},
		"mixed.example":      {"93.184.216.34", "192.168.0.7"},
		"localhost":          {"127.0.0.1", "::1"},
		"metadata.example":   {"169.254.169.254"},
		"v6private.example":  {"fd00::1"},
		"unresolved.example": nil,
	}
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		ips, ok := hosts[host]
		if !ok || len(ips) == 0 {
			return nil, fmt.Errorf("no such host %s", host)
		}
		out := make([]net.IPAddr, len(ips))
		for i, ip := range ips {
			out[i] = net.IPAddr{IP: net.ParseIP(ip)}
		}
		return out, nil
	}
	server := func(allowPrivate bool) *testkit.Server {
		g := webhook.Guard{AllowPrivate: allowPrivate, LookupIPAddr: lookup}
		limits := httpapi.RateLimits{General: 1000, Messages: 30, Sessions: 0, QRSeconds: 5}
		return testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &limits,
			Sessions: sessions.Options{CheckWebhookURL: g.CheckURL}})
	}
	strict, lax := server(false), server(true)

	for _, tc := range []struct {
		url string
		// refused is the expected error text with the guard on; "" accepts.
		refused string
	}{
		{"https://hooks.example/wa", ""},
		{"http://93.184.216.34:8080/hook", ""},
		{"http://127.0.0.1:9000/hook", "Webhook URL refused: 127.0.0.1 is a loopback address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"http://[::1]/hook", "Webhook URL refused: ::1 is a loopback address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"http://localhost:3000/hook", "Webhook URL refused: localhost resolves to 127.0.0.1, a loopback address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"http://10.0.0.5/hook", "Webhook URL refused: 10.0.0.5 is a private address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"https://192.168.1.10/hook", "Webhook URL refused: 192.168.1.10 is a private address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"http://169.254.169.254/latest/meta-data", "Webhook URL refused: 169.254.169.254 is a link-local address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"http://[fe80::1]/hook", "Webhook URL refused: fe80::1 is a link-local address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"https://internal.example/hook", "Webhook URL refused: internal.example resolves to 10.1.2.3, a private address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"https://mixed.example/hook", "Webhook URL refused: mixed.example resolves to 192.168.0.7, a private address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"https://metadata.example/", "Webhook URL refused: metadata.example resolves to 169.254.169.254, a link-local address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
		{"https://v6private.example/", "Webhook URL refused: v6private.example resolves to fd00::1, a private address (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			name := uniq("hookguard")
			url := tc.url
			r, err := strict.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: name, WebhookUrl: &url})
			if err != nil {
				t.Fatal(err)
			}
			if tc.refused == "" {
				if r.StatusCode() != http.StatusCreated || r.JSON201 == nil || r.JSON201.Session.WebhookUrl == nil || *r.JSON201.Session.WebhookUrl != url {
					t.Fatalf("public receiver: status %d: %s", r.StatusCode(), r.Body)
				}
				return
			}
			if r.StatusCode() != http.StatusBadRequest || r.JSON400 == nil || r.JSON400.Error != tc.refused {
				t.Fatalf("status %d: %s\nwant 400 %q", r.StatusCode(), r.Body, tc.refused)
			}
			// Nothing was stored: the name is still free.
			var n int
			if err := strict.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE name = $1`, name).Scan(&n); err != nil || n != 0 {
				t.Fatalf("refused session stored: %d sessions named %s (%v)", n, name, err)
			}
			// WAGATE_WEBHOOK_ALLOW_PRIVATE=1 accepts it, as its first webhook.
			r, err = lax.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: name, WebhookUrl: &url})
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
				t.Fatalf("allowed private receiver: status %d: %s", r.StatusCode(), r.Body)
			}
			var hook string
			if err := lax.Pool.QueryRow(ctx, `SELECT url FROM webhooks WHERE session_id = $1 AND session_default`, r.JSON201.Session.Id).Scan(&hook); err != nil || hook != url {
				t.Fatalf("session webhook %q (%v), want %q", hook, err, url)
			}
		})
	}

	t.Run("Unresolvable", func(t *testing.T) {
		t.Parallel()
		url := "https://unresolved.example/hook"
		r, err := strict.Admin().CreateSessionWithResponse(context.Background(), client.CreateSessionJSONRequestBody{Name: uniq("hookguard"), WebhookUrl: &url})
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode() != http.StatusBadRequest || r.JSON400 == nil || !strings.Contains(r.JSON400.Error, "could not be resolved") {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
}
