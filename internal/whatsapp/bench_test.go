package whatsapp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// TestSessionsMemoryAndRestore is the sessions benchmark (docs/benchmarks.md,
// "Sessions: memory and restore"). It is skipped unless
// WAGATE_BENCH_SESSIONS=N is set:
//
//	WAGATE_BENCH_SESSIONS=1000 go test -run TestSessionsMemoryAndRestore -v -timeout 30m ./internal/whatsapp/
//
// The simulator runs in a child process (accepting permessage-deflate) so
// that only the gateway side is measured. This process links N sessions
// once and closes them; then, for each websocket compression setting, a
// fresh child process (TestRestoreChild) that does nothing but restore
// starts a Manager on the same database, times Boot until all N are
// connected, and reads the marginal Go heap, RSS and goroutines per idle
// connected session.
func TestSessionsMemoryAndRestore(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WAGATE_BENCH_SESSIONS"))
	if n <= 0 {
		t.Skip("set WAGATE_BENCH_SESSIONS=N to run the sessions benchmark")
	}
	sim := startSimChild(t)
	wasim.InstallRootKey()
	pool := newDB(t, 32)
	f := &fixture{t: t, pool: pool, store: postgres.NewStore(pool), devices: postgres.NewDeviceStore(pool), sink: &recordingSink{}}
	ctx := context.Background()

	// Link N sessions once.
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = f.createSession(fmt.Sprintf("bench-%d", i))
	}
	linkStart := time.Now()
	m, err := whatsapp.NewManager(ctx, f.options(benchOptions(t, sim, false)))
	if err != nil {
		t.Fatal(err)
	}
	const batch = 50
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		for _, id := range ids[lo:hi] {
			if err := m.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		for i := lo; i < hi; i++ {
			qr := waitQR(t, m, ids[i])
			if err := simScan(ctx, sim, fmt.Sprintf("1777%07d", i), qr); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids[lo:hi] {
			waitStateLong(t, m, id, gateway.StateConnected, 2*time.Minute)
		}
	}
	t.Logf("linked %d sessions in %v", n, time.Since(linkStart).Round(time.Millisecond))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	dbURL, err := postgres.WithDatabase(baseURL(), pool.Config().ConnConfig.Database)
	if err != nil {
		t.Fatal(err)
	}

	settings := []bool{false, true}
	if os.Getenv("WAGATE_BENCH_COMPRESSION") == "off" {
		settings = settings[:1]
	}
	repeats, _ := strconv.Atoi(os.Getenv("WAGATE_BENCH_RESTORES"))
	if repeats > 1 {
		for range repeats - 1 {
			settings = append([]bool{false}, settings...)
		}
	}
	workerList := strings.Split(os.Getenv("WAGATE_BENCH_BOOT_WORKERS"), ",")
	for i, compress := range settings {
		before := simCounter(t, sim, "ws:compressed")
		res := runRestoreChild(t, dbURL, sim, n, compress, workerList[i%len(workerList)])
		// The simulator really negotiated (or not) permessage-deflate
		// with every restored session.
		compressed := simCounter(t, sim, "ws:compressed") - before
		if (compress && compressed < n) || (!compress && compressed != 0) {
			t.Fatalf("compression=%s: %d of the %d restored sessions negotiated permessage-deflate", onOff(compress), compressed, n)
		}
		t.Logf("compression=%s sessions=%d %s", onOff(compress), n, res)
	}
	moreRestores(t, dbURL, sim, n)
}

