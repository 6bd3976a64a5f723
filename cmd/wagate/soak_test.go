package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
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
	gwAddr, pprofAddr := freeAddr(t), freeAddr(t)
	gw := startGateway(t, bin, map[string]string{
		"WAGATE_PPROF_ADDR": pprofAddr,
		"DATABASE_URL":      gwDB, "WAGATE_ADDR": gwAddr, "WAGATE_ADMIN_KEY": admin,
		"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + simAddr,
		"WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_RATE_LIMIT_SESSIONS": "0", "WAGATE_RATE_LIMIT_MESSAGES": "0",
		"WAGATE_LOG_LEVEL": "warn",
	}, "gateway")
	s := &soak{t: t, base: "http://" + gwAddr, key: admin, hc: &http.Client{Timeout: 60 * time.Second},
		inbound: map[string]string{}, outbound: map[string]string{}, lastIn: map[string]string{},
		tokens: map[string]map[string]bool{}, reacted: map[string]string{}, errs: map[string][]string{}, nErrs: map[string]int{}}
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
	// Heap profiles at the end of the warm-up and at the end of the
	// traffic: the report lists what grew in between.
	profDir := t.TempDir()
	warmProfile := time.After(max(2*time.Minute, dur/4))
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-warmProfile:
			heapProfile(pprofAddr, profDir+"/warm.pb.gz")
		case <-tick.C:
			smp := s.sample(db, gw, time.Since(runStart))
			samples = append(samples, smp)
			t.Logf("soak: %s", smp)
		}
	}
	tick.Stop()
	heapProfile(pprofAddr, profDir+"/end.pb.gz")
	wg.Wait()

	// Drain: everything accepted must arrive.
	loss := s.drain(db, 3*time.Minute)
	samples = append(samples, s.sample(db, gw, time.Since(runStart)))
	report := s.report(samples, sessions, dur, loss, gw, sim) + heapGrowth(profDir+"/warm.pb.gz", profDir+"/end.pb.gz")
	t.Log("\n" + report)
	path := os.Getenv("SOAK_REPORT")
	if path == "" {
		path = os.TempDir() + "/soak-report.md"
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Errorf("write report: %v", err)
	}
	if loss.in+loss.out+loss.reactions+loss.dup > 0 {
		t.Errorf("soak: %d inbound, %d outbound and %d reactions lost, %d outbound duplicated", loss.in, loss.out, loss.reactions, loss.dup)
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
	// tokens are the outbound texts by contact: token -> answered 200
	// (every 200 must arrive exactly once; a send given up after 503s at
	// most once, whatever the retries with its Idempotency-Key).
	tokens map[string]map[string]bool
	// reacted are the reactions answered 200: target id -> contact.
	reacted map[string]string
	// errs keeps the first answers of each failed operation kind.
	errs  map[string][]string
	nErrs map[string]int

	nIn, nOut, nReact, nRead, nFault, nRefused, nRetried, nGaveUp atomic.Int64
	faults                                                        sync.Map // kind -> *atomic.Int64
	seq                                                           atomic.Int64
}

// fail remembers a failed answer (the first few per operation kind).
func (s *soak) fail(op string, code int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nErrs[op]++
	if len(s.errs[op]) < 3 {
		s.errs[op] = append(s.errs[op], fmt.Sprintf("%d %.200s", code, strings.TrimSpace(body)))
	}
}

func (s *soak) call(method, path string, in any, out any) (int, string) {
	return s.callKey(method, path, "", in, out)
}

// callKey is call with an Idempotency-Key ("" for none).
func (s *soak) callKey(method, path, idemKey string, in any, out any) (int, string) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, body)
	req.Header.Set("X-API-Key", s.key)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
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
			s.send(ss, r)
		case r < 185:
			s.mu.Lock()
			target := s.lastIn[ss.id]
			s.mu.Unlock()
			if target == "" {
				continue
			}
			code, b := s.call(http.MethodPut, "/sessions/"+ss.id+"/messages/"+target+"/reaction", map[string]any{"chatId": ss.contact + "@s.whatsapp.net", "emoji": "👍"}, nil)
			switch code {
			case http.StatusOK:
				s.mu.Lock()
				s.reacted[target] = ss.contact
				s.mu.Unlock()
				s.nReact.Add(1)
			case http.StatusServiceUnavailable:
				s.nRefused.Add(1)
			default:
				s.fail("reaction", code, b)
			}
		default:
			paths := []string{"/sessions/" + ss.id + "/status", "/sessions/" + ss.id + "/chats", "/sessions/" + ss.id + "/chats/" + ss.contact + "@s.whatsapp.net/messages"}
			if code, b := s.call(http.MethodGet, paths[rand.IntN(len(paths))], nil, nil); code == http.StatusOK {
				s.nRead.Add(1)
			} else {
				s.fail("read", code, b)
			}
		}
	}
}

