package webhook_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/webhook"
)

type apiBundle struct {
	srv     *testkit.Server
	svc     *webhook.Service
	c       *client.ClientWithResponses
	session uuid.UUID
}

// setupAPI serves the real HTTP API with the webhook service plugged in, on
// a fresh database, and creates one session.
func setupAPI(t *testing.T, cfg webhook.Config) *apiBundle {
	t.Helper()
	pool := testkit.NewDB(t)
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 20 * time.Millisecond
	}
	cfg.Timeout = 2 * time.Second
	cfg.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	svc, err := webhook.New(pool, postgres.NewStore(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = svc.Stop(sctx)
		cancel()
	})
	srv := testkit.NewServer(t, testkit.Options{Pool: pool, RateLimits: &httpapi.RateLimits{},
		Deps: func(d *httpapi.Deps) { d.Webhooks = svc }})
	id, _ := srv.CreateSession("hooks-" + uuid.NewString()[:8])
	return &apiBundle{srv: srv, svc: svc, c: srv.Admin(), session: id}
}

func (b *apiBundle) record(t *testing.T, typ string, data any) string {
	t.Helper()
	return (&bundle{pool: b.srv.Pool}).record(t, b.session, typ, data)
}

func TestAPIWebhookLifecycle(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	ctx := context.Background()
	rcv := newReceiver(t)

	events := []client.EventType{client.EventTypeMessage, client.EventTypeSessionState}
	cr, err := b.c.CreateWebhookWithResponse(ctx, b.session, client.CreateWebhookJSONRequestBody{Url: rcv.URL + "/in", Events: &events})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, cr.StatusCode(), cr.Body)
	}
	w := cr.JSON201.Webhook
	if w.Secret == nil || len(*w.Secret) < 16 || !w.Enabled || len(w.Events) != 2 {
		t.Fatalf("created %+v", w)
	}

	lr, err := b.c.ListWebhooksWithResponse(ctx, b.session)
	if err != nil || lr.JSON200 == nil || len(lr.JSON200.Webhooks) != 1 || lr.JSON200.Webhooks[0].Secret != nil {
		t.Fatalf("list: %v %s", err, lr.Body)
	}

	onlyMsg := []client.EventType{client.EventTypeMessage}
	off := false
	ur, err := b.c.UpdateWebhookWithResponse(ctx, b.session, w.Id, client.UpdateWebhookJSONRequestBody{Events: &onlyMsg, Enabled: &off})
	if err != nil || ur.JSON200 == nil || ur.JSON200.Webhook.Enabled || len(ur.JSON200.Webhook.Events) != 1 || ur.JSON200.Webhook.Secret != nil {
		t.Fatalf("update: %v %s", err, ur.Body)
	}

	rr, err := b.c.RotateWebhookSecretWithResponse(ctx, b.session, w.Id)
	if err != nil || rr.JSON200 == nil || rr.JSON200.Webhook.Secret == nil || *rr.JSON200.Webhook.Secret == *w.Secret {
		t.Fatalf("rotate: %v %s", err, rr.Body)
	}
	secret := *rr.JSON200.Webhook.Secret

	tr, err := b.c.TestWebhookWithResponse(ctx, b.session, w.Id)
	if err != nil || tr.JSON200 == nil || tr.JSON200.StatusCode == nil || *tr.JSON200.StatusCode != 200 || tr.JSON200.Error != nil {
		t.Fatalf("test ping: %v %s", err, tr.Body)
	}
	got := rcv.deliveries()
	if len(got) != 1 || got[0].event.Type != "webhook.test" || got[0].header.Get("X-Wagate-Event-Type") != "webhook.test" {
		t.Fatalf("receiver got %+v", got)
	}
	if err := independentVerify(secret, got[0].header, got[0].body); err != nil {
		t.Fatalf("test ping signed with the rotated secret: %v", err)
	}

	// A ping to a receiver that is down is a result, not an error.
	rcv.status.Store(503)
	tr, err = b.c.TestWebhookWithResponse(ctx, b.session, w.Id)
	if err != nil || tr.JSON200 == nil || tr.JSON200.StatusCode == nil || *tr.JSON200.StatusCode != 503 {
		t.Fatalf("test ping to a failing receiver: %v %s", err, tr.Body)
	}

	missing := uuid.New()
	nf, err := b.c.RotateWebhookSecretWithResponse(ctx, b.session, missing)
	if err != nil || nf.JSON404 == nil || nf.JSON404.Error != gateway.MsgWebhookNotFound {
		t.Fatalf("unknown webhook: %v %d %s", err, nf.StatusCode(), nf.Body)
	}
	ns, err := b.c.ListWebhooksWithResponse(ctx, uuid.New())
	if err != nil || ns.StatusCode() != 404 {
		t.Fatalf("unknown session: %v %d %s", err, ns.StatusCode(), ns.Body)
	}

	dr, err := b.c.DeleteWebhookWithResponse(ctx, b.session, w.Id)
	if err != nil || dr.JSON200 == nil || dr.JSON200.Message != httpapi.MsgWebhookDeleted {
		t.Fatalf("delete: %v %s", err, dr.Body)
	}
	dr, err = b.c.DeleteWebhookWithResponse(ctx, b.session, w.Id)
	if err != nil || dr.JSON404 == nil {
		t.Fatalf("delete again: %v %d %s", err, dr.StatusCode(), dr.Body)
	}
	lr, err = b.c.ListWebhooksWithResponse(ctx, b.session)
	if err != nil || lr.JSON200 == nil || len(lr.JSON200.Webhooks) != 0 {
		t.Fatalf("list after delete: %v %s", err, lr.Body)
	}
}

