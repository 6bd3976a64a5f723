//go:build benchmedia

// Command benchmedia is `make bench-media`: the memory a video send costs
// the real wagate binary. It starts `wagate simulator` (its own process,
// so the simulator's copies of the file are not counted) and, for every
// file size and body form, a fresh `wagate serve` in sandbox mode against
// it on one database; once the session is connected and idle it resets
// the process's peak RSS (/proc/<pid>/clear_refs 5), sends one video
// (multipart/form-data upload, a URL it serves on loopback, or JSON with
// the file in base64), and reads
// the peak (VmHWM) and the Go heap in use (go_memstats via /metrics when
// exported, else none). It prints a Markdown table for docs/benchmarks.md.
// No number is asserted. Build tag benchmedia keeps it out of normal builds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/cmd/internal/benchproc"
)

func main() {
	bin := flag.String("bin", "bin/wagate", "wagate binary")
	server := flag.String("database-server", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (a database is created and dropped)")
	sizes := flag.String("sizes", "1,4,16", "file sizes in MiB")
	flag.StringVar(&profileDir, "profiles", "", "save each send's allocation profile (pprof allocs) in this directory")
	flag.Parse()
	if err := run(context.Background(), *bin, *server, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "benchmedia:", err)
		os.Exit(1)
	}
}

var profileDir string

func run(ctx context.Context, bin, server, sizeList string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("wagate binary %s: %w (run `make build` first)", bin, err)
	}
	dir, err := os.MkdirTemp("", "benchmedia")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	name := "wagate_benchmedia_" + benchproc.RandomHex(4)
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}()
	u, _ := url.Parse(server)
	u.Path = "/" + name
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + u.String(), "WAGATE_LOG_LEVEL=warn"}

	simAddr, _ := benchproc.FreeAddr()
	sim, err := benchproc.StartChild(ctx, bin, append(base, "WAGATE_ADDR="+simAddr), filepath.Join(dir, "sim.log"), "simulator")
	if err != nil {
		return err
	}
	defer benchproc.StopChild(sim)
	adminKey := "wamk_" + benchproc.RandomHex(24)
	addr, _ := benchproc.FreeAddr()
	env := append(base, "WAGATE_ADDR="+addr, "WAGATE_ADMIN_KEY="+adminKey, "WAGATE_SANDBOX=true",
		"WAGATE_SANDBOX_URL=http://"+simAddr, "WAGATE_RATE_LIMIT_GENERAL=0", "WAGATE_RATE_LIMIT_MESSAGES=0",
		"WAGATE_IMAGE_ALLOW_PRIVATE=true") // the url form fetches from this process on loopback
	var current []byte // the file the url form serves
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		_, _ = w.Write(current)
	}))
	defer files.Close()
	api := "http://" + addr
	pprofAddr, _ := benchproc.FreeAddr()
	if profileDir != "" {
		env = append(env, "WAGATE_PPROF_ADDR="+pprofAddr)
	}

	// One session, linked once; every measurement restarts wagate, which
	// reconnects it.
	wa, err := startWagate(ctx, bin, env, dir, api)
	if err != nil {
		return err
	}
	var created struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
		APIKey string `json:"apiKey"`
	}
	if err := call("POST", api+"/sessions/create", adminKey, "application/json", jsonBody(map[string]any{"name": "bench-media"}), 201, &created); err != nil {
		return err
	}
	sid, key := created.Session.ID, created.APIKey
	if err := call("POST", api+"/sandbox/sessions/"+sid+"/link", adminKey, "application/json", jsonBody(map[string]any{"phone": "15551230000"}), 200, nil); err != nil {
		return err
	}
	if err := waitConnected(api, sid, key); err != nil {
		return err
	}
	benchproc.StopChild(wa)

	fmt.Println("| File | Body | Body bytes | Peak RSS above idle | In file sizes | Send time |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range strings.Split(sizeList, ",") {
		mib, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		file := make([]byte, mib<<20)
		_, _ = rand.Read(file)
		copy(file, "\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
		current = file
		for _, form := range []string{"multipart", "url", "json-base64"} {
			wa, err := startWagate(ctx, bin, env, dir, api)
			if err != nil {
				return err
			}
			if err := waitConnected(api, sid, key); err != nil {
				benchproc.StopChild(wa)
				return err
			}
			time.Sleep(2 * time.Second) // idle: start-up work done
			pid := wa.Process.Pid
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
				benchproc.StopChild(wa)
				return fmt.Errorf("reset peak RSS: %w", err)
			}
			idle, _ := procStatus(pid, "VmRSS")
			var ct string
			var body *bytes.Buffer
			if form == "multipart" {
				body = &bytes.Buffer{}
				w := multipart.NewWriter(body)
				_ = w.WriteField("to", "15551239999")
				fw, _ := w.CreateFormFile("video", "clip.mp4")
				_, _ = fw.Write(file)
				_ = w.Close()
				ct = w.FormDataContentType()
			} else if form == "url" {
				body = jsonBody(map[string]any{"to": "15551239999", "video": files.URL + "/clip.mp4"})
				ct = "application/json"
			} else {
				body = jsonBody(map[string]any{"to": "15551239999", "video": base64.StdEncoding.EncodeToString(file)})
				ct = "application/json"
			}
			n := body.Len()
			start := time.Now()
			err = call("POST", api+"/sessions/"+sid+"/send/video", key, ct, body, 200, nil)
			took := time.Since(start)
			peak, _ := procStatus(pid, "VmHWM")
			if profileDir != "" {
				if resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/allocs"); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					_ = os.WriteFile(filepath.Join(profileDir, fmt.Sprintf("allocs-%dmib-%s.pb.gz", mib, form)), b, 0o600)
				}
			}
			benchproc.StopChild(wa)
			if err != nil {
				return err
			}
			over := peak - idle
			fmt.Printf("| %d MiB | %s | %.1f MiB | %.1f MiB | %.2f | %s |\n", mib, form, float64(n)/(1<<20),
				float64(over)/1024, float64(over)*1024/float64(len(file)), took.Round(time.Millisecond))
		}
	}
	return nil
}

func startWagate(ctx context.Context, bin string, env []string, dir, api string) (*exec.Cmd, error) {
	wa, err := benchproc.StartChild(ctx, bin, env, filepath.Join(dir, "wagate.log"), "serve")
	if err != nil {
		return nil, err
	}
	if err := benchproc.WaitReady(ctx, api+"/readyz", 60*time.Second); err != nil {
		benchproc.StopChild(wa)
		return nil, err
	}
	return wa, nil
}

// procStatus reads a kB field of /proc/<pid>/status.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s", field)
}

func waitConnected(api, sid, key string) error {
	for deadline := time.Now().Add(60 * time.Second); ; {
		var st struct {
			Session struct {
				State string `json:"state"`
			} `json:"session"`
		}
		if err := call("GET", api+"/sessions/"+sid+"/status", key, "", nil, 200, &st); err != nil {
			return err
		}
		if st.Session.State == "connected" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("session %s not connected: %s", sid, st.Session.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsonBody(v any) *bytes.Buffer {
	b, _ := json.Marshal(v)
	return bytes.NewBuffer(b)
}

func call(method, u, key, ct string, body io.Reader, want int, out any) error {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", key)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
