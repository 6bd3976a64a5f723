package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestSoak is `make soak` (issue 14): the real wagate binary in sandbox
// mode against a `wagate simulator` process, SOAK_SESSIONS linked sessions
// (default 500) for SOAK_DURATION (default 1h), driving inbound texts,
// outbound texts and reactions, reads, and injected faults (drop, silent,
// stream-error-ack, ping-error, half-frame). Every SOAK_SAMPLE (default
// 30 s) it samples the gateway's RSS, goroutines, open files, database
// connections, reconnects and messages; at the end it checks that no
// message was lost: every inbound message the simulator accepted is in
// the gateway's store, every outbound message the API answered 200 for
// reached its contact. The report (markdown) goes to the log and to
// SOAK_REPORT (default soak-report.md in the temp dir). SOAK_RATE is the
// operations per second (default 20). It only runs when
// SOAK_DURATION is set; CI does not run it.
func TestSoak(t *testing.T) {
	durS := os.Getenv("SOAK_DURATION")
	if durS == "" {
		t.Skip("soak: set SOAK_DURATION (make soak)")
	}
	dur, err := time.ParseDuration(durS)
	if err != nil {
		t.Fatalf("SOAK_DURATION: %v", err)
	}
	sessions := envInt(t, "SOAK_SESSIONS", 500)
	sample := 30 * time.Second
	if s := os.Getenv("SOAK_SAMPLE"); s != "" {
		if sample, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	const admin = "wamk_00000000000000000000000000000000000000000000500a"
	bin := buildWagate(t)
	simDB, gwDB := testkit.NewDatabaseURL(t), testkit.NewDatabaseURL(t)
	simAddr := freeAddr(t)
	sim := startProcess(t, "simulator", bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(simAddr) }, sim)
	gwAddr := freeAddr(t)
	gw := startGateway(t, bin, map[string]string{
		"DATABASE_URL": gwDB, "WAGATE_ADDR": gwAddr, "WAGATE_ADMIN_KEY": admin,
		"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + simAddr,
		"WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_RATE_LIMIT_SESSIONS": "0", "WAGATE_RATE_LIMIT_MESSAGES": "0",
		"WAGATE_LOG_LEVEL": "warn",
	}, "gateway")
	s := &soak{t: t, base: "http://" + gwAddr, key: admin, hc: &http.Client{Timeout: 60 * time.Second},
		inbound: map[string]string{}, outbound: map[string]string{}, lastIn: map[string]string{}}
	db, err := pgx.Connect(context.Background(), gwDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())

	// Link every session (a few at a time, as a restore would).
	start := time.Now()
	s.sess = make([]soakSession, sessions)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range s.sess {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ss := &s.sess[i]
			ss.phone = fmt.Sprintf("1555200%04d", i)
			ss.contact = fmt.Sprintf("1555300%04d", i)
			var created struct {
				Session struct{ ID string } `json:"session"`
			}
			if code, b := s.call(http.MethodPost, "/sessions/create", map[string]any{"name": "soak-" + strconv.Itoa(i)}, &created); code != http.StatusCreated {
				t.Errorf("create %d: %d %s", i, code, b)
				return
			}
			ss.id = created.Session.ID
			if code, b := s.call(http.MethodPost, "/sandbox/sessions/"+ss.id+"/link", map[string]any{"phone": ss.phone}, nil); code != http.StatusOK {
				t.Errorf("link %d: %d %s", i, code, b)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("soak: %d sessions linked in %s", sessions, time.Since(start).Round(time.Second))

	// Traffic and faults until the deadline, sampling as it goes.
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var samples []soakSample
	samples = append(samples, s.sample(db, gw, 0))
	drivers, rate := 24, envInt(t, "SOAK_RATE", 20) // operations per second, all drivers together
	for w := 0; w < drivers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.drive(ctx, time.Second*time.Duration(drivers)/time.Duration(rate))
		}()
	}
	runStart := time.Now()
	tick := time.NewTicker(sample)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			smp := s.sample(db, gw, time.Since(runStart))
			samples = append(samples, smp)
			t.Logf("soak: %s", smp)
		}
	}
	tick.Stop()
	wg.Wait()

	// Drain: everything accepted must arrive.
	lostIn, lostOut := s.drain(db, 3*time.Minute)
	samples = append(samples, s.sample(db, gw, time.Since(runStart)))
	report := s.report(samples, sessions, dur, lostIn, lostOut)
	t.Log("\n" + report)
	path := os.Getenv("SOAK_REPORT")
	if path == "" {
		path = os.TempDir() + "/soak-report.md"
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Errorf("write report: %v", err)
	}
	if lostIn+lostOut > 0 {
		t.Errorf("soak: %d inbound and %d outbound messages lost", lostIn, lostOut)
	}
}

