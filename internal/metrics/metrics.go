// Package metrics exposes wagate's Prometheus metrics from a registry of its
// own (nothing is registered on prometheus.DefaultRegisterer).
//
// Metrics:
//
//	wagate_sessions{state}                                gauge, read at scrape time from a SessionCounter
//	wagate_session_count_errors_total                     counter, failed SessionCounter calls
//	wagate_messages_total{direction="in"|"out"}           counter
//	wagate_webhook_deliveries_total{result}               counter (result: success, failure, dead)
//	wagate_webhook_delivery_duration_seconds{result}      histogram
//	wagate_http_requests_total{route,method,status}       counter
//	wagate_http_request_duration_seconds{route,method}    histogram
//	wagate_http_requests_in_flight                        gauge
//	wagate_reconnects_total{reason}                       counter, WhatsApp reconnects by reason (reconnects.go)
//	go_*, process_*                                       the Go runtime and process collectors
//
// The HTTP route label is the Echo route template (c.Path(), e.g.
// "/sessions/:id/send"), never the raw URL, so label cardinality stays bounded
// by the number of routes.
package metrics

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// SessionStates lists every session state of the API (SessionState in
// openapi.yaml). The sessions gauge reports all of them, zeros included, so a
// state's series never vanishes when its count drops to zero.
var SessionStates = []string{
	"starting", "qr_ready", "pairing", "connected",
	"disconnected", "logged_out", "stopped", "failed",
}

// SessionCounter reports how many sessions are in each state. It is called
// on every scrape, with a deadline of SessionCountTimeout; states it omits
// count as zero, states outside SessionStates are reported as they are.
type SessionCounter interface {
	CountSessionsByState(ctx context.Context) (map[string]int, error)
}

// SessionCounterFunc adapts a function to SessionCounter.
type SessionCounterFunc func(ctx context.Context) (map[string]int, error)

// CountSessionsByState calls f.
func (f SessionCounterFunc) CountSessionsByState(ctx context.Context) (map[string]int, error) {
	return f(ctx)
}

// SessionCountTimeout bounds one SessionCounter call during a scrape.
const SessionCountTimeout = 5 * time.Second

// Webhook delivery results, the values of the result label.
const (
	WebhookSuccess = "success" // the receiver answered 2xx
	WebhookFailure = "failure" // the attempt failed; the delivery will be retried
	WebhookDead    = "dead"    // the attempt failed and no retry is left
)

// Metrics holds wagate's collectors and their registry. The zero value is
// not usable; call New. All methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	messages          *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	webhookDuration   *prometheus.HistogramVec
	httpRequests      *prometheus.CounterVec
	httpDuration      *prometheus.HistogramVec
	httpInFlight      prometheus.Gauge
	reconnects        *prometheus.CounterVec // reconnects.go
	sessions          *sessionCollector
	pool              *poolCollector
	notFoundPaths     sync.Map // route path -> only a RouteNotFound route (bool)
}

// New returns Metrics with every collector registered on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagate_messages_total",
			Help: "WhatsApp messages handled, by direction: in (received) or out (sent through the API).",
		}, []string{"direction"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagate_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: success, failure (will retry) or dead (no retry left).",
		}, []string{"result"}),
		webhookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wagate_webhook_delivery_duration_seconds",
			Help:    "Duration of webhook delivery attempts, by result.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagate_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wagate_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wagate_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		reconnects: newReconnects(),
		sessions:   newSessionCollector(),
		pool:       newPoolCollector(),
	}
	for _, d := range []string{"in", "out"} {
		m.messages.WithLabelValues(d)
	}
	for _, r := range []string{WebhookSuccess, WebhookFailure, WebhookDead} {
		m.webhookDeliveries.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.messages, m.webhookDeliveries, m.webhookDuration,
		m.httpRequests, m.httpDuration, m.httpInFlight,
		m.sessions, m.pool, m.reconnects,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSessionCounter sets where the sessions gauge reads its numbers. Until it
// is called (or with nil) the gauge reports nothing.
func (m *Metrics) SetSessionCounter(c SessionCounter) { m.sessions.set(c) }

// MessageReceived counts one message received from WhatsApp.
func (m *Metrics) MessageReceived() { m.messages.WithLabelValues("in").Inc() }

// MessageSent counts one message sent to WhatsApp.
func (m *Metrics) MessageSent() { m.messages.WithLabelValues("out").Inc() }

// WebhookDelivery records one delivery attempt with its result (WebhookSuccess,
// WebhookFailure or WebhookDead; anything else is recorded as WebhookFailure)
// and how long it took.
func (m *Metrics) WebhookDelivery(result string, took time.Duration) {
	switch result {
	case WebhookSuccess, WebhookFailure, WebhookDead:
	default:
		result = WebhookFailure
	}
	m.webhookDeliveries.WithLabelValues(result).Inc()
	m.webhookDuration.WithLabelValues(result).Observe(took.Seconds())
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // counts its own scrapes and errors
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Text gathers the registry and returns it in the Prometheus text format
// (version 0.0.4), for a handler that must return the body itself, such as
// the strict server's GetMetrics. On a partial gather failure it returns
// what was gathered together with the error.
func (m *Metrics) Text() (string, error) {
	mfs, gerr := m.reg.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return buf.String(), err
		}
	}
	return buf.String(), gerr
}