func TestAPIRefusesBadURLs(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, webhook.Config{}) // private addresses refused
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"http://10.1.2.3/hook", "a private address"},
		{"http://192.168.0.10:8080/hook", "a private address"},
		{"http://127.0.0.1:9/hook", "a loopback address"},
		{"http://localhost:8080/hook", "a loopback address"},
		{"http://[::1]/hook", "a loopback address"},
		{"http://169.254.169.254/latest/meta-data", "a link-local address"},
		{"http://0.0.0.0/hook", "an unspecified address"},
		{"http://239.1.2.3/hook", "a multicast address"},
		{"ftp://files.example.com/hook", `scheme "ftp" is not allowed`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r, err := b.c.CreateWebhookWithResponse(ctx, b.session, client.CreateWebhookJSONRequestBody{Url: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON400 == nil || !strings.Contains(r.JSON400.Error, tc.want) {
				t.Fatalf("status %d body %s; want 400 mentioning %q", r.StatusCode(), r.Body, tc.want)
			}
		})
	}
	// A public address is accepted (nothing is sent to it).
	r, err := b.c.CreateWebhookWithResponse(ctx, b.session, client.CreateWebhookJSONRequestBody{Url: "https://93.184.215.14/hook"})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("public address: %v %d %s", err, r.StatusCode(), r.Body)
	}
	// Changing a URL is checked too.
	bad := "http://10.0.0.1/"
	u, err := b.c.UpdateWebhookWithResponse(ctx, b.session, r.JSON201.Webhook.Id, client.UpdateWebhookJSONRequestBody{Url: &bad})
	if err != nil || u.JSON400 == nil {
		t.Fatalf("update to a private address: %v %d %s", err, u.StatusCode(), u.Body)
	}
}

