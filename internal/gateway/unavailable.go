package gateway

// MsgDatabaseUnavailable answers (503, with Retry-After) every request that
// needs the database while it cannot be reached.
const MsgDatabaseUnavailable = "Database temporarily unavailable. Please retry."

// DatabaseRetryAfter is the Retry-After (seconds) of MsgDatabaseUnavailable.
const DatabaseRetryAfter = 2

// ErrDatabaseUnavailable wraps cause as the 503 of a database outage.
func ErrDatabaseUnavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: MsgDatabaseUnavailable, RetryAfter: DatabaseRetryAfter, Err: cause}
}

// StillConnectingRetryAfter is the Retry-After (seconds) of
// MsgStillConnecting: a client reconnecting, or a session a node has just
// adopted in a cluster, is usually connected within a couple of seconds.
const StillConnectingRetryAfter = 2

// ErrStillConnecting is the 503 of a session whose client is not connected
// (yet); cause (may be nil) is kept for the logs.
func ErrStillConnecting(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: MsgStillConnecting, RetryAfter: StillConnectingRetryAfter, Err: cause}
}