func envInt(t *testing.T, k string, def int) int {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive number", k, v)
	}
	return n
}

type soakSession struct {
	id, phone, contact string
}

type soak struct {
	t    *testing.T
	base string
	key  string
	hc   *http.Client
	sess []soakSession

	mu       sync.Mutex
	inbound  map[string]string // message id -> session id
	outbound map[string]string // message id -> contact phone
	lastIn   map[string]string // session id -> last inbound id (for reactions)

	nIn, nOut, nReact, nRead, nFault, nRefused atomic.Int64
	faults                                     sync.Map // kind -> *atomic.Int64
}

func (s *soak) call(method, path string, in any, out any) (int, string) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, body)
	req.Header.Set("X-API-Key", s.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode, string(b)
}

var soakFaults = []string{"drop", "silent", "stream-error-ack", "ping-error", "half-frame"}

// drive sends a random mix of traffic: mostly inbound and outbound texts,
// some reactions and reads, and about one fault per 200 operations.
func (s *soak) drive(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ss := s.sess[rand.IntN(len(s.sess))]
		switch r := rand.IntN(200); {
		case r == 0:
			kind := soakFaults[rand.IntN(len(soakFaults))]
			if code, _ := s.call(http.MethodPost, "/sandbox/sessions/"+ss.id+"/faults", map[string]any{"kind": kind}, nil); code == http.StatusOK {
				s.nFault.Add(1)
				c, _ := s.faults.LoadOrStore(kind, &atomic.Int64{})
				c.(*atomic.Int64).Add(1)
			}
		case r < 90:
			var in struct {
				MessageID string `json:"messageId"`
			}
			if code, _ := s.call(http.MethodPost, "/sandbox/sessions/"+ss.id+"/inbound", map[string]any{"from": ss.contact, "text": "in " + strconv.Itoa(r)}, &in); code == http.StatusOK {
				s.mu.Lock()
				s.inbound[in.MessageID] = ss.id
				s.lastIn[ss.id] = in.MessageID
				s.mu.Unlock()
				s.nIn.Add(1)
			}
		case r < 170:
			var out struct {
				MessageID string `json:"messageId"`
			}
			code, _ := s.call(http.MethodPost, "/sessions/"+ss.id+"/send", map[string]any{"to": ss.contact, "text": "out " + strconv.Itoa(r)}, &out)
			switch code {
			case http.StatusOK:
				s.mu.Lock()
				s.outbound[out.MessageID] = ss.contact
				s.mu.Unlock()
				s.nOut.Add(1)
			case http.StatusServiceUnavailable:
				s.nRefused.Add(1) // reconnecting after a fault: the client retries later
			}
		case r < 185:
			s.mu.Lock()
			target := s.lastIn[ss.id]
			s.mu.Unlock()
			if target != "" {
				if code, _ := s.call(http.MethodPost, "/sessions/"+ss.id+"/messages/"+target+"/reaction", map[string]any{"chatId": ss.contact + "@s.whatsapp.net", "emoji": "👍"}, nil); code == http.StatusOK {
					s.nReact.Add(1)
				}
			}
		default:
			paths := []string{"/sessions/" + ss.id + "/status", "/sessions/" + ss.id + "/chats", "/sessions/" + ss.id + "/chats/" + ss.contact + "@s.whatsapp.net/messages"}
			if code, _ := s.call(http.MethodGet, paths[rand.IntN(len(paths))], nil, nil); code == http.StatusOK {
				s.nRead.Add(1)
			}
		}
	}
}

type soakSample struct {
	at                          time.Duration
	rssMB, heapMB               float64
	goroutines, fds, dbConns    int
	reconnects, msgsIn, msgsOut int
	connected                   int
}

func (m soakSample) String() string {
	return fmt.Sprintf("t=%s rss=%.1fMB heap=%.1fMB goroutines=%d fds=%d db=%d reconnects=%d in=%d out=%d connected=%d",
		m.at.Round(time.Second), m.rssMB, m.heapMB, m.goroutines, m.fds, m.dbConns, m.reconnects, m.msgsIn, m.msgsOut, m.connected)
}

var metricLine = regexp.MustCompile(`(?m)^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$`)

