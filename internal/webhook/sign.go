package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderSignature = "X-Wagate-Signature"
	HeaderTimestamp = "X-Wagate-Timestamp"
	HeaderEventID   = "X-Wagate-Event-Id"
	HeaderEventType = "X-Wagate-Event-Type"
)

// signatureVersion prefixes each signature in HeaderSignature.
const signatureVersion = "v1="

// Errors returned by Verify.
var (
	ErrBadTimestamp = errors.New("webhook: timestamp is not unix seconds")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
	ErrNoSignature  = errors.New("webhook: no v1 signature in the header")
	ErrMismatch     = errors.New("webhook: signature does not match")
)

// Sign returns the X-Wagate-Signature value for body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, "<unix seconds>." + body)).
func Sign(secret string, ts time.Time, body []byte) string {
	return signatureVersion + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as a receiver should: header is the
// X-Wagate-Signature value (one or more "v1=<hex>" separated by commas or
// spaces; any match is enough), timestamp the X-Wagate-Timestamp value and
// body the raw request body. A timestamp further than tolerance from now is
// refused (ErrStale), which makes a captured request useless for replay
// after that window; receivers drop duplicates within it by event id.
// A tolerance of 0 or less skips the time check.
func Verify(secret, header, timestamp string, body []byte, tolerance time.Duration) error {
	timestamp = strings.TrimSpace(timestamp)
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if tolerance > 0 {
		age := time.Since(time.Unix(sec, 0))
		if age > tolerance || age < -tolerance {
			return ErrStale
		}
	}
	want := mac(secret, timestamp, body)
	found := false
	for _, part := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ' ' }) {
		hexSig, ok := strings.CutPrefix(part, signatureVersion)
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return ErrNoSignature
	}
	return ErrMismatch
}
