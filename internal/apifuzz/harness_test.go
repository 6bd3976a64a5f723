package apifuzz_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/webhook"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// waitTimeout bounds every wait of the harness.
const waitTimeout = 30 * time.Second

// Fixture phone numbers: the linked account and the contact that wrote to
// it.
const (
	ownPhone     = "15550001111"
	contactPhone = "15550002222"
	contactJID   = contactPhone + "@s.whatsapp.net"
)

// tinyPNG is a 1x1 PNG: every image URL the server fetches answers it.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

// pngTransport answers every image fetch with tinyPNG (the sandbox has no
// internet; URLs still go through the loader's checks).
type pngTransport struct{}

func (pngTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"image/png"}},
		Body: io.NopCloser(bytes.NewReader(tinyPNG)), ContentLength: int64(len(tinyPNG)), Request: req}, nil
}

// harness is the whole server: HTTP API, messaging, webhooks and the
// sandbox control plane over the real whatsmeow client and the simulator,
// on a fresh database, with one linked session that received a message.
type harness struct {
	srv   *testkit.Server
	mgr   *whatsapp.Manager
	admin string
	plain *http.Client // fixtures: no contract checks

	deep      string // the linked session
	idle      string // a session never linked
	idleKey   string // its session key
	messageID string // an inbound message of contactJID in deep
	sentID    string // a message deep sent to contactJID
	mediaID   string // an image contactJID sent to deep (sandboxExpireMedia)
	webhookID string
	keyID     string
	seq       atomic.Int64
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	ctx := context.Background()
	wasim.InstallRootKey()
	sim, err := wasim.New(wasim.Options{Logger: testkit.Logger(tb), AutoRegister: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sim.Close() })

	pool := testkit.NewDB(tb)
	store := postgres.NewStore(pool)
	msgs := postgres.NewMessages(pool)
	opts := messaging.Options{
		Log:        testkit.Logger(tb),
		Recipients: store,
		Media:      messaging.MediaLoader{Client: &http.Client{Transport: pngTransport{}}},
	}
	mgr, err := whatsapp.NewManager(ctx, whatsapp.Options{
		Pool: pool, Status: store, Devices: postgres.NewDeviceStore(pool), Inbound: messaging.NewSink(msgs, opts),
		Logger: testkit.Logger(tb), HTTPClient: sim.HTTPClient(), TrustSimulator: true,
		ReconnectBaseDelay: 50 * time.Millisecond, ReconnectMaxDelay: 500 * time.Millisecond, LoginTimeout: 10 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = mgr.Close() })
	svc := messaging.New(msgs, mgr, opts)
	// At configuration every host "resolves" to a public address, so URLs
	// pass the guard without DNS. The address is never dialled: deliveries
	// resolve for real at dial time, which fails here (no DNS, no internet).
	guard := webhook.Guard{LookupIPAddr: func(context.Context, string) ([]net.IPAddr, error) {
		return []net.IPAddr{{IP: net.IPv4(93, 184, 215, 14)}}, nil
	}}
	wh, err := webhook.New(pool, store, webhook.Config{Guard: guard, Timeout: time.Second, Log: testkit.Logger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	if err := wh.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = wh.Stop(sctx)
	})
	sb := &sandbox.Service{Runtime: mgr, Control: sandbox.Local{Sim: sim}}
	limits := httpapi.RateLimits{General: 1 << 30, Messages: 1 << 30, Sessions: 1 << 30, QRSeconds: 0}
	srv := testkit.NewServer(tb, testkit.Options{Pool: pool, Runtime: mgr, RateLimits: &limits,
		Sessions: sessions.Options{CheckWebhookURL: guard.CheckURL},
		Deps: func(d *httpapi.Deps) {
			d.Messaging = svc
			d.Sandbox = sb
			d.Webhooks = wh
		}})
	h := &harness{srv: srv, mgr: mgr, admin: srv.AdminKey, plain: &http.Client{Timeout: waitTimeout}}

	h.deep = h.newSession(tb, "fuzz-deep")
	var linked struct{ Jid string }
	h.must(tb, http.MethodPost, "/sandbox/sessions/"+h.deep+"/link", `{"phone":"`+ownPhone+`"}`, 200, &linked)
	h.waitConnected(tb, h.deep)
	_, h.messageID = h.inbound(tb, contactPhone)
	h.sentID = h.send(tb)
	h.mediaID = h.inboundImage(tb, contactPhone)
	var idle struct {
		Session struct{ ID string }
		APIKey  string
	}
	h.must(tb, http.MethodPost, "/sessions/create", `{"name":"fuzz-idle"}`, 201, &idle)
	h.idle, h.idleKey = idle.Session.ID, idle.APIKey
	h.webhookID = h.newWebhook(tb)
	h.keyID = h.newKey(tb)
	return h
}

