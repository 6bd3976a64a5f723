package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestSIGKILLDuringInboundBurst is the acceptance of webhooks (issue 6):
// the real wagate binary in sandbox mode, against `wagate simulator` in its
// own Postgres-backed process, with a session whose webhookUrl is a local
// receiver that checks every signature with its own HMAC code.
//
//  1. One inbound message produces a signed `message` event that verifies.
//  2. A burst of inbound messages; the gateway is killed with SIGKILL while
//     it stores and delivers them, the rest of the burst is sent while it is
//     down (the simulator keeps it, as WhatsApp would), and the gateway is
//     started again. Every message of the burst must reach the receiver at
//     least once, each message always under the same event id.
func TestSIGKILLDuringInboundBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wagate binary")
	}
	const (
		burst   = 200
		killAt  = 70 // messages of the burst sent before the kill
		account = "15550001111"
		contact = "15550002222"
		admin   = "wamk_00000000000000000000000000000000000000000000516b"
	)
	started := time.Now()
	bin := buildWagate(t)
	simDB, gwDB := testkit.NewDatabaseURL(t), testkit.NewDatabaseURL(t)
	rcv := newReceiver(t)

	simAddr := freeAddr(t)
	sim := startProcess(t, "simulator", bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(simAddr) }, sim)

	gwAddr := freeAddr(t)
	gwEnv := map[string]string{
		"DATABASE_URL":                 gwDB,
		"WAGATE_ADDR":                  gwAddr,
		"WAGATE_ADMIN_KEY":             admin,
		"WAGATE_SANDBOX":               "1",
		"WAGATE_SANDBOX_URL":           "http://" + simAddr,
		"WAGATE_WEBHOOK_ALLOW_PRIVATE": "1",
		// A killed node's running deliveries are rescued after 12s (the
		// least a 2s request timeout allows) instead of a minute.
		"WAGATE_WEBHOOK_TIMEOUT":      "2s",
		"WAGATE_WEBHOOK_RESCUE_AFTER": "12s",
		"WAGATE_RATE_LIMIT_GENERAL":   "0",
		"WAGATE_RATE_LIMIT_SESSIONS":  "0",
		"WAGATE_LOG_LEVEL":            "info",
	}
	gw := startGateway(t, bin, gwEnv, "gateway-1")
	api := &apiClient{t: t, base: "http://" + gwAddr, key: admin}

	// A session whose webhook is the receiver; its generated secret is
	// obtained by rotation (the documented way).
	var created struct {
		Session struct{ ID string } `json:"session"`
	}
	api.do(http.MethodPost, "/sessions/create", map[string]any{"name": "sigkill", "webhookUrl": rcv.URL + "/hook"}, http.StatusCreated, &created)
	sid := created.Session.ID
	var hooks struct {
		Webhooks []struct{ ID string } `json:"webhooks"`
	}
	api.do(http.MethodGet, "/sessions/"+sid+"/webhooks", nil, http.StatusOK, &hooks)
	if len(hooks.Webhooks) != 1 {
		t.Fatalf("session webhooks: %+v, want the webhookUrl one", hooks.Webhooks)
	}
	var rotated struct {
		Webhook struct{ Secret string } `json:"webhook"`
	}
	api.do(http.MethodPost, "/sessions/"+sid+"/webhooks/"+hooks.Webhooks[0].ID+"/rotate-secret", nil, http.StatusOK, &rotated)
	if !strings.HasPrefix(rotated.Webhook.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rotated.Webhook.Secret)
	}
	rcv.setSecret(rotated.Webhook.Secret)

	api.do(http.MethodPost, "/sandbox/sessions/"+sid+"/link", map[string]any{"phone": account}, http.StatusOK, nil)

	// 1. One inbound message: a signed `message` event that verifies.
	var in struct {
		MessageID string `json:"messageId"`
	}
	api.do(http.MethodPost, "/sandbox/sessions/"+sid+"/inbound", map[string]any{"from": contact, "text": "acceptance"}, http.StatusOK, &in)
	first := rcv.waitMessage(t, in.MessageID, 20*time.Second, gw)
	if first.Type != "message" || first.SessionID != sid || first.Text != "acceptance" || !strings.HasPrefix(first.EventID, "evt_") {
		t.Fatalf("first message event: %+v", first)
	}
	// The verifier is not a rubber stamp: the same delivery with a changed
	// body, another secret or an old timestamp is refused.
	if verifySignature(rcv.secret(), first.Signature, first.Timestamp, append(slices.Clone(first.Body), ' '), time.Now()) ||
		verifySignature("whsec_other", first.Signature, first.Timestamp, first.Body, time.Now()) ||
		verifySignature(rcv.secret(), first.Signature, first.Timestamp, first.Body, time.Now().Add(10*time.Minute)) ||
		!verifySignature(rcv.secret(), first.Signature, first.Timestamp, first.Body, time.Now()) {
		t.Fatal("the test's verifier accepts tampered deliveries or refuses a good one")
	}
	t.Logf("acceptance: message %s -> event %s, signature verified (%s since start)", in.MessageID, first.EventID, time.Since(started).Round(time.Millisecond))

	// 2. The burst, through the simulator's own control API: it takes
	// messages whether or not the gateway runs.
	ctrl := &http.Client{Timeout: 20 * time.Second}
	send := func(i int) string {
		body, _ := json.Marshal(map[string]string{"from": contact, "to": account, "text": "burst " + strconv.Itoa(i)})
		resp, err := ctrl.Post("http://"+simAddr+"/_wagate/sandbox/send", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("simulator send %d: %v", i, err)
		}
		defer resp.Body.Close()
		var out struct{ Result, Error string }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Error != "" || out.Result == "" {
			t.Fatalf("simulator send %d: %d %+v %v", i, resp.StatusCode, out, err)
		}
		return out.Result
	}
	// The receiver holds the burst's deliveries unanswered, so that the
	// kill finds some in flight: their jobs are running in River and only
	// its rescuer runs them again.
	rcv.hold()
	ids := make([]string, 0, burst)
	for i := range killAt {
		ids = append(ids, send(i))
	}
	waitFor(t, 20*time.Second, "deliveries of the burst in flight", func() bool { return rcv.heldCount() >= 4 }, gw)
	atKill := rcv.countOf(ids)
	gw.kill()
	killedAt := time.Now()
	inFlight := rcv.release() // answered to a dead gateway: never acknowledged
	t.Logf("SIGKILL after %d/%d burst messages sent, %d reached the receiver, %d of them in flight", len(ids), burst, atKill, len(inFlight))
	for i := killAt; i < burst; i++ {
		ids = append(ids, send(i))
	}
	if dialable(gwAddr) {
		t.Fatal("the gateway still answers after SIGKILL")
	}
	gw = startGateway(t, bin, gwEnv, "gateway-2")
	restartedAt := time.Now()

	// Every message of the burst arrives, and every delivery that was in
	// flight at the kill arrives again (River rescued its job).
	if err := rcv.waitAll(ids, 75*time.Second); err != nil {
		t.Fatalf("%v\n--- gateway-2 log (tail) ---\n%s", err, gw.tail(60))
	}
	waitFor(t, 75*time.Second-time.Since(restartedAt), "the deliveries in flight at the kill to be sent again", func() bool {
		for _, ev := range inFlight {
			if !rcv.arrivedAfter(ev, restartedAt) {
				return false
			}
		}
		return true
	}, gw)
	got := rcv.snapshot()
	dups := 0
	for _, id := range ids {
		evs := got[id]
		for _, e := range evs[1:] {
			if e.EventID != evs[0].EventID {
				t.Errorf("message %s arrived under event ids %s and %s", id, evs[0].EventID, e.EventID)
			}
		}
		dups += len(evs) - 1
	}
	if bad := rcv.badSignatures(); len(bad) > 0 {
		t.Errorf("%d deliveries failed verification: %v", len(bad), bad)
	}
	if atKill >= burst {
		t.Errorf("the kill came after every delivery (%d)", atKill)
	}
	// The restarted gateway counted its deliveries (metrics wiring).
	if n := successCounter(t, "http://"+gwAddr); n < burst-killAt {
		t.Errorf("wagate_webhook_deliveries_total{result=\"success\"} = %d after the restart, want at least %d", n, burst-killAt)
	}
	t.Logf("all %d burst messages delivered %s after the restart (%s after the kill), %d duplicate deliveries, total %s",
		burst, time.Since(restartedAt).Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond), dups, time.Since(started).Round(time.Millisecond))
}

