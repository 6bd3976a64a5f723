package testkit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SSEEvent is one dispatched Server-Sent Event, or a comment line.
type SSEEvent struct {
	ID, Event, Data string
	// Comment is the text of a comment line (": heartbeat"); the other
	// fields are empty then.
	Comment string
}

// SSEStream reads a text/event-stream response.
type SSEStream struct {
	Resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// OpenSSE GETs url with header (not through the contract transport: the
// body never ends) and fails tb unless it answers 200 text/event-stream.
// The whole exchange is bounded by limit, so a stream that stops sending
// fails the test instead of hanging it.
func OpenSSE(tb testing.TB, url string, header http.Header, limit time.Duration) *SSEStream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("open %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		cancel()
		tb.Fatalf("open %s: %d %s: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &SSEStream{Resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	tb.Cleanup(s.Close)
	return s
}

// Next returns the next event or comment (EventSource's parsing: fields
// up to a blank line; "data" lines joined by newlines).
func (s *SSEStream) Next() (SSEEvent, error) {
	var ev SSEEvent
	var data []string
	has := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && has {
				return SSEEvent{}, io.ErrUnexpectedEOF
			}
			return SSEEvent{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !has {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			return ev, nil
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			if !has {
				return SSEEvent{Comment: strings.TrimSpace(c)}, nil
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID, has = value, true
		case "event":
			ev.Event, has = value, true
		case "data":
			data, has = append(data, value), true
		case "retry":
		}
	}
}

// NextEvent is Next skipping comments.
func (s *SSEStream) NextEvent() (SSEEvent, error) {
	for {
		ev, err := s.Next()
		if err != nil || ev.Comment == "" {
			return ev, err
		}
	}
}

// Close ends the stream.
func (s *SSEStream) Close() {
	s.cancel()
	_ = s.Resp.Body.Close()
}
