package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// releaseStore records what the middleware settles.
type releaseStore struct {
	released, completed []string
}

func (s *releaseStore) Claim(context.Context, uuid.UUID, string, string, time.Duration) (gateway.IdempotencyState, []byte, error) {
	return gateway.IdemClaimed, nil, nil
}

func (s *releaseStore) Complete(_ context.Context, _ uuid.UUID, key string, _ []byte) error {
	s.completed = append(s.completed, key)
	return nil
}

func (s *releaseStore) Release(_ context.Context, _ uuid.UUID, key string) error {
	s.released = append(s.released, key)
	return nil
}

// TestIdempotencyReleasesOnPanic: a handler that panics (recoverPanic
// answers 500 further out) leaves the key free, so a retry acts instead
// of waiting for an answer that never comes; the response writer is
// restored.
func TestIdempotencyReleasesOnPanic(t *testing.T) {
	st := &releaseStore{}
	m := &idempotency{store: st}
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodPost, "/x", nil), rec)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_ = m.run(c, uuid.New(), "k", func(echo.Context) error { panic("boom") })
	}()
	if len(st.released) != 1 || len(st.completed) != 0 {
		t.Fatalf("released %v, completed %v", st.released, st.completed)
	}
	if c.Response().Writer != rec {
		t.Fatal("response writer not restored")
	}
	// A handler's error also releases; a 2xx completes.
	_ = m.run(c, uuid.New(), "e", func(echo.Context) error { return gateway.E(gateway.CodeUnavailable, "x") })
	c = e.NewContext(httptest.NewRequest(http.MethodPost, "/x", nil), httptest.NewRecorder())
	_ = m.run(c, uuid.New(), "ok", func(c echo.Context) error { return c.JSON(200, map[string]bool{"success": true}) })
	if len(st.released) != 2 || len(st.completed) != 1 || st.completed[0] != "ok" {
		t.Fatalf("released %v, completed %v", st.released, st.completed)
	}
}