func TestAPIDeliveriesListAndRedeliver(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, MaxAttempts: 2})
	ctx := context.Background()
	rcv := newReceiver(t)
	rcv.status.Store(500)
	cr, err := b.c.CreateWebhookWithResponse(ctx, b.session, client.CreateWebhookJSONRequestBody{Url: rcv.URL})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create: %v %s", err, cr.Body)
	}
	const n = 5
	for i := range n {
		b.record(t, "message", map[string]any{"i": i})
	}
	dead := client.Dead
	list := func(status *client.DeliveryStatus, limit int, cursor *string) *client.DeliveryListResponse {
		t.Helper()
		l := limit
		r, err := b.c.ListWebhookDeliveriesWithResponse(ctx, b.session, &client.ListWebhookDeliveriesParams{Status: status, Limit: &l, Cursor: cursor})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list deliveries: %v %d %s", err, r.StatusCode(), r.Body)
		}
		return r.JSON200
	}
	eventually(t, 15*time.Second, "every delivery dead", func() bool { return len(list(&dead, 50, nil).Deliveries) == n })

	// Pages of 2, newest first, ids strictly decreasing.
	var seen []string
	var cursor *string
	for page := 0; ; page++ {
		p := list(nil, 2, cursor)
		for _, d := range p.Deliveries {
			seen = append(seen, d.Id)
			if d.Status != client.Dead || d.Attempts != 2 || d.LastStatusCode == nil || *d.LastStatusCode != 500 || d.LastLatencyMs == nil || d.WebhookId != cr.JSON201.Webhook.Id {
				t.Fatalf("delivery %+v", d)
			}
		}
		if p.NextCursor == nil {
			break
		}
		cursor = p.NextCursor
		if page > n {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != n {
		t.Fatalf("paged through %d deliveries, want %d", len(seen), n)
	}
	for i := 1; i < len(seen); i++ {
		a, _ := strconv.Atoi(seen[i-1])
		c, _ := strconv.Atoi(seen[i])
		if a <= c {
			t.Fatalf("not newest first: %v", seen)
		}
	}
	bad := "x"
	br, err := b.c.ListWebhookDeliveriesWithResponse(ctx, b.session, &client.ListWebhookDeliveriesParams{Cursor: &bad})
	if err != nil || br.JSON400 == nil || br.JSON400.Error != gateway.MsgInvalidCursor {
		t.Fatalf("bad cursor: %v %d %s", err, br.StatusCode(), br.Body)
	}

	rcv.status.Store(200)
	one := seen[0]
	rr, err := b.c.RedeliverWebhookWithResponse(ctx, b.session, one)
	if err != nil || rr.JSON200 == nil || rr.JSON200.Delivery.Id != one || rr.JSON200.Delivery.Status != client.Pending {
		t.Fatalf("redeliver: %v %d %s", err, rr.StatusCode(), rr.Body)
	}
	succeeded := client.Succeeded
	eventually(t, 10*time.Second, "the redelivered one succeeded", func() bool { return len(list(&succeeded, 50, nil).Deliveries) == 1 })

	ar, err := b.c.RedeliverDeadWebhooksWithResponse(ctx, b.session)
	if err != nil || ar.JSON200 == nil || ar.JSON200.Scheduled != n-1 {
		t.Fatalf("redeliver dead: %v %d %s", err, ar.StatusCode(), ar.Body)
	}
	eventually(t, 10*time.Second, "every delivery succeeded", func() bool { return len(list(&succeeded, 50, nil).Deliveries) == n })
	if got := len(rcv.eventIDs()); got != n {
		t.Fatalf("receiver got %d events, want %d", got, n)
	}
	nf, err := b.c.RedeliverWebhookWithResponse(ctx, b.session, "987654321")
	if err != nil || nf.JSON404 == nil || nf.JSON404.Error != gateway.MsgDeliveryNotFound {
		t.Fatalf("unknown delivery: %v %d %s", err, nf.StatusCode(), nf.Body)
	}
}

// DNS rebinding: the name resolved to a public address when the webhook was
// configured, and resolves to loopback when it is dialed. The dialer's
// Control refuses the connection; the receiver never hears of it.
func TestRebindingRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	public := func(context.Context, string) ([]net.IPAddr, error) {
		return []net.IPAddr{{IP: net.ParseIP("93.184.215.14")}}, nil
	}
	b := setup(t, webhook.Config{Guard: webhook.Guard{LookupIPAddr: public}, MaxAttempts: 2})
	rcv := newReceiver(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rcv.URL, "http://"))
	b.addWebhook(t, "http://localhost:"+port+"/hook")
	b.record(t, b.session, "message", nil)
	eventually(t, 10*time.Second, "the delivery dead", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliveryDead))) == 1
	})
	d := b.deliveries(t, nil)[0]
	if d.LastError == nil || !strings.Contains(*d.LastError, "refused to connect to 127.0.0.1") || d.LastStatusCode != nil {
		t.Fatalf("delivery %+v (error %v)", d, d.LastError)
	}
	if h := rcv.hits.Load(); h != 0 {
		t.Fatalf("receiver was reached %d times", h)
	}
}
