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
