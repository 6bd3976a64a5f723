package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/config"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestEventStreamResumeDuringInboundBurst is the acceptance of the event
// stream: a client streams a linked sandbox session's events while 1,000
// inbound messages arrive from the simulator, disconnects in the middle of
// the burst (500 sent, 200 events read), the second half is sent while it
// is away, and it reconnects with Last-Event-ID. Across both connections
// it must receive every stored event of the session after its start
// exactly once and in stream order, and among them every message of the
// burst exactly once. Runs in a child process (sandbox mode installs the
// simulator's root key process-wide, see TestSandboxMode).
func TestEventStreamResumeDuringInboundBurst(t *testing.T) {
	if os.Getenv("WAGATE_STREAM_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestEventStreamResumeDuringInboundBurst$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "WAGATE_STREAM_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "stream_test.go") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	const (
		burst       = 1000
		pauseAt     = 500 // messages sent before the client disconnects
		readBefore  = 200 // events the client reads before disconnecting
		senders     = 4
		admin       = "wamk_000000000000000000000000000000000000000000000002"
		account     = "15550003333"
		contact     = "15550004444"
		streamLimit = 5 * time.Minute
	)
	dbURL := testkit.NewDatabaseURL(t)
	m, _ := startSandboxMainWith(t, dbURL, admin)
	var created struct {
		Session struct{ ID string } `json:"session"`
		APIKey  string              `json:"apiKey"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"stream-burst"}`, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	id, key := created.Session.ID, created.APIKey
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"`+account+`","method":"qr"}`, nil); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	waitStatus(t, m, admin, id, "connected", account+"@s.whatsapp.net")

	base := "http://" + m.Addr.String() + "/sessions/" + id + "/events/stream"
	first := testkit.OpenSSE(t, base, http.Header{"X-Api-Key": {key}}, streamLimit)

	// The burst: pauseAt messages, then wait for the client to leave, then
	// the rest.
	var (
		mu      sync.Mutex
		sentIDs = map[string]bool{}
	)
	left := make(chan struct{})
	sendRange := func(from, to int) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					var in struct {
						MessageID string `json:"messageId"`
					}
					body := `{"from":"` + contact + `","text":"burst ` + strconv.Itoa(i) + `"}`
					if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/inbound", admin, body, &in); code != http.StatusOK || in.MessageID == "" {
						t.Errorf("inbound %d: %d", i, code)
						continue
					}
					mu.Lock()
					sentIDs[in.MessageID] = true
					mu.Unlock()
				}
			}()
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sendRange(0, pauseAt)
		<-left
		sendRange(pauseAt, burst)
	}()

	type got struct{ id, typ, messageID string }
	var received []got
	read := func(st *testkit.SSEStream) got {
		ev, err := st.NextEvent()
		if err != nil {
			t.Fatalf("after %d events: %v", len(received), err)
		}
		var env struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &env); err != nil || env.ID != ev.ID || env.Type != ev.Event {
			t.Fatalf("event %+v: envelope %+v %v", ev, env, err)
		}
		g := got{id: ev.ID, typ: ev.Event}
		if ev.Event == "message" {
			g.messageID = env.Data.ID
		}
		received = append(received, g)
		return g
	}
	for len(received) < readBefore {
		read(first)
	}
	first.Close()
	lastID := received[len(received)-1].id
	t.Logf("disconnected after %d events (last %s), %d of %d messages sent", len(received), lastID, func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(sentIDs)
	}(), burst)
	close(left)
	<-sent // the second half is sent while the client is away
	if t.Failed() {
		t.FailNow()
	}

	second := testkit.OpenSSE(t, base, http.Header{"X-Api-Key": {key}, "Last-Event-Id": {lastID}}, streamLimit)
	messages := map[string]int{}
	for _, g := range received {
		if g.messageID != "" {
			messages[g.messageID]++
		}
	}
	for len(messages) < burst {
		if g := read(second); g.messageID != "" {
			messages[g.messageID]++
		}
	}
	second.Close()

	for mid := range sentIDs {
		if messages[mid] != 1 {
			t.Errorf("message %s received %d times, want once", mid, messages[mid])
		}
	}
	if len(sentIDs) != burst {
		t.Errorf("%d messages sent, want %d", len(sentIDs), burst)
	}
	// The stream is the stored sequence itself: the session's events in
	// position order from the first received to the last, no gap, no
	// duplicate, no reordering.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id FROM events WHERE session_id = $1
		AND pos >= (SELECT pos FROM events WHERE id = $2) AND pos <= (SELECT pos FROM events WHERE id = $3) ORDER BY pos`,
		id, received[0].id, received[len(received)-1].id)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(received) {
		t.Fatalf("received %d events, %d stored in that range", len(received), len(stored))
	}
	for i := range stored {
		if stored[i] != received[i].id {
			t.Fatalf("event %d: received %s, stored order has %s", i, received[i].id, stored[i])
		}
	}
	t.Logf("received %d events (%d messages) exactly once, in stored order, across the reconnect", len(received), len(messages))
}

// startSandboxMainWith is startSandboxMain without rate limits (the burst
// is 1,000 requests with one key).
func startSandboxMainWith(t *testing.T, dbURL, adminKey string) (*Main, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = dbURL
	cfg.AdminKey = adminKey
	cfg.Sandbox = true
	cfg.RateLimits = config.RateLimits{}
	m := &Main{Config: cfg, Logger: testkit.Logger(t), Stderr: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		cancel()
		m.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = <-done
			m.Close()
		})
	}
	t.Cleanup(stop)
	return m, stop
}