// successCounter reads wagate_webhook_deliveries_total{result="success"}
// from the gateway's /metrics.
func successCounter(t *testing.T, base string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `wagate_webhook_deliveries_total{result="success"} `); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return int(n)
		}
	}
	t.Fatalf("GET /metrics (%d) has no success counter:\n%s", resp.StatusCode, b)
	return 0
}

// verifySignature is the test's own check of a wagate delivery, written
// from docs/webhooks.md without internal/webhook: HMAC-SHA256 over
// timestamp + "." + body, hex, in a v1= value of the header; the timestamp
// within 5 minutes of now.
func verifySignature(secret, header, timestamp string, body []byte, now time.Time) bool {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.FieldsFunc(header, func(r rune) bool { return r == ' ' || r == ',' }) {
		hexSig, ok := strings.CutPrefix(part, "v1=")
		if !ok {
			continue
		}
		if got, err := hex.DecodeString(hexSig); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// delivery is one verified `message` delivery at the receiver.
type delivery struct {
	EventID, Type, SessionID, MessageID, Text string
	Signature, Timestamp                      string
	Body                                      []byte
	At                                        time.Time
}

// receiver is the webhook receiver: it verifies every request and records
// the message events by message id.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	key      string
	rotated  int64                 // unix seconds of the rotation
	byMsg    map[string][]delivery // message id -> deliveries, in arrival order
	bad      []string
	changed  chan struct{} // closed and replaced on every recorded delivery
	requests int

	// While holding, message deliveries are recorded but not answered
	// until release: the gateway has them in flight.
	holding  bool
	held     map[string]bool // event ids held
	gate     chan struct{}
	released bool
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{byMsg: map[string][]delivery{}, changed: make(chan struct{}), held: map[string]bool{}, gate: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.release()
		r.Close()
	})
	return r
}