// moreRestores, with WAGATE_BENCH_MORE=DIR, keeps the linked sessions
// (the simulator child holds them in memory) for restores by other builds
// of this test binary: whenever DIR/next appears, holding the path of a
// binary and a boot-worker count, it runs one restore child with that
// binary and removes the file; it returns when DIR/stop appears. Linking
// 10,000 sessions takes most of an hour, a restore a minute.
func moreRestores(t *testing.T, dbURL, sim string, n int) {
	dir := os.Getenv("WAGATE_BENCH_MORE")
	if dir == "" {
		return
	}
	for {
		if _, err := os.Stat(dir + "/stop"); err == nil {
			return
		}
		b, err := os.ReadFile(dir + "/next")
		if err != nil {
			time.Sleep(time.Second) //nolint:forbidigo // polling for the operator's next request
			continue
		}
		_ = os.Remove(dir + "/next")
		f := strings.Fields(string(b))
		if len(f) != 2 {
			t.Logf("more: %q is not \"BINARY WORKERS\"", b)
			continue
		}
		res := runRestoreChildWith(t, f[0], dbURL, sim, n, false, f[1])
		t.Logf("more: %s sessions=%d %s", f[0], n, res)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// benchOptions points a Manager at the simulator child.
func benchOptions(t testing.TB, sim string, compress bool) func(*whatsapp.Options) {
	return func(o *whatsapp.Options) {
		o.HTTPClient = wasim.ClientFor(sim)
		o.WSCompression = compress
		o.Logger = testLogger(t)
		o.LoginTimeout = 60 * time.Second
	}
}

// runRestoreChild runs TestRestoreChild in a fresh process and returns its
// RESULT line.
func runRestoreChild(t *testing.T, dbURL, sim string, n int, compress bool, bootWorkers string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return runRestoreChildWith(t, exe, dbURL, sim, n, compress, bootWorkers)
}

// runRestoreChildWith runs TestRestoreChild of the test binary exe.
func runRestoreChildWith(t *testing.T, exe, dbURL, sim string, n int, compress bool, bootWorkers string) string {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^TestRestoreChild$", "-test.v", "-test.timeout=0")
	cmd.Env = append(os.Environ(),
		"WAGATE_RESTORE_CHILD=1",
		"WAGATE_RESTORE_DB="+dbURL,
		"WAGATE_RESTORE_SIM="+sim,
		"WAGATE_RESTORE_SESSIONS="+strconv.Itoa(n),
		"WAGATE_RESTORE_COMPRESS="+strconv.FormatBool(compress),
		"WAGATE_RESTORE_BOOT_WORKERS="+bootWorkers,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restore child (compression=%v): %v\n%s", compress, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "QUER") {
			t.Log(line)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, res, ok := strings.Cut(line, "RESULT "); ok {
			return res
		}
	}
	t.Fatalf("restore child printed no RESULT:\n%s", out)
	return ""
}

// TestRestoreChild is the measuring process of the benchmark: it only
// restores the N sessions linked by its parent (nothing else ran in it),
// so its RSS before and after is the cost of the restored sessions.
func TestRestoreChild(t *testing.T) {
	if os.Getenv("WAGATE_RESTORE_CHILD") != "1" {
		t.Skip("child process of TestSessionsMemoryAndRestore")
	}
	n, _ := strconv.Atoi(os.Getenv("WAGATE_RESTORE_SESSIONS"))
	compress, _ := strconv.ParseBool(os.Getenv("WAGATE_RESTORE_COMPRESS"))
	sim := os.Getenv("WAGATE_RESTORE_SIM")
	ctx := context.Background()
	wasim.InstallRootKey()
	cfg, err := pgxpool.ParseConfig(os.Getenv("WAGATE_RESTORE_DB"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 32
	qs := &queryStats{byText: map[string]*queryStat{}}
	cfg.ConnConfig.Tracer = qs
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ids, err := sessionIDs(ctx, pool)
	if err != nil || len(ids) != n {
		t.Fatalf("linked sessions in the database: %d, %v; want %d", len(ids), err, n)
	}
	f := &fixture{t: t, pool: pool, store: postgres.NewStore(pool), devices: postgres.NewDeviceStore(pool), sink: &recordingSink{}}
	workers, _ := strconv.Atoi(os.Getenv("WAGATE_RESTORE_BOOT_WORKERS"))
	m, err := whatsapp.NewManager(ctx, f.options(benchOptions(t, sim, compress), func(o *whatsapp.Options) { o.BootWorkers = workers }))
	if err != nil {
		t.Fatal(err)
	}
	if workers <= 0 {
		workers = 16
	}
	heap0, rss0 := measure()
	g0 := runtime.NumGoroutine()
	stopProfile := startProfiles(t, sim, os.Getenv("WAGATE_RESTORE_PROFILE"))
	qs.reset()
	cpu0 := cpuTime()
	start := time.Now()
	got, err := m.Boot(ctx)
	if err != nil || got != n {
		t.Fatalf("Boot = %d, %v", got, err)
	}
	booted := time.Since(start)
	for _, id := range ids {
		waitStateLong(t, m, id, gateway.StateConnected, 5*time.Minute)
	}
	restore := time.Since(start)
	cpu := cpuTime() - cpu0
	stopProfile()
	qs.report(n)
	// Let the post-login traffic (prekey counts, app state) settle.
	time.Sleep(3 * time.Second) //nolint:forbidigo // measurement: idle period, not a wait on a condition
	heap1, rss1 := measure()
	g1 := runtime.NumGoroutine()
	// What is left when the runtime returns every free page to the OS.
	debug.FreeOSMemory()
	_, rssFreed := measure()
	mib := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) / (1 << 20) }
	fmt.Printf("RESULT boot-workers=%d boot-returned=%v restore=%v restore-cpu=%v heap/session=%.3fMiB rss/session=%.3fMiB rss-after-FreeOSMemory/session=%.3fMiB goroutines/session=%.1f rss-before=%.0fMiB rss-after=%.0fMiB\n",
		workers, booted.Round(time.Millisecond), restore.Round(time.Millisecond), cpu.Round(time.Millisecond), mib(heap0, heap1), mib(rss0, rss1), mib(rss0, rssFreed),
		float64(g1-g0)/float64(n), float64(rss0)/(1<<20), float64(rss1)/(1<<20))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sessionIDs lists the sessions of the benchmark database.
func sessionIDs(ctx context.Context, pool *pgxpool.Pool) ([]uuid.UUID, error) {
	rows, err := pool.Query(ctx, `SELECT id FROM sessions`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

func waitStateLong(t testing.TB, m *whatsapp.Manager, id uuid.UUID, want gateway.SessionState, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if st, _ := m.State(id); st == want {
			return
		}
		if time.Now().After(deadline) {
			st, _ := m.State(id)
			t.Fatalf("session %s: state %s, want %s", id, st, want)
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

// measure returns the Go heap in use (plus stacks) and the process RSS after GC.
func measure() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = ms.HeapInuse + ms.StackInuse
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
			rss = kb << 10
		}
	}
	return heap, rss
}

// simScan asks the child simulator to scan a QR for phone.
func simScan(ctx context.Context, addr, phone, qr string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/_scan?phone="+phone, strings.NewReader(qr))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scan: %s", resp.Status)
	}
	return nil
}

// simCounter reads one of the child simulator's counters (wasim.Server.Counter).
func simCounter(t testing.TB, addr, name string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/_counter?name=" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("counter %s: %q", name, b)
	}
	return v
}

// startSimChild runs TestSimChild in a child process and returns the
// simulator's address.
func startSimChild(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestSimChild$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "WAGATE_SIM_CHILD=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "SIM" {
			go func() {
				for sc.Scan() {
				}
			}()
			return f[1]
		}
	}
	t.Fatal("simulator child did not start")
	return ""
}

