package docsui_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDocsRenderInChromium loads /docs/ in headless chromium (no network
// beyond the test server) and checks that Swagger UI rendered the embedded
// spec under the Content-Security-Policy: operations, and no CSP violation.
func TestDocsRenderInChromium(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
	}
	ts := newServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=10000", "--dump-dom", ts.URL+"/docs/")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	for _, want := range []string{
		"wagate WhatsApp HTTP API", // info.title
		"/sessions/{id}/chats/{chatId}/archive",
		"/sandbox/sessions/{id}/link",
		"Authorize",
		"opblock-tag", // operation groups rendered
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered docs lack %q", want)
		}
	}
	if strings.Contains(stderr.String(), "Content Security Policy") {
		t.Errorf("CSP violations:\n%s", stderr.String())
	}
	if strings.Contains(dom, "validator.swagger.io") {
		t.Error("the online validator badge is on the page")
	}
}
