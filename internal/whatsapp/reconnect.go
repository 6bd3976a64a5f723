package whatsapp

import "strings"

// MsgClientOutdated is the session's lastError when WhatsApp answers a
// login with 405 (events.ClientOutdated): no reconnect can help, only a
// wagate release with a newer whatsmeow.
const MsgClientOutdated = "WhatsApp rejected this client version; upgrade wagate"

// Reconnect reasons: the values Options.OnReconnect receives (the label of
// wagate_reconnects_total). The set is closed so the label stays bounded.
const (
	ReasonClosed         = "connection_closed" // the socket closed (server, network)
	ReasonStreamError    = "stream_error"      // <stream:error> (ack, ping, 503, unknown)
	ReasonConnectFailure = "connect_failure"   // <failure> at login that may pass
	ReasonLiveness       = "liveness"          // the liveness probe got no answer
	ReasonKeepAlive      = "keepalive"         // whatsmeow's keepalives timed out
	ReasonLoginTimeout   = "login_timeout"     // the socket never logged in
	ReasonConnectFailed  = "connect_failed"    // the socket could not be opened
	ReasonDatabase       = "database"          // the database was unavailable (dbguard.go)
	ReasonOther          = "other"
)

// ReconnectReasons lists every reason, for metrics that pre-create their series.
var ReconnectReasons = []string{ReasonClosed, ReasonStreamError, ReasonConnectFailure, ReasonLiveness,
	ReasonKeepAlive, ReasonLoginTimeout, ReasonConnectFailed, ReasonDatabase, ReasonOther}

// reconnectReason classifies the lastError text a connection ended with.
func reconnectReason(msg string) string {
	switch {
	case strings.HasPrefix(msg, "connection closed"):
		return ReasonClosed
	case strings.HasPrefix(msg, "stream error"):
		return ReasonStreamError
	case strings.HasPrefix(msg, "connect failure"):
		return ReasonConnectFailure
	case strings.Contains(msg, "liveness"):
		return ReasonLiveness
	case strings.Contains(msg, "keepalive"):
		return ReasonKeepAlive
	case strings.HasPrefix(msg, "login timed out"):
		return ReasonLoginTimeout
	case strings.HasPrefix(msg, "connect failed"):
		return ReasonConnectFailed
	case strings.Contains(msg, "database"):
		return ReasonDatabase
	}
	return ReasonOther
}

// noteReconnect reports that the session lost (or could not get) its
// connection and will reconnect.
func (s *Session) noteReconnect(msg string) {
	if f := s.m.opts.OnReconnect; f != nil {
		f(reconnectReason(msg))
	}
}
