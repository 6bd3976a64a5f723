//go:build benchhttp

// Command benchhttp is `make bench-http`: it starts the real wagate binary in
// sandbox mode on a fresh database, links sessions with the sandbox link
// API, seeds chats and messages through the simulator, and drives the API
// with vegeta (used as a library): authenticated status, list chats, list
// messages, unknown-key 401s and sends through the simulator. In the same
// run it measures a bare net/http handler (a child process of this command)
// as the ceiling, and reads wagate_db_queries_total before and after each
// scenario to show how many database queries a request costs. It prints a
// Markdown table for docs/benchmarks.md. Build tag benchhttp keeps it (and
// vegeta) out of normal builds and CI.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/wagate-dev/wagate/cmd/internal/benchproc"
)

type options struct {
	bin, serverURL, profile string
	duration                time.Duration
	rate, workers, sessions int
	sendRate, poolMaxConns  int
	skipLatency             bool
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-bare" {
		serveBare(os.Args[2])
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/wagate", "wagate binary to start")
	flag.StringVar(&o.serverURL, "server", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL maintenance database URL (a fresh database is created and dropped)")
	flag.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of wagate during the max-rate status run to this file")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "duration of each measured run")
	flag.IntVar(&o.rate, "rate", 1000, "request rate of the latency runs")
	flag.IntVar(&o.workers, "workers", 32, "concurrent connections of the max-rate runs")
	flag.IntVar(&o.sessions, "sessions", 4, "linked sessions")
	flag.IntVar(&o.sendRate, "send-rate", 100, "sends per second (each goes through the simulator)")
	flag.IntVar(&o.poolMaxConns, "pool-max-conns", 0, "pool_max_conns in DATABASE_URL (0: wagate's default)")
	flag.BoolVar(&o.skipLatency, "max-only", false, "skip the fixed-rate latency runs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchhttp:", err)
		os.Exit(1)
	}
}

