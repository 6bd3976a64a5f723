package metrics

import "github.com/prometheus/client_golang/prometheus"

func newReconnects() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wagate_reconnects_total",
		Help: "WhatsApp reconnects of linked sessions, by reason (connection_closed, stream_error, connect_failure, liveness, keepalive, login_timeout, connect_failed, database, other).",
	}, []string{"reason"})
}

// Reconnect counts one reconnect of a session's WhatsApp connection. The
// caller passes a reason from a closed set (whatsapp.ReconnectReasons), so
// the label stays bounded.
func (m *Metrics) Reconnect(reason string) { m.reconnects.WithLabelValues(reason).Inc() }

// InitReconnectReasons creates the series of every reason at zero, so a
// reason's series exists before its first reconnect.
func (m *Metrics) InitReconnectReasons(reasons []string) {
	for _, r := range reasons {
		m.reconnects.WithLabelValues(r)
	}
}
