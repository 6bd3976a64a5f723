package sessions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
)

type env struct {
	store *postgres.Store
	rt    *testkit.FakeRuntime
	svc   *sessions.Service
}

func newEnv(t *testing.T, o sessions.Options) *env {
	t.Helper()
	store := postgres.NewStore(testkit.SharedDB(t))
	rt := &testkit.FakeRuntime{Store: store}
	return &env{store: store, rt: rt, svc: sessions.New(store, store, rt, o)}
}

var master = &gateway.Principal{Kind: gateway.KindMaster, KeyID: gateway.MasterKeyID, IsAdmin: true}

func as(p *gateway.Principal) context.Context {
	return gateway.WithPrincipal(context.Background(), p)
}

func uniq(prefix string) string { return prefix + "-" + uuid.NewString()[:8] }

// TestCreate: a session gets a fresh session key that authenticates it, is
// started, and belongs to the managed key that created it, within its
// maxSessions; the list shows a managed key its own sessions only.
func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sessions.Options{})
	ctx := as(master)
	c, err := e.svc.Create(ctx, gateway.SessionInput{Name: uniq("svc"), Metadata: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !gateway.ValidKeyFormat(c.Key) || !strings.HasPrefix(c.Key, gateway.SessionKeyPrefix) || c.Session.OwnerKeyID != nil {
		t.Fatalf("created %+v", c)
	}
	p, err := e.store.LookupKey(ctx, gateway.HashKey(c.Key))
	if err != nil || p.Kind != gateway.KindSession || p.SessionID != c.Session.ID {
		t.Fatalf("the key does not authenticate the session: %+v %v", p, err)
	}
	if !slices.Contains(e.rt.Calls(), "Start "+c.Session.ID.String()) {
		t.Fatalf("not started: %v", e.rt.Calls())
	}

	one := 1
	k, err := e.svc.CreateKey(ctx, gateway.APIKeyInput{Name: "reseller", MaxSessions: &one})
	if err != nil {
		t.Fatal(err)
	}
	managed, err := e.store.LookupKey(ctx, gateway.HashKey(k.Raw))
	if err != nil {
		t.Fatal(err)
	}
	mine, err := e.svc.Create(as(managed), gateway.SessionInput{Name: uniq("svc-m")})
	if err != nil {
		t.Fatal(err)
	}
	if mine.Session.OwnerKeyID == nil || *mine.Session.OwnerKeyID != managed.KeyID {
		t.Fatalf("owner %v, want %s", mine.Session.OwnerKeyID, managed.KeyID)
	}
	if _, err := e.svc.Create(as(managed), gateway.SessionInput{Name: uniq("svc-m")}); gateway.ErrorCode(err) != gateway.CodeForbidden || gateway.ErrorMessage(err) != gateway.MsgMaxSessions {
		t.Fatalf("past maxSessions: %v", err)
	}
	list, err := e.svc.List(as(managed))
	if err != nil || len(list) != 1 || list[0].ID != mine.Session.ID {
		t.Fatalf("managed list %+v %v", list, err)
	}
	all, err := e.svc.List(ctx)
	if err != nil || len(all) < 2 {
		t.Fatalf("admin list: %d sessions, %v", len(all), err)
	}
	if _, err := e.svc.Create(context.Background(), gateway.SessionInput{Name: uniq("svc")}); gateway.ErrorCode(err) != gateway.CodeInternal {
		t.Fatalf("no principal: %v", err)
	}
}

// TestCreateStartFails: a failed start does not fail the creation.
func TestCreateStartFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sessions.Options{})
	e.rt.Set(func(f *testkit.FakeRuntime) {
		f.StartFunc = func(context.Context, uuid.UUID) error { return gateway.E(gateway.CodeUnavailable, "down") }
	})
	c, err := e.svc.Create(as(master), gateway.SessionInput{Name: uniq("svc-down")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(context.Background(), c.Session.ID); err != nil {
		t.Fatal(err)
	}
}

// TestCreateWebhookURL: only absolute http(s) URLs, then the guard;
// a refused URL creates nothing.
func TestCreateWebhookURL(t *testing.T) {
	t.Parallel()
	refused := gateway.E(gateway.CodeInvalid, "Webhook URL refused")
	var checked []string
	e := newEnv(t, sessions.Options{CheckWebhookURL: func(_ context.Context, u string) error {
		checked = append(checked, u)
		if strings.Contains(u, "10.0.0.1") {
			return refused
		}
		return nil
	}})
	for _, tc := range []struct {
		url, want string
	}{
		{"ftp://example.com/x", sessions.MsgInvalidWebhookURL},
		{"https:///nohost", sessions.MsgInvalidWebhookURL},
		{"http://10.0.0.1/hook", "Webhook URL refused"},
		{"https://hooks.example/wa", ""},
	} {
		name := uniq("svc-hook")
		u := tc.url
		c, err := e.svc.Create(as(master), gateway.SessionInput{Name: name, WebhookURL: &u})
		if tc.want == "" {
			if err != nil || c.Session.WebhookURL == nil || *c.Session.WebhookURL != u {
				t.Errorf("%s: %+v %v", u, c.Session, err)
			}
			continue
		}
		if gateway.ErrorCode(err) != gateway.CodeInvalid || gateway.ErrorMessage(err) != tc.want {
			t.Errorf("%s: %v, want %q", u, err, tc.want)
		}
		list, _ := e.svc.List(as(master))
		for _, s := range list {
			if s.Name == name {
				t.Errorf("%s: session created", u)
			}
		}
	}
	if want := []string{"http://10.0.0.1/hook", "https://hooks.example/wa"}; !slices.Equal(checked, want) {
		t.Errorf("guard saw %v, want %v", checked, want)
	}
}

// TestActions: restart is stop then start; delete removes the WhatsApp
// side first and keeps the record when that fails.
func TestActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sessions.Options{})
	c, err := e.svc.Create(as(master), gateway.SessionInput{Name: uniq("svc-act")})
	if err != nil {
		t.Fatal(err)
	}
	id := c.Session.ID
	ctx := context.Background()
	s, err := e.svc.Restart(ctx, id)
	if err != nil || s.ID != id {
		t.Fatalf("restart: %+v %v", s, err)
	}
	calls := e.rt.Calls()
	if want := []string{"Start " + id.String(), "Stop " + id.String(), "Start " + id.String()}; !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	busy := errors.New("device busy")
	e.rt.Set(func(f *testkit.FakeRuntime) { f.RemoveFunc = func(context.Context, uuid.UUID) error { return busy } })
	if err := e.svc.Delete(ctx, id); !errors.Is(err, busy) {
		t.Fatalf("delete: %v", err)
	}
	if _, err := e.svc.Get(ctx, id); err != nil {
		t.Fatalf("record gone after a failed remove: %v", err)
	}
	e.rt.Set(func(f *testkit.FakeRuntime) { f.RemoveFunc = nil })
	if err := e.svc.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(ctx, id); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := e.svc.QR(ctx, uuid.New()); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("qr of an unknown session: %v", err)
	}
}