// send sends one outbound text with an Idempotency-Key; a 503
// (reconnecting, or the server ack did not come) is retried up to three
// times with the same key, as a client would. The text carries a unique
// token so the drain can tell a lost send from a duplicated one.
func (s *soak) send(ss soakSession, r int) {
	tok := fmt.Sprintf("t%d", s.seq.Add(1))
	text := "out " + strconv.Itoa(r) + " " + tok
	s.mu.Lock()
	if s.tokens[ss.contact] == nil {
		s.tokens[ss.contact] = map[string]bool{}
	}
	s.tokens[ss.contact][tok] = false
	s.mu.Unlock()
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			s.nRetried.Add(1)
			time.Sleep(3 * time.Second) //nolint:forbidigo // a client's back-off before retrying a 503
		}
		var out struct {
			MessageID string `json:"messageId"`
		}
		code, b := s.callKey(http.MethodPost, "/sessions/"+ss.id+"/send", "soak-"+tok, map[string]any{"to": ss.contact, "text": text}, &out)
		switch code {
		case http.StatusOK:
			s.mu.Lock()
			s.outbound[out.MessageID] = ss.contact
			s.tokens[ss.contact][tok] = true
			s.mu.Unlock()
			s.nOut.Add(1)
			return
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			s.nRefused.Add(1)
			s.fail("send-"+strconv.Itoa(code), code, b)
		default:
			s.fail("send", code, b)
			return
		}
	}
	s.nGaveUp.Add(1)
}

type soakSample struct {
	at                          time.Duration
	rssMB, heapMB               float64
	goroutines, fds, dbConns    int
	reconnects, msgsIn, msgsOut int
	connected                   int
	load                        string
}

func (m soakSample) String() string {
	return fmt.Sprintf("t=%s rss=%.1fMB heap=%.1fMB goroutines=%d fds=%d db=%d reconnects=%d in=%d out=%d connected=%d",
		m.at.Round(time.Second), m.rssMB, m.heapMB, m.goroutines, m.fds, m.dbConns, m.reconnects, m.msgsIn, m.msgsOut, m.connected)
}

var metricLine = regexp.MustCompile(`(?m)^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$`)

func (s *soak) sample(db *pgx.Conn, gw *process, at time.Duration) soakSample {
	m := soakSample{at: at, load: loadAverage()}
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

// soakLoss is what the drain found.
type soakLoss struct {
	in, out, dup, reactions int
	// outIDs are lost outbound ids (a sample).
	outIDs []string
}

// drain waits until every accepted message arrived, up to timeout, and
// counts what did not. The contact-inbox endpoint returns everything the
// contact's device decrypted (no cap, no paging: sandbox.Control keeps the
// whole list), so one GET per contact sees every arrival.
func (s *soak) drain(db *pgx.Conn, timeout time.Duration) soakLoss {
	var l soakLoss
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
	tokens := map[string]map[string]bool{}
	for c, m := range s.tokens {
		tokens[c] = maps.Clone(m)
	}
	reactions := map[string]map[string]bool{} // contact -> targets
	for target, c := range s.reacted {
		if reactions[c] == nil {
			reactions[c] = map[string]bool{}
		}
		reactions[c][target] = true
	}
	s.mu.Unlock()
	for {
		var stored int
		_ = db.QueryRow(context.Background(), `SELECT count(DISTINCT id) FROM messages WHERE NOT from_me AND id = ANY($1)`, in).Scan(&stored)
		l.in = len(in) - stored
		if l.in == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second) //nolint:forbidigo // polling a condition with a deadline
	}
	contacts := map[string]bool{}
	for c := range tokens {
		contacts[c] = true
	}
	for c := range reactions {
		contacts[c] = true
	}
	for c := range contacts {
		for {
			var got struct {
				Messages []struct {
					ID       string `json:"id"`
					Kind     string `json:"kind"`
					Text     string `json:"text"`
					TargetID string `json:"targetId"`
				} `json:"messages"`
			}
			code, _ := s.call(http.MethodGet, "/sandbox/contacts/"+c+"/messages", nil, &got)
			seen, texts, reactedTo := map[string]bool{}, map[string]int{}, map[string]bool{}
			for _, m := range got.Messages {
				seen[m.ID] = true
				if f := strings.Fields(m.Text); m.Kind == "text" && len(f) == 3 && f[0] == "out" {
					texts[f[2]]++
				}
				if m.Kind == "reaction" {
					reactedTo[m.TargetID] = true
				}
			}
			var missing []string
			for id := range byContact[c] {
				if !seen[id] {
					missing = append(missing, id)
				}
			}
			dup := 0
			for tok := range tokens[c] {
				if texts[tok] > 1 {
					dup++
				}
			}
			lostReact := 0
			for target := range reactions[c] {
				if !reactedTo[target] {
					lostReact++
				}
			}
			if code == http.StatusOK && len(missing)+lostReact == 0 || time.Now().After(deadline) {
				l.out += len(missing)
				l.dup += dup
				l.reactions += lostReact
				for _, id := range missing {
					if len(l.outIDs) < 20 {
						l.outIDs = append(l.outIDs, c+"/"+id)
					}
				}
				break
			}
			time.Sleep(time.Second) //nolint:forbidigo // polling a condition with a deadline
		}
	}
	return l
}

