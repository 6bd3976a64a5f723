package messaging_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// mediaOutage is a transport in front of the simulator that answers
// requests to WhatsApp's media host with 503 while down is set; the chat
// websocket is not affected.
type mediaOutage struct {
	next http.RoundTripper
	down atomic.Bool
	hits atomic.Int64
}

func (m *mediaOutage) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Hostname() == wasim.MediaHost && m.down.Load() {
		m.hits.Add(1)
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return m.next.RoundTrip(r)
}

// newE2EOutage is newE2E with the mediaOutage transport in the manager's
// HTTP client (whatsapp.Options.HTTPClient, which carries media too).
func newE2EOutage(t *testing.T, own string) (*e2e, *mediaOutage) {
	t.Helper()
	wasim.InstallRootKey()
	sim, err := wasim.New(wasim.Options{Logger: testkit.Logger(t), Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	hc := sim.HTTPClient()
	outage := &mediaOutage{next: hc.Transport}
	hc.Transport = outage

	e := &e2e{t: t, own: own, sim: sim, phone: sim.Phone(own)}
	e.ctx = t.Context()
	e.pool = testkit.NewDB(t)
	e.msgs = postgres.NewMessages(e.pool)
	opts := messaging.Options{Log: testkit.Logger(t), Recipients: postgres.NewStore(e.pool)}
	e.sink = &faultySink{inner: messaging.NewSink(e.msgs, opts)}
	e.mgr, err = whatsapp.NewManager(e.ctx, whatsapp.Options{
		Pool: e.pool, Status: postgres.NewStore(e.pool), Devices: postgres.NewDeviceStore(e.pool), Inbound: e.sink,
		Logger: testkit.Logger(t), HTTPClient: hc, TrustSimulator: true,
		ReconnectBaseDelay: 50 * time.Millisecond, ReconnectMaxDelay: 500 * time.Millisecond, LoginTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.mgr.Close() })
	e.svc = messaging.New(e.msgs, e.mgr, opts)
	limits := httpapi.RateLimits{General: 100000, Messages: 100000, Sessions: 100, QRSeconds: 0}
	e.srv = testkit.NewServer(t, testkit.Options{Pool: e.pool, Runtime: e.mgr, RateLimits: &limits,
		Deps: func(d *httpapi.Deps) { d.Messaging = e.svc }})
	e.sid, e.key = e.srv.CreateSession("e2e-" + own)
	e.c = e.srv.Client(e.key)
	var qr string
	eventually(t, "a QR code", func() bool { qr, err = e.mgr.QR(e.ctx, e.sid); return err == nil })
	if _, err := e.phone.ScanQR(e.ctx, qr); err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	eventually(t, "connected", func() bool { st, _ := e.mgr.State(e.sid); return st == gateway.StateConnected })
	return e, outage
}

// TestSendImageMediaServerDown: when WhatsApp's media server fails the
// upload, the send is a retryable 503 (not a 500) and nothing is sent or
// stored; once it is back, the same request succeeds.
func TestSendImageMediaServerDown(t *testing.T) {
	t.Parallel()
	e, outage := newE2EOutage(t, "15550114000")
	contact := e.sim.Contact("15550114001")
	const chatPN = "15550114001@s.whatsapp.net"
	data := pngOf(t, 12, 12, 9)
	body := client.SendImageJSONRequestBody{To: chatPN, Image: base64.StdEncoding.EncodeToString(data), Caption: ptr("retry me")}

	outage.down.Store(true)
	r := e.sendImage(body)
	wantErr(t, "upload refused by the media server", r.StatusCode(), r.Body, nil, http.StatusServiceUnavailable,
		"WhatsApp is temporarily unavailable. Please try again.")
	if outage.hits.Load() == 0 {
		t.Fatal("the upload did not go through the manager's HTTP client")
	}
	if n := len(contact.Received()); n != 0 {
		t.Fatalf("failed send delivered %+v", contact.Received())
	}
	if n := e.storedMessages(); n != 0 {
		t.Fatalf("failed send stored %d messages", n)
	}

	outage.down.Store(false)
	r = e.sendImage(body)
	if r.JSON200 == nil || r.JSON200.Type != "image" {
		t.Fatalf("retry: %d %s", r.StatusCode(), r.Body)
	}
	got := e.received(contact, "the retried image", func(x wasim.Received) bool { return x.ID == r.JSON200.MessageId })
	if got.Text != "retry me" || string(got.Media) != string(data) {
		t.Fatalf("retried image: caption %q, %d bytes", got.Text, len(got.Media))
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}
