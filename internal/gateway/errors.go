package gateway

import (
	"errors"
	"fmt"
)

// Code classifies an Error. The HTTP layer maps each code to one status in one
// table; nothing else decides statuses.
type Code string

// The closed set of error codes.
const (
	CodeInvalid       Code = "invalid"       // 400: bad input
	CodeUnauthorized  Code = "unauthorized"  // 401: missing or unknown key
	CodeForbidden     Code = "forbidden"     // 403: key may not act here
	CodeNotFound      Code = "not_found"     // 404
	CodeConflict      Code = "conflict"      // 409: duplicate, or wrong state (e.g. not linked)
	CodeTooLarge      Code = "too_large"     // 413
	CodeUnprocessable Code = "unprocessable" // 422: operation not allowed on this message
	CodeRateLimited   Code = "rate_limited"  // 429
	CodeUnavailable   Code = "unavailable"   // 503: connecting, WhatsApp unreachable
	CodeInternal      Code = "internal"      // 500: never shows its message to clients
)

// Exact error texts. Clients match on them; they come from the product's
// documentation and must not change.
const (
	MsgAPIKeyRequired   = "API key required. Please provide an API key via X-API-Key header, Authorization header, or api_key query parameter."
	MsgInvalidAPIKey    = "Invalid API key"
	MsgForeignSession   = "This API key can only access its own session"
	MsgAdminKeyRequired = "This operation requires an admin API key"
	MsgSessionNotFound  = "Session not found"
	MsgSessionNameTaken = "Session name already exists"
	MsgNotAuthenticated = "Session not authenticated. Please scan the QR code first using GET /sessions/{id}/qr"
	MsgStillConnecting  = "Session is still connecting. Please wait."
	// MsgSessionMoving is the 503 of a session whose lease another node
	// holds or is taking over (a handover).
	MsgSessionMoving     = "Session is moving to another node. Please retry."
	MsgMessageNotFound   = "Message not found"
	MsgCannotEdit        = "Message cannot be edited (too old or not sent by you)"
	MsgCannotDelete      = "Message cannot be deleted (too old or not sent by you)"
	MsgInternal          = "Internal server error"
	MsgBodyTooLarge      = "Request body too large"
	MsgRouteNotFound     = "Not found"
	MsgMethodNotAllowed  = "Method not allowed"
	msgQRNotAvailableFmt = "QR code not available yet. Session state: %s"
	msgRateLimitedFmt    = "Rate limit exceeded. Please wait %d seconds before trying again."
)

// MsgQRNotAvailable is the exact text for a QR request before a QR exists.
func MsgQRNotAvailable(state SessionState) string { return fmt.Sprintf(msgQRNotAvailableFmt, state) }

// MsgRateLimited is the exact text of a 429 answer.
func MsgRateLimited(retryAfter int) string { return fmt.Sprintf(msgRateLimitedFmt, retryAfter) }

// Error is the one error type that crosses package boundaries. Message is
// shown to clients (except for CodeInternal); Err is for logs only.
type Error struct {
	Code       Code
	Message    string
	RetryAfter int   // seconds; set for CodeRateLimited and optionally CodeUnavailable
	Err        error // cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted client-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// E builds an Error with a fixed client-facing message.
func E(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap builds an Error that keeps cause for the logs.
func Wrap(code Code, msg string, cause error) *Error {
	return &Error{Code: code, Message: msg, Err: cause}
}

// ErrorCode returns the code of err: the Code of a wrapped *Error, or
// CodeInternal for anything else (nil gives "").
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-facing text of err; internal errors give
// MsgInternal so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return MsgInternal
}
