package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/net/html"

	"github.com/wagate-dev/wagate/internal/dashboard"
)

const (
	adminKey   = "wamk_dashboardtest0123456789abcdef"
	sessionKey = "wask_dashboardtestdelta0123456789" // delta's session key
)

const (
	alphaID = "11111111-1111-4111-8111-111111111111" // qr_ready, PNG available
	betaID  = "22222222-2222-4222-8222-222222222222" // qr_ready, PNG refused: raw string
	gammaID = "33333333-3333-4333-8333-333333333333" // starting, then connected
	deltaID = "44444444-4444-4444-8444-444444444444" // connected
	betaQR  = "2@beta-raw-qr-payload,AbCdEf==,XyZ=="
)

// fakeAPI is the slice of wagate's API the dashboard uses, with the same
// paths, key header and JSON shapes (SessionListResponse, QRResponse,
// ErrorResponse).
type fakeAPI struct {
	inbox     inboxState
	mu        sync.Mutex
	listCalls int
	urls      []string
	keyed     int
	qrPNG     []byte
}

func newFakeAPI(t *testing.T) (*fakeAPI, *httptest.Server) {
	t.Helper()
	png, err := qrcode.Encode("2@alpha-qr-payload", qrcode.Medium, 256)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAPI{qrPNG: png}
	e := echo.New()
	dashboard.Register(e)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			f.mu.Lock()
			f.urls = append(f.urls, c.Request().URL.String())
			f.mu.Unlock()
			return next(c)
		}
	})
	auth := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			k := c.Request().Header.Get("X-API-Key")
			if k == "" {
				return c.JSON(http.StatusUnauthorized, map[string]any{"success": false, "error": "API key required. Please provide an API key via X-API-Key header, Authorization header, or api_key query parameter."})
			}
			if k == sessionKey && !strings.HasPrefix(c.Request().URL.Path, "/sessions/"+deltaID) {
				return c.JSON(http.StatusForbidden, map[string]any{"success": false, "error": "This API key does not have access to this resource"})
			}
			if k != adminKey && k != sessionKey {
				return c.JSON(http.StatusUnauthorized, map[string]any{"success": false, "error": "Invalid API key"})
			}
			f.mu.Lock()
			f.keyed++
			f.mu.Unlock()
			return next(c)
		}
	}
	e.GET("/sessions", func(c echo.Context) error {
		f.mu.Lock()
		f.listCalls++
		n := f.listCalls
		f.mu.Unlock()
		gamma := "starting"
		if n >= 3 {
			gamma = "connected"
		}
		phone := "15550001111"
		return c.JSON(http.StatusOK, map[string]any{"success": true, "sessions": []map[string]any{
			{"id": alphaID, "name": "alpha-shop", "state": "qr_ready", "createdAt": "2026-01-28T10:00:00Z"},
			{"id": betaID, "name": "beta <b>bold</b>", "state": "qr_ready", "createdAt": "2026-01-28T10:01:00Z"},
			{"id": gammaID, "name": "gamma-support", "state": gamma, "createdAt": "2026-01-28T10:02:00Z"},
			{"id": deltaID, "name": "delta-sales", "state": "connected", "phone": phone, "createdAt": "2026-01-28T10:03:00Z"},
		}})
	}, auth)
	e.GET("/sessions/"+deltaID, func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"success": true, "session": map[string]any{
			"id": deltaID, "name": "delta-sales", "state": "connected", "phone": "15550001111", "createdAt": "2026-01-28T10:03:00Z",
		}})
	}, auth)
	e.GET("/sessions/:id/qr", func(c echo.Context) error {
		png := c.QueryParam("format") == "png"
		switch {
		case c.Param("id") == alphaID && png:
			return c.Blob(http.StatusOK, "image/png", f.qrPNG)
		case c.Param("id") == betaID && png:
			return c.JSON(http.StatusNotImplemented, map[string]any{"success": false, "error": "Not implemented yet"})
		case c.Param("id") == betaID || c.Param("id") == alphaID:
			qr := betaQR
			if c.Param("id") == alphaID {
				qr = "2@alpha-qr-payload"
			}
			return c.JSON(http.StatusOK, map[string]any{"success": true, "qr": qr, "state": "qr_ready"})
		}
		return c.JSON(http.StatusConflict, map[string]any{"success": false, "error": "QR code not available yet. Session state: connected"})
	}, auth)
	f.inboxRoutes(e, auth)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return f, ts
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	_, ts := newFakeAPI(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Get(ts.URL + "/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("GET /dashboard: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	for path, ctype := range map[string]string{
		"/dashboard/":              "text/html",
		"/dashboard/dashboard.js":  "javascript",
		"/dashboard/dashboard.css": "text/css",
		"/dashboard/api.js":        "javascript",
		"/dashboard/inbox.js":      "javascript",
		"/dashboard/ui.js":         "javascript",
	} {
		resp, err := client.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		text := string(body)
		for _, bad := range []string{"http://", "https://", "cdn", "innerHTML"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q: everything must come from this origin and be built without HTML injection", path, bad)
			}
		}
		if path == "/dashboard/" && strings.Count(text, "<script") != strings.Count(text, `<script type="module" src=`) {
			t.Errorf("index.html has an inline script")
		}
	}
}

