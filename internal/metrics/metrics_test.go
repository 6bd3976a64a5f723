package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wagate-dev/wagate/internal/metrics"
)

// newEcho builds an Echo with the metrics middleware outermost and a few
// routes shaped like the API's.
func newEcho(m *metrics.Metrics) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
		}
		_ = c.JSON(code, map[string]any{"success": false, "error": "x"})
	}
	e.Use(m.Middleware())
	e.GET("/sessions/:id", func(c echo.Context) error {
		if c.Param("id") == "missing" {
			return echo.NewHTTPError(http.StatusNotFound, "Session not found")
		}
		return c.JSON(http.StatusOK, map[string]any{"success": true})
	})
	e.POST("/sessions/:id/send", func(c echo.Context) error {
		return errors.New("boom") // plain error: the error handler makes it a 500
	})
	e.GET("/slow", func(c echo.Context) error {
		time.Sleep(30 * time.Millisecond)
		return c.NoContent(http.StatusNoContent)
	})
	return e
}

func do(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestHTTPMiddlewareCountsByRouteTemplate(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	e := newEcho(m)

	for _, id := range []string{"a", "b", "c"} {
		if rec := do(t, e, http.MethodGet, "/sessions/"+id); rec.Code != http.StatusOK {
			t.Fatalf("GET /sessions/%s: %d", id, rec.Code)
		}
	}
	if rec := do(t, e, http.MethodGet, "/sessions/missing"); rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
	rec := do(t, e, http.MethodPost, "/sessions/x/send")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("POST send: %d", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), `"success":false`) {
		t.Fatalf("error body rendered %q", rec.Body.String())
	}
	do(t, e, http.MethodGet, "/no/such/route/12345")
	do(t, e, http.MethodDelete, "/sessions/a") // 405 on a known path

	c := m.Registry()
	for _, tc := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/sessions/:id", "GET", "200", 3},
		{"/sessions/:id", "GET", "404", 1},
		{"/sessions/:id/send", "POST", "500", 1},
		{metrics.Unmatched, "GET", "404", 1},
		{"/sessions/:id", "DELETE", "405", 1},
	} {
		got := counterValue(t, c, "wagate_http_requests_total", map[string]string{
			"route": tc.route, "method": tc.method, "status": tc.status,
		})
		if got != tc.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", tc.route, tc.method, tc.status, got, tc.want)
		}
	}
	// The raw URL never becomes a label value.
	text := scrape(t, m)
	for _, raw := range []string{"/sessions/a\"", "/sessions/missing", "/no/such/route", "12345"} {
		if strings.Contains(text, raw) {
			t.Errorf("exposition contains raw path %q", raw)
		}
	}
	if n := histogramCount(t, c, "wagate_http_request_duration_seconds", map[string]string{"route": "/sessions/:id", "method": "GET"}); n != 4 {
		t.Errorf("latency samples for GET /sessions/:id = %d, want 4", n)
	}
}

func TestHTTPMiddlewareCatchAllNotFound(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	e := echo.New()
	e.Use(m.Middleware())
	// A group with middleware registers RouteNotFound routes "" and "/*".
	g := e.Group("", func(next echo.HandlerFunc) echo.HandlerFunc { return next })
	g.GET("/things/:id", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusNotFound, "Thing not found")
	})
	e.GET("/files/*", func(c echo.Context) error { return echo.ErrNotFound })
	do(t, e, http.MethodGet, "/no/such/thing")
	do(t, e, http.MethodGet, "/things/7")
	do(t, e, http.MethodGet, "/files/x/y")
	for _, tc := range []struct{ route string }{{metrics.Unmatched}, {"/things/:id"}, {"/files/*"}} {
		if got := counterValue(t, m.Registry(), "wagate_http_requests_total", map[string]string{
			"route": tc.route, "method": "GET", "status": "404",
		}); got != 1 {
			t.Errorf("404s on %s = %v, want 1", tc.route, got)
		}
	}
}

func TestHTTPMiddlewareLatencyAndInFlight(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	e := newEcho(m)
	do(t, e, http.MethodGet, "/slow")
	sum := histogramSum(t, m.Registry(), "wagate_http_request_duration_seconds", map[string]string{"route": "/slow", "method": "GET"})
	if sum < 0.025 || sum > 5 {
		t.Errorf("latency of /slow = %vs, want about 0.03s", sum)
	}
	mt := find(t, m.Registry(), "wagate_http_requests_in_flight", map[string]string{})
	if mt == nil || mt.GetGauge().GetValue() != 0 {
		t.Errorf("in flight after the request = %v", mt)
	}
}

