package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// validRequestID bounds what a client may pass as X-Request-Id.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID takes X-Request-Id from the client when well-formed or makes
// one, echoes it in the response, and puts a logger with request_id into the
// request context.
func requestID(log zerolog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			id := req.Header.Get(echo.HeaderXRequestID)
			if !validRequestID.MatchString(id) {
				var b [16]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			l := log.With().Str("request_id", id).Logger()
			c.SetRequest(req.WithContext(l.WithContext(req.Context())))
			return next(c)
		}
	}
}

// redactedQuery returns the query string with api_key values replaced.
func redactedQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	q := u.Query()
	if _, ok := q["api_key"]; ok {
		q.Set("api_key", "REDACTED")
	}
	return q.Encode()
}

// accessLog writes one line per request: never keys or bodies; the api_key
// query parameter is redacted. Errors are rendered first (c.Error) so that
// the logged status is the one sent.
func accessLog() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req := c.Request()
			res := c.Response()
			l := zerolog.Ctx(req.Context())
			ev := l.Info()
			if res.Status >= 500 {
				ev = l.Error()
			}
			ev = ev.Str("method", req.Method).
				Str("path", req.URL.Path).
				Int("status", res.Status).
				Int64("bytes_out", res.Size).
				Dur("duration", time.Since(start)).
				Str("remote_ip", c.RealIP())
			if q := redactedQuery(req.URL); q != "" {
				ev = ev.Str("query", q)
			}
			// operation_id and key_id are already on the context logger.
			ev.Msg("request")
			return nil
		}
	}
}

// recoverPanic turns a panic in a handler into an internal error (500 with
// no detail; the stack goes to the log).
func recoverPanic() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				if r == http.ErrAbortHandler {
					panic(r)
				}
				zerolog.Ctx(c.Request().Context()).Error().
					Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).Msg("handler panicked")
				err = gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, fmt.Errorf("panic: %v", r))
			}()
			return next(c)
		}
	}
}

// limitBody reads the request body up to limit (the operation's body class)
// and answers 413 beyond it. Buffering is fine: the validator reads the
// whole body anyway.
func limitBody(req *http.Request, limit int64) error {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	if req.ContentLength > limit {
		return gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)
	}
	b, err := readAtMost(req.Body, req.ContentLength, limit)
	_ = req.Body.Close()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)
		}
		return gateway.Wrap(gateway.CodeInvalid, "Could not read the request body", err)
	}
	if int64(len(b)) > limit {
		return gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)
	}
	req.Body = &readBody{Reader: bytes.NewReader(b), data: b}
	req.ContentLength = int64(len(b))
	return nil
}

// readBody is a request body limitBody read: later readers of the whole
// body (guardText) take data instead of copying it.
type readBody struct {
	*bytes.Reader
	data []byte
}

func (*readBody) Close() error { return nil }

// readAtMost reads r up to limit+1 bytes: into one buffer of the announced
// size when it is known (not ReadAll's doublings and final copy).
func readAtMost(r io.Reader, announced, limit int64) ([]byte, error) {
	if announced < 0 || announced > limit {
		return io.ReadAll(io.LimitReader(r, limit+1))
	}
	b := make([]byte, announced+1)
	n, err := io.ReadFull(r, b)
	switch {
	case err == nil: // more than announced: the server stops at ContentLength, so this is not expected
		rest, err := io.ReadAll(io.LimitReader(r, limit+1-int64(n)))
		return append(b[:n], rest...), err
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return b[:n], nil
	}
	return b[:n], err
}