// must sends a fixture request with the admin key and fails the harness
// unless it answers want.
func (h *harness) must(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	status, b := h.call(tb, method, path, body)
	if status != want {
		tb.Fatalf("fixture %s %s: %d %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("fixture %s %s: %v", method, path, err)
		}
	}
}

func (h *harness) call(tb testing.TB, method, path, body string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("X-API-Key", h.admin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.plain.Do(req)
	if err != nil {
		tb.Fatalf("fixture %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (h *harness) uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, h.seq.Add(1)) }

// newSession creates a session and returns its id.
func (h *harness) newSession(tb testing.TB, prefix string) string {
	var r struct{ Session struct{ ID string } }
	h.must(tb, http.MethodPost, "/sessions/create", `{"name":"`+h.uniq(prefix)+`"}`, 201, &r)
	return r.Session.ID
}

func (h *harness) newWebhook(tb testing.TB) string {
	var r struct{ Webhook struct{ ID string } }
	h.must(tb, http.MethodPost, "/sessions/"+h.deep+"/webhooks", `{"url":"https://example.com/hook"}`, 201, &r)
	return r.Webhook.ID
}

func (h *harness) newKey(tb testing.TB) string {
	var r struct{ ApiKey struct{ ID string } }
	h.must(tb, http.MethodPost, "/admin/api-keys", `{"name":"`+h.uniq("fuzz")+`"}`, 201, &r)
	return r.ApiKey.ID
}

// inbound makes phone write to the deep session and waits until the
// message is stored; it returns the chat JID and the message id.
func (h *harness) inbound(tb testing.TB, phone string) (string, string) {
	var r struct{ MessageID string }
	h.must(tb, http.MethodPost, "/sandbox/sessions/"+h.deep+"/inbound", `{"from":"`+phone+`","text":"hello"}`, 200, &r)
	chat := phone + "@s.whatsapp.net"
	h.eventually(tb, "message "+r.MessageID+" stored", func() bool {
		status, _ := h.call(tb, http.MethodGet, "/sessions/"+h.deep+"/chats/"+chat+"/messages/"+r.MessageID, "")
		return status == 200
	})
	return chat, r.MessageID
}

// inboundImage makes the contact send deep an image (tinyPNG, uploaded by
// the simulated contact) and returns its id once stored.
func (h *harness) inboundImage(tb testing.TB, phone string) string {
	var r struct{ MessageID string }
	body := `{"from":"` + phone + `","type":"image","mimeType":"image/png","media":"` + base64.StdEncoding.EncodeToString(tinyPNG) + `"}`
	h.must(tb, http.MethodPost, "/sandbox/sessions/"+h.deep+"/inbound", body, 200, &r)
	chat := phone + "@s.whatsapp.net"
	h.eventually(tb, "image "+r.MessageID+" stored", func() bool {
		status, _ := h.call(tb, http.MethodGet, "/sessions/"+h.deep+"/chats/"+chat+"/messages/"+r.MessageID, "")
		return status == 200
	})
	return r.MessageID
}

// send sends a text from deep to the contact and returns its id.
func (h *harness) send(tb testing.TB) string {
	var r struct{ MessageID string }
	h.must(tb, http.MethodPost, "/sessions/"+h.deep+"/send", `{"to":"`+contactPhone+`","text":"hi"}`, 200, &r)
	return r.MessageID
}

func (h *harness) waitConnected(tb testing.TB, id string) {
	h.eventually(tb, "session "+id+" connected", func() bool {
		var st struct{ Session struct{ State string } }
		status, b := h.call(tb, http.MethodGet, "/sessions/"+id+"/status", "")
		return status == 200 && json.Unmarshal(b, &st) == nil && st.Session.State == string(gateway.StateConnected)
	})
}

// eventually waits until cond holds, checking every 20 ms.
func (h *harness) eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