// hold starts holding message deliveries.
func (r *receiver) hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holding = true
}

// heldCount is how many deliveries are held.
func (r *receiver) heldCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// release answers the held deliveries and stops holding; it returns the
// event ids that were held.
func (r *receiver) release() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holding = false
	if !r.released {
		r.released = true
		close(r.gate)
	}
	out := make([]string, 0, len(r.held))
	for id := range r.held {
		out = append(out, id)
	}
	return out
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.key, r.rotated = s, time.Now().Unix()
}

func (r *receiver) secret() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.key
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	code, text, gate := r.record(req.Header, body)
	if gate != nil {
		select {
		case <-gate:
		case <-time.After(time.Minute):
		}
	}
	if code != http.StatusNoContent {
		http.Error(w, text, code)
		return
	}
	w.WriteHeader(code)
}

// record checks and records one request. It returns the status to answer
// and, for a held delivery, a channel to wait on before answering.
func (r *receiver) record(h http.Header, body []byte) (int, string, <-chan struct{}) {
	sig, ts := h.Get("X-Wagate-Signature"), h.Get("X-Wagate-Timestamp")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.key == "" {
		// Before the secret is known (session.state/qr events of a new
		// session): not acknowledged, so retried with the new secret.
		return http.StatusServiceUnavailable, "not ready", nil
	}
	if !verifySignature(r.key, sig, ts, body, time.Now()) {
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil && sec <= r.rotated {
			// Signed with the generated secret while it was being rotated.
			return http.StatusServiceUnavailable, "old secret", nil
		}
		r.bad = append(r.bad, h.Get("X-Wagate-Event-Id")+" "+sig)
		return http.StatusUnauthorized, "bad signature", nil
	}
	var ev struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		SessionID string `json:"sessionId"`
		Data      struct {
			ID   string  `json:"id"`
			Text *string `json:"text"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != h.Get("X-Wagate-Event-Id") || ev.Type != h.Get("X-Wagate-Event-Type") {
		r.bad = append(r.bad, fmt.Sprintf("envelope %s (headers %s %s): %v", body, h.Get("X-Wagate-Event-Id"), h.Get("X-Wagate-Event-Type"), err))
		return http.StatusBadRequest, "bad envelope", nil
	}
	if ev.Type != "message" {
		return http.StatusNoContent, "", nil
	}
	d := delivery{EventID: ev.ID, Type: ev.Type, SessionID: ev.SessionID, MessageID: ev.Data.ID,
		Signature: sig, Timestamp: ts, Body: body, At: time.Now()}
	if ev.Data.Text != nil {
		d.Text = *ev.Data.Text
	}
	r.byMsg[ev.Data.ID] = append(r.byMsg[ev.Data.ID], d)
	close(r.changed)
	r.changed = make(chan struct{})
	if r.holding {
		r.held[ev.ID] = true
		return http.StatusNoContent, "", r.gate
	}
	return http.StatusNoContent, "", nil
}

// arrivedAfter reports whether event id arrived after t.
func (r *receiver) arrivedAfter(eventID string, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ds := range r.byMsg {
		for _, d := range ds {
			if d.EventID == eventID && d.At.After(t) {
				return true
			}
		}
	}
	return false
}

// countOf returns how many of ids arrived.
func (r *receiver) countOf(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if len(r.byMsg[id]) > 0 {
			n++
		}
	}
	return n
}

func (r *receiver) snapshot() map[string][]delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]delivery, len(r.byMsg))
	for k, v := range r.byMsg {
		out[k] = slices.Clone(v)
	}
	return out
}

func (r *receiver) badSignatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bad)
}

// waitAll waits until every id arrived, or says which did not.
func (r *receiver) waitAll(ids []string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		var missing []string
		for i, id := range ids {
			if len(r.byMsg[id]) == 0 {
				missing = append(missing, fmt.Sprintf("#%d %s", i, id))
			}
		}
		changed, requests := r.changed, r.requests
		r.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("after %s, %d of %d burst messages never reached the receiver (%d requests seen): %s",
				timeout, len(missing), len(ids), requests, strings.Join(missing, ", "))
		}
	}
}

// waitMessage waits for the message event of message id.
func (r *receiver) waitMessage(t *testing.T, id string, timeout time.Duration, p *process) delivery {
	t.Helper()
	if err := r.waitAll([]string{id}, timeout); err != nil {
		t.Fatalf("%v\n--- %s log (tail) ---\n%s", err, p.name, p.tail(60))
	}
	return r.snapshot()[id][0]
}

// apiClient calls the gateway's API with the admin key.
type apiClient struct {
	t    *testing.T
	base string
	key  string
}

func (c *apiClient) do(method, path string, in any, want int, out any) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	req.Header.Set("X-API-Key", c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// buildWagate builds this command into a temporary directory (without the
// race detector: the processes under test are not this test's).
func buildWagate(t *testing.T) string {
	t.Helper()
	// go test puts its own toolchain's bin first in PATH.
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build wagate: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "wagate")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gotool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port that was free.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// process is a wagate process of the test, its output in a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	once sync.Once
}

func startProcess(t *testing.T, name, bin string, args []string, env map[string]string) *process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill) // before the databases are dropped (cleanups run in reverse)
	return p
}

// startGateway starts `wagate serve` and waits until it is ready.
func startGateway(t *testing.T, bin string, env map[string]string, name string) *process {
	t.Helper()
	p := startProcess(t, name, bin, []string{"serve"}, env)
	base := "http://" + env["WAGATE_ADDR"]
	waitFor(t, 30*time.Second, name+" ready", func() bool {
		resp, err := (&http.Client{Timeout: time.Second}).Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, p)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last n lines of the process's output.
func (p *process) tail(n int) string {
	f, err := os.Open(p.log)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every 50 ms until it holds; it fails with p's log when
// the deadline passes or p exits.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, p *process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if p != nil && p.exited() {
			t.Fatalf("waiting for %s: %s exited\n--- log (tail) ---\n%s", what, p.name, p.tail(60))
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s", timeout, what)
			if p != nil {
				msg += "\n--- " + p.name + " log (tail) ---\n" + p.tail(60)
			}
			t.Fatal(msg)
		}
		<-tick.C
	}
}