// Unmatched is the route label of requests that matched no route.
const Unmatched = "unmatched"

// Middleware records every request: count by route, method and status,
// latency by route and method, and requests in flight. The route is Echo's
// route template (c.Path()).
//
// Install it first (outermost), so it sees the final status of every
// request, including those that fail in later middleware. When the next
// handler returns an error, the middleware hands it to Echo's
// HTTPErrorHandler at once (c.Error) to learn the status it writes, and
// returns nil, so the error is rendered exactly once.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			m.httpInFlight.Inc()
			defer m.httpInFlight.Dec()

			if err := next(c); err != nil {
				c.Error(err)
			}

			route := c.Path()
			if route == "" || isNotFound(c.Handler()) ||
				(c.Response().Status == http.StatusNotFound && m.onlyNotFound(c.Echo(), route)) {
				// Echo leaves the path of the closest node when nothing
				// matched, or the path of a catch-all RouteNotFound route
				// (Group.Use registers "/*" ones): neither is a real route.
				route = Unmatched
			}
			method := normMethod(c.Request().Method)
			status := c.Response().Status
			m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// onlyNotFound reports whether path is registered on e only as a
// RouteNotFound route (cached per path: routes are registered before serving).
func (m *Metrics) onlyNotFound(e *echo.Echo, path string) bool {
	if v, ok := m.notFoundPaths.Load(path); ok {
		return v.(bool)
	}
	nf, other := false, false
	for _, r := range e.Routes() {
		if r.Path != path {
			continue
		}
		if r.Method == echo.RouteNotFound {
			nf = true
		} else {
			other = true
		}
	}
	only := nf && !other
	m.notFoundPaths.Store(path, only)
	return only
}

var notFoundPtr = reflect.ValueOf(echo.NotFoundHandler).Pointer()

func isNotFound(h echo.HandlerFunc) bool {
	return h != nil && reflect.ValueOf(h).Pointer() == notFoundPtr
}

func normMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// sessionCollector reports wagate_sessions{state} by asking a SessionCounter
// at scrape time, so the numbers come from the source of truth (the session
// manager or the database) instead of being kept in step by hand.
type sessionCollector struct {
	desc   *prometheus.Desc
	errs   prometheus.Counter
	mu     sync.RWMutex
	source SessionCounter
}

func newSessionCollector() *sessionCollector {
	return &sessionCollector{
		desc: prometheus.NewDesc("wagate_sessions", "Sessions by state.", []string{"state"}, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wagate_session_count_errors_total",
			Help: "Scrapes in which counting sessions by state failed (wagate_sessions was left out).",
		}),
	}
}

func (s *sessionCollector) set(c SessionCounter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.source = c
}

func (s *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.desc
	s.errs.Describe(ch)
}

func (s *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	src := s.source
	s.mu.RUnlock()
	if src != nil {
		s.collectSessions(ch, src)
	}
	ch <- s.errs
}

func (s *sessionCollector) collectSessions(ch chan<- prometheus.Metric, src SessionCounter) {
	ctx, cancel := context.WithTimeout(context.Background(), SessionCountTimeout)
	defer cancel()
	counts, err := src.CountSessionsByState(ctx)
	if err != nil {
		// Leave the series out rather than report made-up zeros.
		s.errs.Inc()
		return
	}
	seen := make(map[string]bool, len(SessionStates))
	for _, st := range SessionStates {
		seen[st] = true
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(counts[st]), st)
	}
	for st, n := range counts {
		if !seen[st] {
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n), st)
		}
	}
}