func TestMessagesAndWebhooks(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.MessageReceived()
	m.MessageReceived()
	m.MessageSent()
	m.WebhookDelivery(metrics.WebhookSuccess, 120*time.Millisecond)
	m.WebhookDelivery(metrics.WebhookFailure, 2*time.Second)
	m.WebhookDelivery(metrics.WebhookDead, time.Second)
	m.WebhookDelivery("something-else", time.Second) // counted as failure

	c := m.Registry()
	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := counterValue(t, c, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	check("wagate_messages_total", map[string]string{"direction": "in"}, 2)
	check("wagate_messages_total", map[string]string{"direction": "out"}, 1)
	check("wagate_webhook_deliveries_total", map[string]string{"result": "success"}, 1)
	check("wagate_webhook_deliveries_total", map[string]string{"result": "failure"}, 2)
	check("wagate_webhook_deliveries_total", map[string]string{"result": "dead"}, 1)
	if n := histogramCount(t, c, "wagate_webhook_delivery_duration_seconds", map[string]string{"result": "success"}); n != 1 {
		t.Errorf("success latency samples = %d", n)
	}
	if s := histogramSum(t, c, "wagate_webhook_delivery_duration_seconds", map[string]string{"result": "failure"}); s != 3 {
		t.Errorf("failure latency sum = %v, want 3", s)
	}
	if strings.Contains(scrape(t, m), "something-else") {
		t.Error("unknown result leaked into a label")
	}
}

type fakeCounter struct {
	mu     sync.Mutex
	counts map[string]int
	err    error
	calls  int
}

func (f *fakeCounter) CountSessionsByState(ctx context.Context) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("no deadline")
	}
	return f.counts, f.err
}

func TestSessionsGauge(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	if strings.Contains(scrape(t, m), "wagate_sessions{") {
		t.Fatal("sessions reported before a counter was set")
	}
	f := &fakeCounter{counts: map[string]int{"connected": 3, "qr_ready": 1, "weird": 2}}
	m.SetSessionCounter(f)

	text := scrape(t, m)
	for _, line := range []string{
		`wagate_sessions{state="connected"} 3`,
		`wagate_sessions{state="qr_ready"} 1`,
		`wagate_sessions{state="failed"} 0`,
		`wagate_sessions{state="starting"} 0`,
		`wagate_sessions{state="weird"} 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks %q", line)
		}
	}

	// Live: the next scrape sees the new numbers.
	f.mu.Lock()
	f.counts = map[string]int{"connected": 4}
	f.mu.Unlock()
	if text := scrape(t, m); !strings.Contains(text, `wagate_sessions{state="connected"} 4`) {
		t.Errorf("second scrape did not re-read the counter")
	}

	// A failing counter drops the series and counts the error.
	f.mu.Lock()
	f.err = errors.New("db down")
	f.mu.Unlock()
	text = scrape(t, m)
	if strings.Contains(text, "wagate_sessions{") {
		t.Error("sessions reported although counting failed")
	}
	if !strings.Contains(text, "wagate_session_count_errors_total 1\n") {
		t.Error("error not counted")
	}
	if f.calls != 3 {
		t.Errorf("counter called %d times, want 3", f.calls)
	}
}

func TestHandlerServesPrometheusText(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetSessionCounter(metrics.SessionCounterFunc(func(context.Context) (map[string]int, error) {
		return map[string]int{"connected": 1}, nil
	}))
	m.MessageSent()
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE wagate_sessions gauge",
		`wagate_messages_total{direction="out"} 1`,
		"# TYPE wagate_webhook_deliveries_total counter",
		"wagate_http_requests_in_flight 0",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q", want)
		}
	}
}

func TestOwnRegistry(t *testing.T) {
	t.Parallel()
	// Two instances do not collide, and nothing lands on the default registry.
	a, b := metrics.New(), metrics.New()
	a.MessageSent()
	if got := counterValue(t, b.Registry(), "wagate_messages_total", map[string]string{"direction": "out"}); got != 0 {
		t.Errorf("b saw a's message: %v", got)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "wagate_") {
			t.Errorf("%s registered globally", mf.GetName())
		}
	}
}

// helpers

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	text, err := m.Text()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func find(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range mt.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return mt
		}
	}
	return nil
}

func counterValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	if mt := find(t, g, name, labels); mt != nil {
		return mt.GetCounter().GetValue()
	}
	return 0
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) uint64 {
	t.Helper()
	if mt := find(t, g, name, labels); mt != nil {
		return mt.GetHistogram().GetSampleCount()
	}
	return 0
}

func histogramSum(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	if mt := find(t, g, name, labels); mt != nil {
		return mt.GetHistogram().GetSampleSum()
	}
	return 0
}
