package whatsapp_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

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
// The simulator runs in a child process so that only the gateway side is
// measured. N sessions are linked once; then, for each websocket
// compression setting, a new Manager restores all N from the database
// (timed), and the marginal Go heap and RSS per idle connected session
// are read after GC.
func TestSessionsMemoryAndRestore(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WAGATE_BENCH_SESSIONS"))
	if n <= 0 {
		t.Skip("set WAGATE_BENCH_SESSIONS=N to run the sessions benchmark")
	}
	direct, deflate := startSimChild(t)
	wasim.InstallRootKey()
	pool := newDB(t, 32)
	f := &fixture{t: t, pool: pool, store: postgres.NewStore(pool), devices: postgres.NewDeviceStore(pool), sink: &recordingSink{}}
	opts := func(addr string, compress bool) func(*whatsapp.Options) {
		return func(o *whatsapp.Options) {
			o.HTTPClient = wasim.ClientFor(addr)
			o.WSCompression = compress
			o.Logger = testLogger(t)
			o.LoginTimeout = 60 * time.Second
		}
	}
	ctx := context.Background()

	// Link N sessions once.
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = f.createSession(fmt.Sprintf("bench-%d", i))
	}
	linkStart := time.Now()
	m, err := whatsapp.NewManager(ctx, f.options(opts(direct, false)))
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
			if err := simScan(ctx, direct, fmt.Sprintf("1777%07d", i), qr); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids[lo:hi] {
			waitStateLong(t, m, id, gateway.StateConnected, 2*time.Minute)
		}
	}
	t.Logf("linked %d sessions in %v", n, time.Since(linkStart).Round(time.Millisecond))
	_ = m.Close()

	for _, mode := range []struct {
		name     string
		addr     string
		compress bool
	}{{"off", direct, false}, {"on", deflate, true}} {
		heap0, rss0 := measure()
		m, err := whatsapp.NewManager(ctx, f.options(opts(mode.addr, mode.compress)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got, err := m.Boot(ctx)
		if err != nil || got != n {
			t.Fatalf("Boot = %d, %v", got, err)
		}
		for _, id := range ids {
			waitStateLong(t, m, id, gateway.StateConnected, 5*time.Minute)
		}
		restore := time.Since(start)
		// Let the post-login traffic (prekey counts, app state) settle.
		time.Sleep(3 * time.Second) //nolint:forbidigo // measurement: idle period, not a wait on a condition
		heap1, rss1 := measure()
		g := runtime.NumGoroutine()
		t.Logf("compression=%s sessions=%d restore=%v heap/session=%.3f MiB rss/session=%.3f MiB goroutines=%d",
			mode.name, n, restore.Round(time.Millisecond),
			float64(heap1-heap0)/float64(n)/(1<<20), (float64(rss1)-float64(rss0))/float64(n)/(1<<20), g)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
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

// startSimChild runs TestSimChild in a child process and returns the
// simulator's address and the address of a proxy in front of it that
// accepts permessage-deflate (wasim itself does not).
func startSimChild(t *testing.T) (direct, deflate string) {
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
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "SIM" {
			go func() {
				for sc.Scan() {
				}
			}()
			return f[1], f[2]
		}
	}
	t.Fatal("simulator child did not start")
	return "", ""
}

// TestSimChild is the child process of the benchmark: a memory-mode
// simulator plus a compressing proxy; it exits when stdin closes.
func TestSimChild(t *testing.T) {
	if os.Getenv("WAGATE_SIM_CHILD") != "1" {
		t.Skip("child process of TestSessionsMemoryAndRestore")
	}
	wasim.InstallRootKey()
	sim, err := wasim.New(wasim.Options{})
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
	mux.Handle("/", sim.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(pln, deflateProxy(ln.Addr().String())) }()
	fmt.Printf("SIM %s %s\n", ln.Addr(), pln.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadByte()
}

// deflateProxy accepts websockets with permessage-deflate (context
// takeover, as whatsmeow offers) and relays every message to the simulator.
func deflateProxy(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		in.SetReadLimit(1 << 24)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out, _, err := websocket.Dial(ctx, "ws://"+target+r.URL.Path, &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": {r.Header.Get("Origin")}}, CompressionMode: websocket.CompressionDisabled,
		})
		if err != nil {
			in.CloseNow()
			return
		}
		out.SetReadLimit(1 << 24)
		pump := func(a, b *websocket.Conn) {
			defer cancel()
			for {
				typ, data, err := a.Read(ctx)
				if err != nil {
					return
				}
				if err := b.Write(ctx, typ, data); err != nil {
					return
				}
			}
		}
		go pump(in, out)
		pump(out, in)
		in.CloseNow()
		out.CloseNow()
	})
}
