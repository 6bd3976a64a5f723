package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/testkit/chromium"
)

// cutProxy stands between the browser and wagate (the page's origin, so
// that its EventSource is same-origin): it can cut every open event stream
// and hold new requests until it is opened again, as a network outage
// would; it records the Last-Event-ID the browser sent on each stream.
type cutProxy struct {
	rp *httputil.ReverseProxy

	mu      sync.Mutex
	open    chan struct{} // closed while requests may pass
	streams map[int]context.CancelFunc
	next    int
	lastIDs []string // Last-Event-ID of each stream request, in order
}

func newCutProxy(target string) *cutProxy {
	u, _ := url.Parse(target)
	p := &cutProxy{open: make(chan struct{}), streams: map[int]context.CancelFunc{}}
	close(p.open)
	p.rp = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = u.Host }, FlushInterval: -1}
	return p
}

func (p *cutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	select {
	case <-open:
	case <-r.Context().Done():
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/events/stream") {
		p.rp.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	p.mu.Lock()
	n := p.next
	p.next++
	p.streams[n] = cancel
	p.lastIDs = append(p.lastIDs, r.Header.Get("Last-Event-ID"))
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.streams, n)
		p.mu.Unlock()
		cancel()
	}()
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// cut ends every open stream and holds new requests until resume.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = make(chan struct{})
	for _, cancel := range p.streams {
		cancel()
	}
}

func (p *cutProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.open)
}

func (p *cutProxy) streamRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lastIDs...)
}