// serveBare is the ceiling: a bare net/http handler answering a small JSON
// body like wagate's status response.
func serveBare(addr string) {
	body := []byte(`{"success":true,"session":{"id":"00000000-0000-0000-0000-000000000001","name":"bench","state":"connected"}}` + "\n")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// api calls wagate with key and decodes a JSON answer into out.
func api(method, u, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, u, resp.StatusCode, want, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// queries reads wagate_db_queries_total (the scrape itself sends one
// query, counting sessions, after the counter is read).
func queries(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wagate_db_queries_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return math.NaN(), nil // a wagate from before the query counter
}

type session struct {
	id, key, chat string
}

func run(ctx context.Context, o options) error {
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("wagate binary %s: %w (run `make build` first)", o.bin, err)
	}
	dir, err := os.MkdirTemp("", "benchhttp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Fresh database.
	name := "wagate_bench_" + benchproc.RandomHex(4)
	admin, err := pgx.Connect(ctx, o.serverURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", o.serverURL, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}()
	u, _ := url.Parse(o.serverURL)
	u.Path = "/" + name
	if o.poolMaxConns > 0 {
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(o.poolMaxConns))
		u.RawQuery = q.Encode()
	}

	// The ceiling: a bare net/http handler in its own process.
	bareAddr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := benchproc.StartChild(ctx, self, []string{"PATH=" + os.Getenv("PATH")}, filepath.Join(dir, "bare.log"), "-bare", bareAddr)
	if err != nil {
		return err
	}
	defer benchproc.StopChild(bare)

	// wagate in sandbox mode.
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	pprofAddr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	adminKey := "wamk_" + benchproc.RandomHex(24)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + u.String(), "WAGATE_ADDR=" + addr, "WAGATE_ADMIN_KEY=" + adminKey,
		"WAGATE_SANDBOX=true", "WAGATE_RATE_LIMIT_GENERAL=0", "WAGATE_RATE_LIMIT_MESSAGES=0",
		"WAGATE_PPROF_ADDR=" + pprofAddr,
	}
	logPath := filepath.Join(dir, "wagate.log")
	wa, err := benchproc.StartChild(ctx, o.bin, env, logPath, "serve")
	if err != nil {
		return err
	}
	defer benchproc.StopChild(wa)
	base := "http://" + addr
	if err := benchproc.WaitReady(ctx, base+"/readyz", 60*time.Second); err != nil {
		return err
	}
	if err := benchproc.WaitReady(ctx, "http://"+bareAddr+"/", 10*time.Second); err != nil {
		return err
	}

	// Linked sessions with a chat of a few messages each.
	var sessions []session
	for i := range o.sessions {
		var created struct {
			Session struct {
				ID string `json:"id"`
			} `json:"session"`
			APIKey string `json:"apiKey"`
		}
		if err := api("POST", base+"/sessions/create", adminKey, map[string]any{"name": fmt.Sprintf("bench-%d", i)}, 201, &created); err != nil {
			return err
		}
		s := session{id: created.Session.ID, key: created.APIKey}
		phone := fmt.Sprintf("1555100%04d", i)
		if err := api("POST", base+"/sandbox/sessions/"+s.id+"/link", adminKey, map[string]any{"phone": phone}, 200, nil); err != nil {
			return err
		}
		sessions = append(sessions, s)
	}
	for i := range sessions {
		s := &sessions[i]
		for deadline := time.Now().Add(60 * time.Second); ; {
			var st struct {
				Session struct {
					State string `json:"state"`
				} `json:"session"`
			}
			if err := api("GET", base+"/sessions/"+s.id+"/status", s.key, nil, 200, &st); err != nil {
				return err
			}
			if st.Session.State == "connected" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("session %s not connected: %s", s.id, st.Session.State)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for j := range 5 {
			if err := api("POST", base+"/sandbox/sessions/"+s.id+"/inbound", adminKey, map[string]any{"from": "15559990000", "text": fmt.Sprintf("seed %d", j)}, 200, nil); err != nil {
				return err
			}
		}
		for deadline := time.Now().Add(60 * time.Second); ; {
			var chats struct {
				Chats []struct {
					Jid string `json:"jid"`
				} `json:"chats"`
			}
			if err := api("GET", base+"/sessions/"+s.id+"/chats", s.key, nil, 200, &chats); err != nil {
				return err
			}
			if len(chats.Chats) > 0 {
				s.chat = chats.Chats[0].Jid
				var msgs struct {
					Messages []json.RawMessage `json:"messages"`
				}
				if err := api("GET", base+"/sessions/"+s.id+"/chats/"+url.PathEscape(s.chat)+"/messages", s.key, nil, 200, &msgs); err != nil {
					return err
				}
				if len(msgs.Messages) == 5 {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("session %s: seeded messages not stored", s.id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	targets := func(path func(s session) string, key func(s session) string) []vegeta.Target {
		var out []vegeta.Target
		for _, s := range sessions {
			out = append(out, vegeta.Target{Method: "GET", URL: base + path(s), Header: http.Header{"X-API-Key": {key(s)}}})
		}
		return out
	}
	var unknown []vegeta.Target
	for i := range 100 {
		s := sessions[i%len(sessions)]
		unknown = append(unknown, vegeta.Target{Method: "GET", URL: base + "/sessions/" + s.id + "/status",
			Header: http.Header{"X-API-Key": {"wask_" + benchproc.RandomHex(24)}}})
	}
	var sends []vegeta.Target
	for _, s := range sessions {
		body, _ := json.Marshal(map[string]string{"to": "15559990000", "text": "bench"})
		sends = append(sends, vegeta.Target{Method: "POST", URL: base + "/sessions/" + s.id + "/send", Body: body,
			Header: http.Header{"X-API-Key": {s.key}, "Content-Type": {"application/json"}}})
	}
	scenarios := []struct {
		name    string
		targets []vegeta.Target
		want    int
		maxRate bool
		rate    int
	}{
		{"bare net/http handler (ceiling)", []vegeta.Target{{Method: "GET", URL: "http://" + bareAddr + "/sessions/x/status"}}, 200, true, o.rate},
		{"GET /sessions/{id}/status (session key)", targets(func(s session) string { return "/sessions/" + s.id + "/status" }, func(s session) string { return s.key }), 200, true, o.rate},
		{"GET /sessions/{id}/chats", targets(func(s session) string { return "/sessions/" + s.id + "/chats" }, func(s session) string { return s.key }), 200, true, o.rate},
		{"GET /sessions/{id}/chats/{chatId}/messages", targets(func(s session) string { return "/sessions/" + s.id + "/chats/" + url.PathEscape(s.chat) + "/messages" }, func(s session) string { return s.key }), 200, true, o.rate},
		{"unknown key → 401 (100 keys)", unknown, 401, true, o.rate},
		{"POST /sessions/{id}/send (through the simulator)", sends, 200, false, o.sendRate},
	}

	fmt.Printf("wagate HTTP benchmark: %d linked sessions, %s per run, %d connections at max rate, latency runs at %d req/s\n\n",
		len(sessions), o.duration, o.workers, o.rate)
	fmt.Println("| scenario | max req/s | % of ceiling | p50 / p99 at max | p50 / p99 at fixed rate | DB queries per request | statuses |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var ceiling float64
	for _, sc := range scenarios {
		tr := vegeta.NewStaticTargeter(sc.targets...)
		isBare := strings.HasPrefix(sc.name, "bare")
		row := []string{sc.name}
		statuses := map[string]int{}
		var requests float64
		q0, err := queries(base)
		if err != nil {
			return err
		}
		if sc.maxRate {
			attack(tr, 0, o.workers, o.duration/5) // warm-up: connections, caches
			var stopProfile func() error
			if o.profile != "" && strings.HasPrefix(sc.name, "GET /sessions/{id}/status") {
				stopProfile = profile(pprofAddr, o.duration, o.profile)
			}
			m := attack(tr, 0, o.workers, o.duration)
			if stopProfile != nil {
				if err := stopProfile(); err != nil {
					fmt.Fprintln(os.Stderr, "profile:", err)
				}
			}
			ok := float64(m.StatusCodes[strconv.Itoa(sc.want)])
			tput := ok / m.Duration.Seconds()
			if isBare {
				ceiling = tput
			}
			row = append(row, fmt.Sprintf("%.0f", tput), pct(tput, ceiling), fmt.Sprintf("%s / %s", ms(m.Latencies.P50), ms(m.Latencies.P99)))
			merge(statuses, m.StatusCodes)
			requests += float64(m.Requests)
		} else {
			row = append(row, "–", "–", "–")
		}
		if !o.skipLatency || !sc.maxRate {
			m := attack(tr, sc.rate, 0, o.duration)
			row = append(row, fmt.Sprintf("%s / %s (%d/s)", ms(m.Latencies.P50), ms(m.Latencies.P99), sc.rate))
			merge(statuses, m.StatusCodes)
			requests += float64(m.Requests)
		} else {
			row = append(row, "–")
		}
		q1, err := queries(base)
		if err != nil {
			return err
		}
		if isBare || math.IsNaN(q0) {
			row = append(row, "–")
		} else {
			// q1 includes the query of the first scrape; background work
			// (webhook queue polling) is included.
			row = append(row, fmt.Sprintf("%.4f (%0.f in %.0f)", (q1-q0-1)/requests, q1-q0-1, requests))
		}
		row = append(row, fmt.Sprint(statuses))
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	return nil
}

// attack runs tr for du: at rate requests per second, or as fast as
// workers connections allow when rate is 0.
func attack(tr vegeta.Targeter, rate, workers int, du time.Duration) vegeta.Metrics {
	opts := []func(*vegeta.Attacker){vegeta.KeepAlive(true), vegeta.Timeout(10 * time.Second)}
	if rate == 0 {
		opts = append(opts, vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)), vegeta.Connections(workers))
	} else {
		opts = append(opts, vegeta.Workers(64), vegeta.Connections(256))
	}
	a := vegeta.NewAttacker(opts...)
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, du, "bench") {
		m.Add(res)
	}
	m.Close()
	return m
}

// profile starts a CPU profile of wagate for du; the returned function
// waits for it and writes it to path.
func profile(pprofAddr string, du time.Duration, path string) func() error {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(du.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }
}

func merge(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

func pct(v, ceiling float64) string {
	if ceiling == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", 100*v/ceiling)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