// heapProfile saves the gateway's heap profile (after a GC) to path.
func heapProfile(addr, path string) {
	resp, err := (&http.Client{Timeout: time.Minute}).Get("http://" + addr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusOK {
		_ = os.WriteFile(path, b, 0o644)
	}
}

// heapGrowth is the top of `go tool pprof -top -diff_base` between two
// heap profiles (in-use space), for the report.
func heapGrowth(base, end string) string {
	if _, err := os.Stat(base); err != nil {
		return "\nHeap growth: no warm-up profile.\n"
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=15", "-sample_index=inuse_space", "-diff_base", base, end).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("\nHeap growth: pprof failed: %v %.500s\n", err, out)
	}
	return "\nHeap in use, end of traffic minus end of warm-up (go tool pprof -top -diff_base):\n\n```\n" + string(out) + "```\n"
}

// loadAverage is /proc/loadavg's first three fields (the machine is shared).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// logLines counts the lines of a process log that contain sub, and
// returns the first few.
func logLines(path, sub string, keep int) (int, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil
	}
	n, out := 0, []string{}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			n++
			if len(out) < keep {
				out = append(out, fmt.Sprintf("%.300s", l))
			}
		}
	}
	return n, out
}

func (s *soak) report(samples []soakSample, sessions int, dur time.Duration, l soakLoss, logs ...*process) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Soak: %d sessions, %s, finished %s; load average at the end %s (%d CPUs, shared)\n\n",
		sessions, dur, time.Now().UTC().Format(time.RFC3339), loadAverage(), runtime.NumCPU())
	fmt.Fprintf(&b, "| t | RSS MB | heap in use MB | goroutines | open files | DB conns | reconnects | msgs in | msgs out | connected | load |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range samples {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %d | %d | %d | %d | %d | %d | %d | %s |\n", m.at.Round(time.Second), m.rssMB, m.heapMB, m.goroutines, m.fds, m.dbConns, m.reconnects, m.msgsIn, m.msgsOut, m.connected, m.load)
	}
	faults := []string{}
	for _, k := range soakFaults {
		if c, ok := s.faults.Load(k); ok {
			faults = append(faults, fmt.Sprintf("%s %d", k, c.(*atomic.Int64).Load()))
		}
	}
	fmt.Fprintf(&b, "\nTraffic: %d inbound texts, %d outbound texts answered 200, %d reactions answered 200, %d reads; %d answers 503/504 (reconnecting or no server ack), %d send retries with the same Idempotency-Key, %d sends given up after 4 tries; %d faults (%s).\n",
		s.nIn.Load(), s.nOut.Load(), s.nReact.Load(), s.nRead.Load(), s.nRefused.Load(), s.nRetried.Load(), s.nGaveUp.Load(), s.nFault.Load(), strings.Join(faults, ", "))
	fmt.Fprintf(&b, "Lost: %d inbound, %d outbound, %d reactions; %d outbound texts duplicated.\n", l.in, l.out, l.reactions, l.dup)
	if len(l.outIDs) > 0 {
		fmt.Fprintf(&b, "Lost outbound (contact/id): %s\n", strings.Join(l.outIDs, " "))
	}
	s.mu.Lock()
	for op, e := range s.errs {
		fmt.Fprintf(&b, "Failed %s: %d (first answers: %s)\n", op, s.nErrs[op], strings.Join(e, " | "))
	}
	s.mu.Unlock()
	for _, p := range logs {
		n, first := logLines(p.log, "protocol violation", 3)
		fmt.Fprintf(&b, "%s log: %d protocol violations %s\n", p.name, n, strings.Join(first, " | "))
		if n, first := logLines(p.log, "sent a retry receipt", 3); n > 0 {
			fmt.Fprintf(&b, "%s log: %d retry receipts sent by contacts that could not decrypt %s\n", p.name, n, strings.Join(first, " | "))
		}
		if n, first := logLines(p.log, "answered a retry receipt", 3); n > 0 {
			fmt.Fprintf(&b, "%s log: %d retry receipts from the gateway answered (re-encrypted) %s\n", p.name, n, strings.Join(first, " | "))
		}
		for _, id := range l.outIDs {
			if i := strings.IndexByte(id, '/'); i >= 0 {
				if _, lines := logLines(p.log, id[i+1:], 3); len(lines) > 0 {
					fmt.Fprintf(&b, "%s log on %s: %s\n", p.name, id, strings.Join(lines, " | "))
				}
			}
		}
	}
	b.WriteString(steadyReport(samples[:len(samples)-1], dur))
	return b.String()
}