// chromium runs headless Debian chromium on url with extra flags and returns
// its stdout.
func chromium(t *testing.T, url string, extra ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--enable-logging=stderr", "--v=0", // console messages, CSP reports included
		"--user-data-dir=" + t.TempDir(),
	}
	args = append(args, extra...)
	args = append(args, url)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", extra, err, tail(stderr.String(), 3000))
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", line)
		}
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	f, ts := newFakeAPI(t)

	// 7 s of virtual time: the page polls at 0, 2, 4 and 6 s; gamma turns
	// connected on the third list.
	dom := chromium(t, ts.URL+"/dashboard/#key="+adminKey, "--virtual-time-budget=7000", "--dump-dom")
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatalf("parse DOM: %v", err)
	}
	if body := find(doc, func(n *html.Node) bool { return n.Data == "body" }); attr(body, "data-loaded") != "true" {
		t.Fatalf("the page never finished a refresh; DOM:\n%s", tail(string(dom), 4000))
	}
	if n := find(doc, byID("board")); n == nil || hasAttr(n, "hidden") {
		t.Fatal("sessions board hidden")
	}
	if n := find(doc, byID("login")); n == nil || !hasAttr(n, "hidden") {
		t.Fatal("login form shown although the key was given")
	}

	// Every session is listed with its current state.
	want := map[string]struct{ name, state string }{
		alphaID: {"alpha-shop", "qr_ready"},
		betaID:  {"beta <b>bold</b>", "qr_ready"},
		gammaID: {"gamma-support", "connected"},
		deltaID: {"delta-sales", "connected"},
	}
	rows := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })
	if len(rows) != len(want) {
		t.Fatalf("%d session rows, want %d", len(rows), len(want))
	}
	for _, tr := range rows {
		w, ok := want[attr(tr, "data-id")]
		if !ok {
			t.Errorf("unexpected row %s", attr(tr, "data-id"))
			continue
		}
		if got := text(find(tr, byClass("name"))); got != w.name {
			t.Errorf("row %s name %q, want %q (names are text, never HTML)", attr(tr, "data-id"), got, w.name)
		}
		if got := text(find(tr, byClass("state"))); got != w.state || attr(tr, "data-state") != w.state {
			t.Errorf("row %s state %q / data-state %q, want %q", w.name, got, attr(tr, "data-state"), w.state)
		}
	}
	if find(doc, func(n *html.Node) bool { return n.Data == "b" }) != nil {
		t.Error("a session name was rendered as HTML")
	}
	if got := text(find(find(doc, func(n *html.Node) bool { return attr(n, "data-id") == deltaID && n.Data == "tr" }), byClass("phone"))); got != "15550001111" {
		t.Errorf("delta phone %q", got)
	}

	// The state change was picked up without a reload, and highlighted.
	gamma := find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") == gammaID })
	if !hasClass(gamma, "changed") || attr(gamma, "data-previous-state") != "starting" {
		t.Errorf("gamma row not highlighted as changed from starting: class=%q prev=%q", attr(gamma, "class"), attr(gamma, "data-previous-state"))
	}
	changes := findAll(doc, byClass("change"))
	if len(changes) != 1 || !strings.Contains(text(changes[0]), "gamma-support: starting → connected") {
		t.Errorf("change log %q, want one entry gamma-support: starting → connected", texts(changes))
	}
	for _, tr := range rows {
		if attr(tr, "data-id") != gammaID && hasClass(tr, "changed") {
			t.Errorf("row %s highlighted but its state never changed", attr(tr, "data-id"))
		}
	}

	// The QR of alpha is the PNG (blob URL), beta falls back to the raw string,
	// and sessions that are not waiting for a scan have no QR.
	cards := findAll(doc, byClass("qr"))
	if len(cards) != 2 {
		t.Fatalf("%d QR cards, want 2 (alpha and beta)", len(cards))
	}
	alpha := find(doc, func(n *html.Node) bool { return hasClass(n, "qr") && attr(n, "data-id") == alphaID })
	img := find(alpha, func(n *html.Node) bool { return n.Data == "img" })
	if attr(alpha, "data-qr") != "png" || img == nil || !strings.HasPrefix(attr(img, "src"), "blob:") {
		t.Errorf("alpha QR: data-qr=%q img=%v src=%q", attr(alpha, "data-qr"), img != nil, attr(img, "src"))
	}
	beta := find(doc, func(n *html.Node) bool { return hasClass(n, "qr") && attr(n, "data-id") == betaID })
	if attr(beta, "data-qr") != "text" || text(find(beta, func(n *html.Node) bool { return n.Data == "code" })) != betaQR {
		t.Errorf("beta QR: data-qr=%q code=%q", attr(beta, "data-qr"), text(find(beta, func(n *html.Node) bool { return n.Data == "code" })))
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listCalls < 3 {
		t.Errorf("GET /sessions called %d times, want at least 3 (polling)", f.listCalls)
	}
	if f.keyed < 3 {
		t.Errorf("%d requests carried the key", f.keyed)
	}
	for _, u := range f.urls {
		if strings.Contains(u, adminKey) || strings.Contains(u, "api_key") {
			t.Errorf("the key went into a URL: %s", u)
		}
	}
}