// TestKeys: managed keys get a wamk_ (admin) or wask_ raw key, trial keys
// the trial presets with an expiry and numbers without +.
func TestKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	e := newEnv(t, sessions.Options{Now: func() time.Time { return now }})
	ctx := as(master)
	if _, err := e.svc.CreateKey(ctx, gateway.APIKeyInput{Name: "  "}); gateway.ErrorMessage(err) != sessions.MsgNameBlank {
		t.Fatalf("blank name: %v", err)
	}
	std, err := e.svc.CreateKey(ctx, gateway.APIKeyInput{Name: " std "})
	if err != nil || std.Key.Type != "standard" || std.Key.Name != "std" || !strings.HasPrefix(std.Raw, gateway.SessionKeyPrefix) {
		t.Fatalf("standard key %+v %v", std, err)
	}
	adm, err := e.svc.CreateKey(ctx, gateway.APIKeyInput{Name: "ops", IsAdmin: true, Type: "internal"})
	if err != nil || !strings.HasPrefix(adm.Raw, gateway.AdminKeyPrefix) || adm.Key.Type != "internal" {
		t.Fatalf("admin key %+v %v", adm, err)
	}
	trial, err := e.svc.CreateTrialKey(ctx, gateway.TrialKeyInput{Name: "try", TrialDays: 7, AllowedNumbers: []string{"+919988066776", "14155550123"}})
	if err != nil {
		t.Fatal(err)
	}
	k := trial.Key
	if k.Type != "trial" || *k.Limits.General != gateway.TrialGeneral || *k.Limits.Messages != gateway.TrialMessages ||
		*k.Limits.Sessions != gateway.TrialSessions || *k.MaxSessions != gateway.TrialMaxSessions {
		t.Fatalf("trial presets %+v", k)
	}
	if want := now.Add(7 * 24 * time.Hour).Truncate(time.Millisecond); k.ExpiresAt == nil || !k.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", k.ExpiresAt, want)
	}
	if !slices.Equal(k.AllowedNumbers, []string{"919988066776", "14155550123"}) {
		t.Fatalf("numbers %v", k.AllowedNumbers)
	}
	keys, err := e.svc.ListKeys(ctx)
	if err != nil || !slices.ContainsFunc(keys, func(x gateway.APIKey) bool { return x.ID == k.ID }) {
		t.Fatalf("list: %v", err)
	}
	if err := e.svc.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeKey(ctx, k.ID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("revoke twice: %v", err)
	}
}