func (s *soak) sample(db *pgx.Conn, gw *process, at time.Duration) soakSample {
	m := soakSample{at: at}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", gw.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				kb, _ := strconv.Atoi(strings.Fields(l)[1])
				m.rssMB = float64(kb) / 1024
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", gw.cmd.Process.Pid)); err == nil {
		m.fds = len(ents)
	}
	_ = db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&m.dbConns)
	req, _ := http.NewRequest(http.MethodGet, s.base+"/metrics", nil)
	req.Header.Set("X-API-Key", s.key)
	if resp, err := s.hc.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, mm := range metricLine.FindAllStringSubmatch(string(b), -1) {
			v, _ := strconv.ParseFloat(mm[3], 64)
			switch {
			case mm[1] == "go_goroutines":
				m.goroutines = int(v)
			case mm[1] == "go_memstats_heap_inuse_bytes":
				m.heapMB = v / (1 << 20)
			case mm[1] == "wagate_reconnects_total":
				m.reconnects += int(v)
			case mm[1] == "wagate_messages_total" && mm[2] == `{direction="in"}`:
				m.msgsIn = int(v)
			case mm[1] == "wagate_messages_total" && mm[2] == `{direction="out"}`:
				m.msgsOut = int(v)
			case mm[1] == "wagate_sessions" && mm[2] == `{state="connected"}`:
				m.connected = int(v)
			}
		}
	}
	return m
}

// drain waits until every accepted message arrived, up to timeout, and
// returns how many did not.
func (s *soak) drain(db *pgx.Conn, timeout time.Duration) (lostIn, lostOut int) {
	deadline := time.Now().Add(timeout)
	s.mu.Lock()
	in := make([]string, 0, len(s.inbound))
	for id := range s.inbound {
		in = append(in, id)
	}
	byContact := map[string]map[string]bool{}
	for id, c := range s.outbound {
		if byContact[c] == nil {
			byContact[c] = map[string]bool{}
		}
		byContact[c][id] = true
	}
	s.mu.Unlock()
	for {
		var stored int
		_ = db.QueryRow(context.Background(), `SELECT count(DISTINCT id) FROM messages WHERE NOT from_me AND id = ANY($1)`, in).Scan(&stored)
		lostIn = len(in) - stored
		if lostIn == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second) //nolint:forbidigo // polling a condition with a deadline
	}
	for c, ids := range byContact {
		for {
			var got struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			s.call(http.MethodGet, "/sandbox/contacts/"+c+"/messages", nil, &got)
			missing := 0
			seen := map[string]bool{}
			for _, m := range got.Messages {
				seen[m.ID] = true
			}
			for id := range ids {
				if !seen[id] {
					missing++
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				lostOut += missing
				break
			}
			time.Sleep(time.Second) //nolint:forbidigo // polling a condition with a deadline
		}
	}
	return lostIn, lostOut
}

func (s *soak) report(samples []soakSample, sessions int, dur time.Duration, lostIn, lostOut int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Soak: %d sessions, %s, finished %s\n\n", sessions, dur, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "| t | RSS MB | heap in use MB | goroutines | open files | DB conns | reconnects | msgs in | msgs out | connected |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range samples {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %d | %d | %d | %d | %d | %d | %d |\n", m.at.Round(time.Second), m.rssMB, m.heapMB, m.goroutines, m.fds, m.dbConns, m.reconnects, m.msgsIn, m.msgsOut, m.connected)
	}
	faults := []string{}
	for _, k := range soakFaults {
		if c, ok := s.faults.Load(k); ok {
			faults = append(faults, fmt.Sprintf("%s %d", k, c.(*atomic.Int64).Load()))
		}
	}
	fmt.Fprintf(&b, "\nTraffic: %d inbound texts, %d outbound texts, %d reactions, %d reads; %d sends refused with 503 while reconnecting; %d faults (%s).\n",
		s.nIn.Load(), s.nOut.Load(), s.nReact.Load(), s.nRead.Load(), s.nRefused.Load(), s.nFault.Load(), strings.Join(faults, ", "))
	fmt.Fprintf(&b, "Lost: %d inbound, %d outbound.\n", lostIn, lostOut)
	// Growth over the second half of the run (samples during traffic).
	run := samples[:len(samples)-1]
	if len(run) >= 3 {
		mid, last := run[len(run)/2], run[len(run)-1]
		fmt.Fprintf(&b, "Second half: RSS %.1f -> %.1f MB (%+.1f%%), goroutines %d -> %d (%+.1f%%).\n",
			mid.rssMB, last.rssMB, pct(mid.rssMB, last.rssMB), mid.goroutines, last.goroutines, pct(float64(mid.goroutines), float64(last.goroutines)))
	}
	return b.String()
}

func pct(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return (b - a) / a * 100
}
