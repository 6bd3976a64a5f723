package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// pgBinDir holds PostgreSQL's server binaries (Debian's layout).
const pgBinDir = "/usr/lib/postgresql/15/bin"

// outagePort is the port of the test's own PostgreSQL cluster: the
// machine's cluster at 5432 is shared and must never be stopped.
const outagePort = 5499

// pgCluster is a PostgreSQL cluster of the test's own, in a temporary
// directory.
type pgCluster struct {
	t       *testing.T
	dir     string
	asUser  []string // runuser prefix when running as root
	running bool
}

// newCluster creates (initdb) and starts a cluster on outagePort; it is
// stopped and removed at cleanup. It skips when the binaries are absent.
func newCluster(t *testing.T) *pgCluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBinDir, "initdb")); err != nil {
		t.Skipf("PostgreSQL server binaries not found in %s (%v): cannot run a cluster of the test's own", pgBinDir, err)
	}
	dir, err := os.MkdirTemp("", "wagate-outage-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, dir: dir}
	t.Cleanup(func() {
		if c.running {
			c.stop()
		}
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	c.start()
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

func (c *pgCluster) run(bin string, args ...string) {
	c.t.Helper()
	argv := append(append([]string{}, c.asUser...), append([]string{filepath.Join(pgBinDir, bin)}, args...)...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", bin, err, out)
	}
}

func (c *pgCluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", outagePort, c.dir), "start")
	c.running = true
}

func (c *pgCluster) stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
	c.running = false
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", outagePort, db)
}

// TestDatabaseOutageAnswers503 stops the (test's own) PostgreSQL under a
// running wagate: every request that needs the database answers 503
// "Database temporarily unavailable. Please retry." with Retry-After, never
// 500 (nor 401: the auth cache does not take an outage for an unknown key),
// /readyz says the database is unreachable, and everything answers again
// once it is back.
func TestDatabaseOutageAnswers503(t *testing.T) {
	c := newCluster(t)
	const admin = "wamk_000000000000000000000000000000000000000000000014"
	m, _ := start(t, c.url("wagate_outage"), admin)
	base := "http://" + m.Addr.String()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &testkit.ContractTransport{TB: t}}
	do := func(method, path, key, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewBufferString(body))
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, resp.Header, out
	}
	var created struct {
		Session struct{ ID string } `json:"session"`
		APIKey  string              `json:"apiKey"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"outage"}`, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	id, sessKey := created.Session.ID, created.APIKey
	requests := []struct{ method, path, key, body string }{
		{http.MethodGet, "/sessions/" + id + "/status", admin, ""},
		{http.MethodGet, "/sessions/" + id + "/status", sessKey, ""},
		{http.MethodGet, "/sessions", admin, ""},
		{http.MethodPost, "/sessions/create", admin, `{"name":"during the outage"}`},
		{http.MethodGet, "/sessions/" + id + "/webhooks", sessKey, ""},
		{http.MethodGet, "/sessions/" + id + "/chats", sessKey, ""},
	}
	for _, r := range requests {
		if code, _, body := do(r.method, r.path, r.key, r.body); code >= 500 {
			t.Fatalf("%s %s before the outage: %d %v", r.method, r.path, code, body)
		}
	}

	c.stop()
	for round := 0; round < 2; round++ { // first on broken pooled connections, then on refused new ones
		for _, r := range requests {
			code, h, body := do(r.method, r.path, r.key, r.body)
			if code != http.StatusServiceUnavailable || body["error"] != "Database temporarily unavailable. Please retry." || h.Get("Retry-After") == "" {
				t.Fatalf("%s %s during the outage: %d Retry-After %q %v", r.method, r.path, code, h.Get("Retry-After"), body)
			}
		}
	}
	code, h, body := do(http.MethodGet, "/readyz", "", "")
	if code != http.StatusServiceUnavailable || body["error"] != "Database unreachable" || h.Get("Retry-After") == "" {
		t.Fatalf("/readyz during the outage: %d %v", code, body)
	}

	c.start()
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range requests[:3] {
		for {
			code, _, body := do(r.method, r.path, r.key, r.body)
			if code == http.StatusOK {
				break
			}
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("%s %s after the outage: %d %v", r.method, r.path, code, body)
			}
			time.Sleep(100 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
		}
	}
	if code, _, body := do(http.MethodGet, "/readyz", "", ""); code != http.StatusOK {
		t.Fatalf("/readyz after the outage: %d %v", code, body)
	}
}
