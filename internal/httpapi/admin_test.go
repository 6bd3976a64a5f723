package httpapi_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.NewDB(t)})
	ctx := context.Background()
	typ := "premium"
	cr, err := ts.Admin().CreateApiKeyWithResponse(ctx, client.CreateApiKeyJSONRequestBody{
		Name: "Customer: John Doe", Type: &typ, RateLimitGeneral: intp(500), MaxSessions: intp(1),
		Metadata: &client.Metadata{"customerId": "c1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cr.JSON201 == nil {
		t.Fatalf("status %d: %s", cr.StatusCode(), cr.Body)
	}
	k := cr.JSON201.ApiKey
	if !regexp.MustCompile(`^key_[0-9a-f]{16}$`).MatchString(k.Id) || k.Key == nil || !sessionKeyPattern.MatchString(*k.Key) {
		t.Fatalf("key = %+v", k)
	}
	if cr.JSON201.Warning != "IMPORTANT: Save this API key securely! The raw key will NOT be shown again." {
		t.Errorf("warning %q", cr.JSON201.Warning)
	}
	if k.Type != "premium" || k.IsAdmin || k.RateLimits != (client.RateLimits{General: 500, Messages: 30, Sessions: 10}) || k.MaxSessions == nil || *k.MaxSessions != 1 {
		t.Errorf("key = %+v", k)
	}
	managed := ts.Client(*k.Key)

	t.Run("ManagedKeyCreatesAndListsOwnSessions", func(t *testing.T) {
		adminID, _ := ts.CreateSession(uniq("admins"))
		r, err := managed.CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("mine")})
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create: %v %s", err, r.Body)
		}
		mine := r.JSON201.Session.Id
		l, err := managed.ListSessionsWithResponse(ctx)
		if err != nil || l.JSON200 == nil {
			t.Fatalf("list: %v", err)
		}
		if len(l.JSON200.Sessions) != 1 || l.JSON200.Sessions[0].Id != mine {
			t.Errorf("managed list = %+v", l.JSON200.Sessions)
		}
		if g, _ := managed.GetSessionWithResponse(ctx, mine); g == nil || g.JSON200 == nil {
			t.Errorf("get own session failed")
		}
		if g, _ := managed.GetSessionWithResponse(ctx, adminID); g == nil || g.JSON403 == nil || g.JSON403.Error != gateway.MsgForeignSession {
			t.Errorf("foreign session not refused")
		}
		// maxSessions 1: the second creation is refused.
		r2, err := managed.CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: uniq("mine")})
		if err != nil || r2.JSON403 == nil || r2.JSON403.Error != gateway.MsgMaxSessions {
			t.Fatalf("second create: %v %d %s", err, r2.StatusCode(), r2.Body)
		}
		// The session's own key inherits nothing it should not: it can read its session.
		if g, _ := ts.Client(r.JSON201.ApiKey).GetSessionStatusWithResponse(ctx, mine); g == nil || g.JSON200 == nil {
			t.Errorf("session key of a managed session failed")
		}
	})
	t.Run("AdminManagedKey", func(t *testing.T) {
		yes := true
		r, err := ts.Admin().CreateApiKeyWithResponse(ctx, client.CreateApiKeyJSONRequestBody{Name: "ops", IsAdmin: &yes})
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create: %v", err)
		}
		raw := *r.JSON201.ApiKey.Key
		if !regexp.MustCompile(`^wamk_[0-9a-f]{48}$`).MatchString(raw) {
			t.Errorf("admin managed key %q", raw)
		}
		l, err := ts.Client(raw).ListApiKeysWithResponse(ctx)
		if err != nil || l.JSON200 == nil {
			t.Fatalf("admin managed key cannot list keys: %v", err)
		}
	})
	t.Run("Trial", func(t *testing.T) {
		r, err := ts.Admin().CreateTrialApiKeyWithResponse(ctx, client.CreateTrialApiKeyJSONRequestBody{
			Name: "Trial: Jane", TrialDays: 7, AllowedNumbers: []string{"+919988066776"},
		})
		if err != nil || r.JSON201 == nil {
			t.Fatalf("create: %v %s", err, r.Body)
		}
		k := r.JSON201.ApiKey
		if k.Type != "trial" || k.ExpiresAt == nil || time.Until(*k.ExpiresAt) < 6*24*time.Hour || k.RateLimits.Messages != 10 ||
			k.MaxSessions == nil || *k.MaxSessions != 1 || k.AllowedNumbers == nil || (*k.AllowedNumbers)[0] != "919988066776" {
			t.Errorf("trial key = %+v", k)
		}
		// allowedNumbers follow waid's phone rules: the schema lets 6 digits
		// and a leading 0 through, but no such number can be messaged.
		for num, text := range map[string]string{
			"0919988066": "Invalid allowedNumbers[1]: the phone number must start with the country code, not 0",
			"+123456":    "Invalid allowedNumbers[1]: a phone number has 7 to 15 digits including the country code, got 6",
		} {
			bad, err := ts.Admin().CreateTrialApiKeyWithResponse(ctx, client.CreateTrialApiKeyJSONRequestBody{
				Name: "Trial: bad", TrialDays: 7, AllowedNumbers: []string{"919988066776", num},
			})
			if err != nil || bad.JSON400 == nil || bad.JSON400.Error != text {
				t.Errorf("allowedNumbers %q: %v %d %s", num, err, bad.StatusCode(), bad.Body)
			}
		}
	})
	t.Run("ListAndRevoke", func(t *testing.T) {
		l, err := ts.Admin().ListApiKeysWithResponse(ctx)
		if err != nil || l.JSON200 == nil {
			t.Fatalf("list: %v", err)
		}
		if !slices.ContainsFunc(l.JSON200.ApiKeys, func(a client.ApiKey) bool { return a.Id == k.Id && a.Key == nil }) {
			t.Fatalf("list = %+v", l.JSON200.ApiKeys)
		}
		rv, err := ts.Admin().RevokeApiKeyWithResponse(ctx, k.Id)
		if err != nil || rv.JSON200 == nil || rv.JSON200.Message != "API key revoked successfully" {
			t.Fatalf("revoke: %v %s", err, rv.Body)
		}
		again, _ := ts.Admin().RevokeApiKeyWithResponse(ctx, k.Id)
		if again.JSON404 == nil || again.JSON404.Error != gateway.MsgAPIKeyNotFound {
			t.Fatalf("second revoke: %d %s", again.StatusCode(), again.Body)
		}
		g, _ := managed.ListSessionsWithResponse(ctx)
		if g.JSON401 == nil || g.JSON401.Error != gateway.MsgInvalidAPIKey {
			t.Fatalf("revoked key still works: %d %s", g.StatusCode(), g.Body)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	ctx := context.Background()
	h, err := ts.Client("").GetHealthWithResponse(ctx)
	if err != nil || h.JSON200 == nil {
		t.Fatalf("healthz: %v", err)
	}
	r, err := ts.Client("").GetReadinessWithResponse(ctx)
	if err != nil || r.JSON200 == nil || r.JSON200.Checks["migrations"] != "ok" || r.JSON200.Checks["database"] != "ok" {
		t.Fatalf("readyz: %v %s", err, r.Body)
	}
	m, err := ts.Client("").GetMetricsWithResponse(ctx)
	if err != nil || m.StatusCode() != 200 || !strings.Contains(string(m.Body), "wagate_") {
		t.Fatalf("metrics: %v %d %.200s", err, m.StatusCode(), m.Body)
	}
}
