package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

var sessionKeyPattern = regexp.MustCompile(`^wask_[0-9a-f]{48}$`)

func uniq(prefix string) string { return prefix + "-" + uuid.NewString()[:8] }

func TestCreateSession(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	ctx := context.Background()
	name := uniq("create")
	hook := "https://example.com/hook"
	meta := client.Metadata{"userId": "123", "plan": "premium"}
	r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: name, WebhookUrl: &hook, Metadata: &meta})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
	}
	got := r.JSON201
	if !sessionKeyPattern.MatchString(got.ApiKey) {
		t.Errorf("apiKey %q does not match %s", got.ApiKey, sessionKeyPattern)
	}
	if got.Warning != "IMPORTANT: Save this API key securely! It will NOT be shown again." {
		t.Errorf("warning = %q", got.Warning)
	}
	if got.Session.Name != name || got.Session.State != client.Starting || got.Session.WebhookUrl == nil || *got.Session.WebhookUrl != hook {
		t.Errorf("session = %+v", got.Session)
	}
	if got.Session.Metadata == nil || (*got.Session.Metadata)["plan"] != "premium" {
		t.Errorf("metadata = %v", got.Session.Metadata)
	}
	if calls := ts.Runtime.Calls(); !slices.Contains(calls, "Start "+got.Session.Id.String()) {
		t.Errorf("runtime calls = %v, want Start after create", calls)
	}
	// Only the hash is stored.
	var stored []byte
	if err := ts.Pool.QueryRow(ctx, `SELECT key_hash FROM session_keys WHERE session_id = $1`, got.Session.Id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if h := gateway.HashKey(got.ApiKey); string(stored) != string(h[:]) {
		t.Error("stored key hash is not the SHA-256 of the key")
	}

	t.Run("ErrDuplicateName", func(t *testing.T) {
		r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode() != http.StatusConflict || r.JSON409 == nil || r.JSON409.Error != "Session name already exists" {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("StartFailureStillCreated", func(t *testing.T) {
		ts.Runtime.Set(func(f *testkit.FakeRuntime) {
			f.StartFunc = func(context.Context, uuid.UUID) error { return errors.New("boom") }
		})
		defer ts.Runtime.Set(func(f *testkit.FakeRuntime) { f.StartFunc = nil })
		r, err := ts.Admin().CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("startfail")})
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON201 == nil {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	ctx := context.Background()
	id, key := ts.CreateSession(uniq("life"))
	own := ts.Client(key)

	t.Run("Get", func(t *testing.T) {
		for _, c := range []*client.ClientWithResponses{own, ts.Admin()} {
			r, err := c.GetSessionWithResponse(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON200 == nil || r.JSON200.Session.Id != id || r.JSON200.Session.State != client.Starting {
				t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
			}
		}
	})
	t.Run("Status", func(t *testing.T) {
		r, err := own.GetSessionStatusWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON200 == nil || r.JSON200.Session.Id != id {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("List", func(t *testing.T) {
		r, err := ts.Admin().ListSessionsWithResponse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON200 == nil || !slices.ContainsFunc(r.JSON200.Sessions, func(s client.SessionStatus) bool { return s.Id == id }) {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("QRNotAvailable", func(t *testing.T) {
		r, err := own.GetSessionQRWithResponse(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON409 == nil || r.JSON409.Error != "QR code not available yet. Session state: starting" {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("PairCode", func(t *testing.T) {
		r, err := own.RequestPairCodeWithResponse(ctx, id, client.RequestPairCodeJSONRequestBody{Phone: "919988066776"})
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON200 == nil || r.JSON200.Code != "ABCD-EFGH" {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("Actions", func(t *testing.T) {
		check := func(name string, status int, body []byte, msg string, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK {
				t.Fatalf("%s: status %d: %s", name, status, body)
			}
		}
		s, err := own.StartSessionWithResponse(ctx, id)
		check("start", s.StatusCode(), s.Body, httpapi.MsgSessionStarted, err)
		if s.JSON200.Message != httpapi.MsgSessionStarted {
			t.Errorf("start message %q", s.JSON200.Message)
		}
		st, err := own.StopSessionWithResponse(ctx, id)
		check("stop", st.StatusCode(), st.Body, httpapi.MsgSessionStopped, err)
		rs, err := own.RestartSessionWithResponse(ctx, id)
		check("restart", rs.StatusCode(), rs.Body, httpapi.MsgSessionRestarted, err)
		lo, err := own.LogoutSessionWithResponse(ctx, id)
		check("logout", lo.StatusCode(), lo.Body, httpapi.MsgSessionLoggedOut, err)
	})
	t.Run("RuntimeErrorMapped", func(t *testing.T) {
		ts.Runtime.Set(func(f *testkit.FakeRuntime) {
			f.StopFunc = func(context.Context, uuid.UUID) error {
				return gateway.E(gateway.CodeUnavailable, gateway.MsgStillConnecting)
			}
		})
		defer ts.Runtime.Set(func(f *testkit.FakeRuntime) { f.StopFunc = nil })
		r, err := own.StopSessionWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON503 == nil || r.JSON503.Error != gateway.MsgStillConnecting {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("InternalErrorHidden", func(t *testing.T) {
		ts.Runtime.Set(func(f *testkit.FakeRuntime) {
			f.LogoutFunc = func(context.Context, uuid.UUID) error { return errors.New("secret detail") }
		})
		defer ts.Runtime.Set(func(f *testkit.FakeRuntime) { f.LogoutFunc = nil })
		// Raw client without the contract transport's 500 check.
		hc := &http.Client{Transport: &testkit.ContractTransport{TB: t, AllowServerErrors: true}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/sessions/"+id.String()+"/logout", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body [512]byte
		n, _ := resp.Body.Read(body[:])
		if resp.StatusCode != 500 || string(body[:n]) != testkit.ErrorJSON("Internal server error")+"\n" {
			t.Fatalf("status %d: %q", resp.StatusCode, body[:n])
		}
	})
	t.Run("Delete", func(t *testing.T) {
		r, err := own.DeleteSessionWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON200 == nil || r.JSON200.Message != "Session deleted successfully" {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
		if calls := ts.Runtime.Calls(); !slices.Contains(calls, "Remove "+id.String()) {
			t.Errorf("runtime calls = %v, want Remove", calls)
		}
		g, err := ts.Admin().GetSessionWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if g.JSON404 == nil || g.JSON404.Error != "Session not found" {
			t.Fatalf("after delete: status %d: %s", g.StatusCode(), g.Body)
		}
		// The key died with its session.
		g2, err := own.GetSessionWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if g2.JSON401 == nil || g2.JSON401.Error != "Invalid API key" {
			t.Fatalf("old key: status %d: %s", g2.StatusCode(), g2.Body)
		}
	})
}

// TestNopRuntime covers the runtime wired until WhatsApp lands.
func TestNopRuntime(t *testing.T) {
	t.Parallel()
	pool := testkit.SharedDB(t)
	ts := testkit.NewServer(t, testkit.Options{Pool: pool, Deps: func(d *httpapi.Deps) {
		d.Runtime = httpapi.NopRuntime{Sessions: d.Sessions}
	}})
	id, key := ts.CreateSession(uniq("nop"))
	ctx := context.Background()
	c := ts.Client(key)
	st, err := c.StartSessionWithResponse(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.JSON501 == nil || st.JSON501.Error != "Not implemented yet" {
		t.Fatalf("start: status %d: %s", st.StatusCode(), st.Body)
	}
	qr, err := c.GetSessionQRWithResponse(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if qr.JSON409 == nil || qr.JSON409.Error != "QR code not available yet. Session state: starting" {
		t.Fatalf("qr: status %d: %s", qr.StatusCode(), qr.Body)
	}
	del, err := c.DeleteSessionWithResponse(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if del.JSON200 == nil {
		t.Fatalf("delete: status %d: %s", del.StatusCode(), del.Body)
	}
}

func TestQRPNG(t *testing.T) {
	t.Parallel()
	noQRLimit := httpapi.RateLimits{General: 1000, Messages: 1000, Sessions: 1000}
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &noQRLimit})
	ts.Runtime.Set(func(f *testkit.FakeRuntime) {
		f.QRFunc = func(context.Context, uuid.UUID) (string, error) { return "2@abc,def", nil }
	})
	id, key := ts.CreateSession(uniq("qr"))
	png := client.GetSessionQRParamsFormatPng
	r, err := ts.Client(key).GetSessionQRWithResponse(context.Background(), id, &client.GetSessionQRParams{Format: &png})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != 200 || r.HTTPResponse.Header.Get("Content-Type") != "image/png" || len(r.Body) < 8 || string(r.Body[1:4]) != "PNG" {
		t.Fatalf("status %d, content type %q", r.StatusCode(), r.HTTPResponse.Header.Get("Content-Type"))
	}

	// The Accept header chooses too; an explicit format wins over it.
	accept := func(v string) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error { req.Header.Set("Accept", v); return nil }
	}
	for _, tc := range []struct {
		accept string
		format *client.GetSessionQRParamsFormat
		png    bool
	}{
		{"image/png", nil, true},
		{"image/png;q=0.9, application/json", nil, true},
		{"application/json, image/png", nil, false},
		{"*/*", nil, false},
		{"image/png", ptrFormat(client.GetSessionQRParamsFormatText), false},
	} {
		r, err := ts.Client(key).GetSessionQRWithResponse(context.Background(), id, &client.GetSessionQRParams{Format: tc.format}, accept(tc.accept))
		if err != nil {
			t.Fatal(err)
		}
		gotPNG := r.HTTPResponse.Header.Get("Content-Type") == "image/png"
		if r.StatusCode() != 200 || gotPNG != tc.png {
			t.Errorf("Accept %q format %v: status %d, content type %q", tc.accept, tc.format, r.StatusCode(), r.HTTPResponse.Header.Get("Content-Type"))
		}
		if !tc.png && (r.JSON200 == nil || r.JSON200.Qr != "2@abc,def") {
			t.Errorf("Accept %q: JSON body %s", tc.accept, r.Body)
		}
	}
}

func ptrFormat(f client.GetSessionQRParamsFormat) *client.GetSessionQRParamsFormat { return &f }