// TestBrowserEventSource runs docs/events.md's browser example verbatim in
// headless Chromium against the real server in sandbox mode: the page
// resumes after a stored event (lastSeen), inbound messages arrive from the
// simulator, the network drops in the middle (the proxy cuts the stream
// and holds the reconnection while more messages arrive), the browser's
// EventSource reconnects by itself with Last-Event-ID, then the page is
// reloaded (the stream closes) while more messages arrive and the example
// resumes from the id it kept in localStorage. Every event of the
// example's types must have arrived exactly once, in stream order (the
// stored order), and every message among them. Child process: see
// TestSandboxMode.
func TestBrowserEventSource(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
	}
	if os.Getenv("WAGATE_SANDBOX_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestBrowserEventSource$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "WAGATE_SANDBOX_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "eventsource_test.go") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	const (
		admin    = "wamk_000000000000000000000000000000000000000000000007"
		account  = "15550701111"
		contact  = "15550702222"
		before   = 60 // messages before the network drops
		readSome = 20 // messages the page has when it drops
		outage   = 60 // messages while the network is down
		reload   = 40 // messages while the page is reloading
	)
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	example := func() string {
		s := string(doc)
		i := strings.Index(s, "### Browser (`EventSource`)")
		if i < 0 {
			t.Fatal("docs/events.md has no browser example")
		}
		s = s[i:]
		start := strings.Index(s, "```js\n")
		end := strings.Index(s[start+6:], "\n```")
		if start < 0 || end < 0 {
			t.Fatal("docs/events.md: the browser example has no js block")
		}
		return s[start+6 : start+6+end]
	}()

	dbURL := testkit.NewDatabaseURL(t)
	m, _ := startSandboxMainWith(t, dbURL, admin)
	var created struct {
		Session struct{ ID string } `json:"session"`
		APIKey  string              `json:"apiKey"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"browser-stream"}`, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	id, key := created.Session.ID, created.APIKey
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"`+account+`","method":"qr"}`, nil); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	waitStatus(t, m, admin, id, "connected", account+"@s.whatsapp.net")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The page resumes after the session's latest sequenced event.
	var start string
	if err := conn.QueryRow(ctx, `SELECT id FROM events WHERE session_id = $1 AND pos IS NOT NULL ORDER BY pos DESC LIMIT 1`, id).Scan(&start); err != nil {
		t.Fatalf("the session's latest event: %v", err)
	}

	proxy := newCutProxy("http://" + m.Addr.String())
	ps := httptest.NewServer(proxy)
	defer func() { // the browser's stream is still open: end it first
		proxy.cut()
		ps.CloseClientConnections()
		ps.Close()
	}()

	sent := map[string]bool{}
	inbound := func(n int, label string) {
		t.Helper()
		for i := range n {
			var in struct {
				MessageID string `json:"messageId"`
			}
			body := `{"from":"` + contact + `","text":"` + label + ` ` + strconv.Itoa(i) + `"}`
			if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/inbound", admin, body, &in); code != http.StatusOK || in.MessageID == "" {
				t.Fatalf("inbound %s %d: %d", label, i, code)
			}
			sent[in.MessageID] = true
		}
	}

	b := chromium.Start(t, 800, 600)
	// page loads a page of the proxy's origin and runs the doc's example in
	// it, with render() recording each event and lastSeen as given (a JS
	// expression).
	page := func(lastSeen string) {
		t.Helper()
		b.Navigate(ps.URL + "/healthz?page=" + strconv.Itoa(len(proxy.streamRequests())))
		b.WaitFor("the page", `document.readyState === "complete" && location.pathname === "/healthz"`)
		b.Eval(`(() => {
			window.__got = JSON.parse(sessionStorage.getItem("got") || "[]");
			window.__resets = 0;
			const base = location.origin, sessionId = `+strconv.Quote(id)+`, key = `+strconv.Quote(key)+`;
			const lastSeen = `+lastSeen+`;
			const render = (event) => {
				window.__got.push({id: event.id, type: event.type, messageId: event.type === "message" ? event.data.id : ""});
				sessionStorage.setItem("got", JSON.stringify(window.__got));
			};
			const reloadFromRestApi = () => { window.__resets++; };
			`+example+`
			window.__es = es;
		})()`, nil)
	}
	messagesSeen := `window.__got.filter((e) => e.type === "message").length`

	page(strconv.Quote(start))
	b.WaitFor("the stream open", `window.__es.readyState === EventSource.OPEN`)
	inbound(before, "before")
	b.WaitFor("some messages on the page", messagesSeen+` >= `+strconv.Itoa(readSome))

	// The network drops; more messages arrive while the browser is away.
	proxy.cut()
	b.WaitFor("the EventSource noticing", `window.__es.readyState === EventSource.CONNECTING`)
	var atCut int
	b.Eval(`window.__got.length`, &atCut)
	inbound(outage, "outage")
	proxy.resume()
	b.WaitFor("every message of the outage", messagesSeen+` === `+strconv.Itoa(before+outage))
	reqs := proxy.streamRequests()
	if len(reqs) < 2 || reqs[0] != "" || reqs[len(reqs)-1] == "" {
		t.Fatalf("stream requests' Last-Event-ID: %q (the first resumes by ?after=, the reconnection by the browser's Last-Event-ID)", reqs)
	}
	t.Logf("the browser reconnected with Last-Event-ID %s after %d events", reqs[len(reqs)-1], atCut)

	// The page reloads (its EventSource closes); more messages arrive; the
	// example resumes from the id it kept in localStorage.
	b.Navigate("about:blank")
	b.WaitFor("the page gone", `location.href === "about:blank"`)
	inbound(reload, "reload")
	page(`localStorage.getItem("wagate-last-event")`)
	b.WaitFor("every message after the reload", messagesSeen+` === `+strconv.Itoa(before+outage+reload))

	var got []struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		MessageID string `json:"messageId"`
	}
	b.Eval(`window.__got`, &got)
	var resets int
	b.Eval(`window.__resets`, &resets)
	if resets != 0 {
		t.Errorf("%d stream.reset events", resets)
	}
	seen := map[string]int{}
	for _, g := range got {
		if g.MessageID != "" {
			seen[g.MessageID]++
		}
	}
	for mid := range sent {
		if seen[mid] != 1 {
			t.Errorf("message %s arrived %d times, want once", mid, seen[mid])
		}
	}
	// The page's events are the stored sequence itself, restricted to the
	// example's types: after start, up to the last one received.
	rows, err := conn.Query(ctx, `SELECT id FROM events WHERE session_id = $1
		AND type IN ('message', 'message.sent', 'message.receipt', 'chat.archived', 'session.state')
		AND pos > (SELECT pos FROM events WHERE id = $2) AND pos <= (SELECT pos FROM events WHERE id = $3) ORDER BY pos`,
		id, start, got[len(got)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(got) {
		t.Fatalf("the page got %d events, %d stored in that range", len(got), len(stored))
	}
	for i := range stored {
		if stored[i] != got[i].ID {
			t.Fatalf("event %d: the page got %s, the stored order has %s", i, got[i].ID, stored[i])
		}
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Logf("page console: %q", errs)
	}
	t.Logf("the page got %d events (%d messages) exactly once, in stored order, across a network drop and a reload", len(got), len(sent))
}