// TestSimChild is the simulator process of the benchmark: a memory-mode
// simulator that accepts permessage-deflate when a client offers it (only
// with WSCompression on: wagate strips the offer otherwise). It exits when
// stdin closes.
func TestSimChild(t *testing.T) {
	if os.Getenv("WAGATE_SIM_CHILD") != "1" {
		t.Skip("child process of TestSessionsMemoryAndRestore")
	}
	wasim.InstallRootKey()
	sim, err := wasim.New(wasim.Options{AcceptCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_scan", func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = bufio.NewReader(r.Body).WriteTo(b)
		if _, err := sim.Phone(r.URL.Query().Get("phone")).ScanQR(r.Context(), b.String()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/_counter", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, sim.Counter(r.URL.Query().Get("name")))
	})
	var cpuFile *os.File
	mux.HandleFunc("/_cpuprofile", func(w http.ResponseWriter, r *http.Request) {
		// ?file=PATH starts a CPU profile of the simulator; no file stops it.
		if f := r.URL.Query().Get("file"); f != "" {
			var err error
			if cpuFile, err = os.Create(f); err == nil {
				err = pprof.StartCPUProfile(cpuFile)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
			return
		}
		pprof.StopCPUProfile()
		if cpuFile != nil {
			_ = cpuFile.Close()
		}
	})
	mux.Handle("/", sim.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("SIM %s\n", ln.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadByte()
}

// startProfiles writes, when dir is set, a CPU profile of this process and
// of the simulator child, and mutex and block profiles of this process,
// covering the restore (dir/restore-{cpu,sim-cpu,mutex,block}.pprof).
func startProfiles(t testing.TB, sim, dir string) func() {
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(dir + "/restore-cpu.pprof")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	if resp, err := http.Get("http://" + sim + "/_cpuprofile?file=" + dir + "/restore-sim-cpu.pprof"); err == nil {
		_ = resp.Body.Close()
	}
	return func() {
		pprof.StopCPUProfile()
		_ = cpu.Close()
		if resp, err := http.Get("http://" + sim + "/_cpuprofile"); err == nil {
			_ = resp.Body.Close()
		}
		for _, name := range []string{"mutex", "block"} {
			f, err := os.Create(dir + "/restore-" + name + ".pprof")
			if err != nil {
				t.Fatal(err)
			}
			_ = pprof.Lookup(name).WriteTo(f, 0)
			_ = f.Close()
		}
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
	}
}

// queryStats is a pgx tracer that counts the statements of the restore by
// SQL text, with their total duration.
type queryStats struct {
	mu     sync.Mutex
	byText map[string]*queryStat
}

type queryStat struct {
	n     int
	total time.Duration
}

type queryStartKey struct{}

type queryStart struct {
	sql string
	at  time.Time
}

func (q *queryStats) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryStartKey{}, queryStart{sql: d.SQL, at: time.Now()})
}

func (q *queryStats) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	st, ok := ctx.Value(queryStartKey{}).(queryStart)
	if !ok {
		return
	}
	text := strings.Join(strings.Fields(st.sql), " ")
	if len(text) > 110 {
		text = text[:110]
	}
	q.mu.Lock()
	s := q.byText[text]
	if s == nil {
		s = &queryStat{}
		q.byText[text] = s
	}
	s.n++
	s.total += time.Since(st.at)
	q.mu.Unlock()
}

func (q *queryStats) reset() {
	q.mu.Lock()
	q.byText = map[string]*queryStat{}
	q.mu.Unlock()
}

// report prints the statements of the restore, most time first.
func (q *queryStats) report(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	type row struct {
		text string
		s    *queryStat
	}
	var rows []row
	total := 0
	for k, v := range q.byText {
		rows = append(rows, row{k, v})
		total += v.n
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].s.total > rows[j].s.total })
	fmt.Printf("QUERIES total=%d per-session=%.1f\n", total, float64(total)/float64(n))
	for i, r := range rows {
		if i == 15 {
			break
		}
		fmt.Printf("QUERY n=%d total=%v avg=%v %s\n", r.s.n, r.s.total.Round(time.Millisecond), (r.s.total / time.Duration(r.s.n)).Round(time.Microsecond), r.text)
	}
}