// steadyReport compares the steady part of the run (after a warm-up of
// max(2 min, 25 %) of the traffic) in two ways: the median of its second
// half against the median of its first half, and a least-squares slope
// over the whole steady window, as a change over that window relative to
// its mean. Flat means both under 5 %.
func steadyReport(run []soakSample, dur time.Duration) string {
	warm := max(2*time.Minute, dur/4)
	var steady []soakSample
	for _, m := range run {
		if m.at >= warm {
			steady = append(steady, m)
		}
	}
	if len(steady) < 4 {
		return fmt.Sprintf("Steady window: too few samples after the %s warm-up.\n", warm)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Steady window %s–%s (warm-up %s excluded, %d samples): median of its second half vs its first half; least-squares slope over the window, as a change across it relative to its mean.\n\n",
		steady[0].at.Round(time.Second), steady[len(steady)-1].at.Round(time.Second), warm, len(steady))
	b.WriteString("| metric | first-half median | second-half median | change | slope across window |\n|---|---|---|---|---|\n")
	series := []struct {
		name string
		get  func(soakSample) float64
	}{
		{"RSS MB", func(m soakSample) float64 { return m.rssMB }},
		{"heap in use MB", func(m soakSample) float64 { return m.heapMB }},
		{"goroutines", func(m soakSample) float64 { return float64(m.goroutines) }},
		{"open files", func(m soakSample) float64 { return float64(m.fds) }},
		{"DB conns", func(m soakSample) float64 { return float64(m.dbConns) }},
	}
	h := len(steady) / 2
	for _, sr := range series {
		xs := make([]float64, len(steady))
		ts := make([]float64, len(steady))
		for i, m := range steady {
			xs[i], ts[i] = sr.get(m), m.at.Seconds()
		}
		a, z := median(xs[:h]), median(xs[len(xs)-h:])
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %+.1f%% | %+.1f%% |\n", sr.name, a, z, pct(a, z), slopePct(ts, xs))
	}
	return b.String()
}

func median(xs []float64) float64 {
	c := slices.Clone(xs)
	slices.Sort(c)
	if len(c) == 0 {
		return 0
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// slopePct is the least-squares slope of ys over ts, times the window's
// length, relative to the mean of ys (percent).
func slopePct(ts, ys []float64) float64 {
	n := float64(len(ts))
	var st, sy float64
	for i := range ts {
		st += ts[i]
		sy += ys[i]
	}
	mt, my := st/n, sy/n
	var num, den float64
	for i := range ts {
		num += (ts[i] - mt) * (ys[i] - my)
		den += (ts[i] - mt) * (ts[i] - mt)
	}
	if den == 0 || my == 0 {
		return 0
	}
	return num / den * (ts[len(ts)-1] - ts[0]) / my * 100
}

func pct(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return (b - a) / a * 100
}
