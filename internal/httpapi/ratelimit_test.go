package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func intp(n int) *int { return &n }

func assert429(t *testing.T, r testkit.Response, limit int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var body struct {
		Success    bool   `json:"success"`
		Error      string `json:"error"`
		RetryAfter int    `json:"retryAfter"`
	}
	r.JSON(t, &body)
	if body.RetryAfter < 1 {
		t.Fatalf("retryAfter = %d", body.RetryAfter)
	}
	n := strconv.Itoa(body.RetryAfter)
	want := `{"error":"Rate limit exceeded. Please wait ` + n + ` seconds before trying again.","retryAfter":` + n + `,"success":false}`
	if got := string(bytes.TrimSpace(r.Body)); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if r.Header.Get("Retry-After") != strconv.Itoa(body.RetryAfter) {
		t.Errorf("Retry-After %q, retryAfter %d", r.Header.Get("Retry-After"), body.RetryAfter)
	}
	if r.Header.Get("X-RateLimit-Limit") != strconv.Itoa(limit) || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit-Limit %q Remaining %q", r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
	}
	reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil || reset < time.Now().Unix() {
		t.Errorf("X-RateLimit-Reset %q", r.Header.Get("X-RateLimit-Reset"))
	}
}

func TestRateLimitGeneral(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{General: 3}})
	id, key := ts.CreateSession(uniq("rl")) // counts for the admin key, not this one
	path := "/sessions/" + id.String()
	for i := 0; i < 3; i++ {
		r := ts.Do("GET", path, key, nil)
		if r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
		if got, want := r.Header.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want || r.Header.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("request %d: remaining %q, want %s", i, got, want)
		}
	}
	assert429(t, ts.Do("GET", path, key, nil), 3)
	// Other keys have their own bucket.
	if r := ts.Do("GET", path, ts.AdminKey, nil); r.Status != 200 {
		t.Fatalf("admin: %d %s", r.Status, r.Body)
	}
}

func TestRateLimitSends(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{Messages: 2}})
	id, key := ts.CreateSession(uniq("rl-send"))
	path := "/sessions/" + id.String() + "/send"
	body := []byte(`{"to":"919988066776","text":"hi"}`)
	// The session is not linked: each send that passes the limit is
	// refused by the runtime (409), the third by the limit.
	for i := 0; i < 2; i++ {
		if r := ts.Do("POST", path, key, body); r.Status != 409 {
			t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
		}
	}
	assert429(t, ts.Do("POST", path, key, body), 2)
	// The limit is per session: the admin key hits the same bucket.
	assert429(t, ts.Do("POST", path, ts.AdminKey, body), 2)
	// Other operations are not affected (general limit is off).
	if r := ts.Do("GET", "/sessions/"+id.String(), key, nil); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("get: %d %s, limit header %q", r.Status, r.Body, r.Header.Get("X-RateLimit-Limit"))
	}
}

func TestRateLimitSessionCreation(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{Sessions: 2}})
	for i := 0; i < 2; i++ {
		ts.CreateSession(uniq("rl-create"))
	}
	assert429(t, ts.Do("POST", "/sessions/create", ts.AdminKey, []byte(`{"name":"`+uniq("rl-create")+`"}`)), 2)

	// A managed key's own limit overrides the default.
	mk, err := ts.Admin().CreateApiKeyWithResponse(context.Background(), client.CreateApiKeyJSONRequestBody{Name: "one", RateLimitSessions: intp(1)})
	if err != nil || mk.JSON201 == nil {
		t.Fatalf("create key: %v", err)
	}
	if mk.JSON201.ApiKey.RateLimits.Sessions != 1 {
		t.Errorf("rateLimits = %+v", mk.JSON201.ApiKey.RateLimits)
	}
	managed := *mk.JSON201.ApiKey.Key
	if r := ts.Do("POST", "/sessions/create", managed, []byte(`{"name":"`+uniq("rl-m")+`"}`)); r.Status != 201 {
		t.Fatalf("managed create: %d %s", r.Status, r.Body)
	}
	assert429(t, ts.Do("POST", "/sessions/create", managed, []byte(`{"name":"`+uniq("rl-m")+`"}`)), 1)
}

func TestRateLimitQR(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{QRSeconds: 5}})
	id, key := ts.CreateSession(uniq("rl-qr"))
	path := "/sessions/" + id.String() + "/qr"
	if r := ts.Do("GET", path, key, nil); r.Status != 409 {
		t.Fatalf("first poll: %d %s", r.Status, r.Body)
	}
	r := ts.Do("GET", path, key, nil)
	assert429(t, r, 1)
	var body struct{ RetryAfter int }
	r.JSON(t, &body)
	if body.RetryAfter > 5 {
		t.Errorf("retryAfter %d > 5", body.RetryAfter)
	}
	// Another session polls independently.
	id2, key2 := ts.CreateSession(uniq("rl-qr"))
	if r := ts.Do("GET", "/sessions/"+id2.String()+"/qr", key2, nil); r.Status != 409 {
		t.Fatalf("other session: %d %s", r.Status, r.Body)
	}
}

func TestRateLimitsOff(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{}})
	id, key := ts.CreateSession(uniq("rl-off"))
	for i := 0; i < 5; i++ {
		if r := ts.Do("GET", "/sessions/"+id.String()+"/qr", key, nil); r.Status != 409 || r.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("poll %d: %d %s", i, r.Status, r.Body)
		}
	}
}