func TestDashboardAsksForKey(t *testing.T) {
	t.Parallel()
	_, ts := newFakeAPI(t)
	for name, tc := range map[string]struct{ url, wantError string }{
		"NoKey":    {ts.URL + "/dashboard/", ""},
		"WrongKey": {ts.URL + "/dashboard/#key=wamk_wrongwrongwrongwrong", "Invalid API key"},
		"SessionKeyWithoutSession": {ts.URL + "/dashboard/#key=" + sessionKey,
			"This API key does not have access to this resource (a session key also needs its session id)"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, err := html.Parse(bytes.NewReader(chromium(t, tc.url, "--virtual-time-budget=3000", "--dump-dom")))
			if err != nil {
				t.Fatal(err)
			}
			if n := find(doc, byID("login")); n == nil || hasAttr(n, "hidden") {
				t.Fatal("login form not shown")
			}
			if n := find(doc, byID("board")); n == nil || !hasAttr(n, "hidden") {
				t.Fatal("board shown without a valid key")
			}
			if got := text(find(doc, byID("login-error"))); got != tc.wantError {
				t.Errorf("login error %q, want %q", got, tc.wantError)
			}
			if rows := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" }); len(rows) != 0 {
				t.Errorf("%d sessions listed without a valid key", len(rows))
			}
		})
	}
}

// TestDashboardSessionKey opens the page with a session key and its session
// id: the board shows that one session, without the create form.
func TestDashboardSessionKey(t *testing.T) {
	t.Parallel()
	_, ts := newFakeAPI(t)
	doc, err := html.Parse(bytes.NewReader(chromium(t, ts.URL+"/dashboard/#key="+sessionKey+"&session="+deltaID, "--virtual-time-budget=3000", "--dump-dom")))
	if err != nil {
		t.Fatal(err)
	}
	if n := find(doc, byID("board")); n == nil || hasAttr(n, "hidden") {
		t.Fatalf("board hidden; login error %q", text(find(doc, byID("login-error"))))
	}
	rows := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-id") != "" })
	if len(rows) != 1 || attr(rows[0], "data-id") != deltaID || attr(rows[0], "data-state") != "connected" {
		t.Fatalf("rows %v, want only delta, connected", texts(rows))
	}
	if n := find(doc, byID("create-form")); n == nil || !hasAttr(n, "hidden") {
		t.Error("the create form is offered to a session key")
	}
}

func TestDashboardScreenshot(t *testing.T) {
	t.Parallel()
	_, ts := newFakeAPI(t)
	const w, h = 1280, 900
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	chromium(t, ts.URL+"/dashboard/#key="+adminKey, "--virtual-time-budget=5000",
		fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+shot)
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("screenshot %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	colours := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255}]++
		}
	}
	if len(colours) < 16 {
		t.Fatalf("screenshot has %d colours: blank or unstyled", len(colours))
	}
	// The stylesheet's header colour and the QR code's black modules.
	if n := colours[color.RGBA{0x07, 0x5e, 0x54, 255}]; n < 10*w {
		t.Errorf("header colour on %d pixels: the stylesheet did not apply", n)
	}
	if n := colours[color.RGBA{0, 0, 0, 255}]; n < 5000 {
		t.Errorf("%d black pixels: the QR code image is not on screen", n)
	}
	if dir := os.Getenv("WAGATE_SCREENSHOT_DIR"); dir != "" { // keep it for a human to look at
		if err := os.WriteFile(filepath.Join(dir, "dashboard.png"), raw, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// DOM helpers

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, match); m != nil {
			return m
		}
	}
	return nil
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return hasClass(n, class) }
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(sb.String())
}

func texts(ns []*html.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = text(n)
	}
	return out
}
