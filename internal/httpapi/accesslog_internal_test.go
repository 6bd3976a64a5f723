package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// The access log names the request but never its key: the api_key query
// parameter is redacted, headers and bodies are not logged.
func TestAccessLogRedactsKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(log.WithContext(c.Request().Context())))
			return next(c)
		}
	}, accessLog())
	e.POST("/sessions/:id/send", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"success": true}) })

	const secret = "wask_0123456789abcdef0123456789abcdef0123456789abcdef"
	req := httptest.NewRequest(http.MethodPost, "/sessions/x/send?api_key="+secret+"&limit=5", strings.NewReader(`{"to":"15550002222","text":"a private message"}`))
	req.Header.Set("X-API-Key", secret)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)

	line := buf.String()
	if !strings.Contains(line, `"message":"request"`) || !strings.Contains(line, `"status":200`) {
		t.Fatalf("no access log line: %s", line)
	}
	for _, leak := range []string{secret, "a private message", "15550002222"} {
		if strings.Contains(line, leak) {
			t.Errorf("access log contains %q: %s", leak, line)
		}
	}
	if !strings.Contains(line, "api_key=REDACTED") || !strings.Contains(line, "limit=5") {
		t.Errorf("query not logged with api_key redacted: %s", line)
	}
}
