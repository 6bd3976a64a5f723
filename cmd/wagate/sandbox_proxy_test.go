package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// countingProxy is a local HTTP CONNECT proxy that tunnels every CONNECT
// to upstream (the simulator) and counts the tunnels it opened.
type countingProxy struct {
	ln      net.Listener
	tunnels atomic.Int64
	auth    atomic.Value
}

func startCountingProxy(t *testing.T, upstream string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, upstream)
		}
	}()
	return p
}

func (p *countingProxy) serve(c net.Conn, upstream string) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.auth.Store(req.Header.Get("Proxy-Authorization"))
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	p.tunnels.Add(1)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// TestSandboxProxy goes through the real wiring of cmd/wagate: a session
// created with `proxy` makes its very first (QR login) connection through
// that proxy; PATCH /sessions/{id} to another proxy reconnects the running
// session through it (sessions.Settings -> Manager.Reconnect); "" goes
// direct again. The proxies count the tunnels they opened. A child
// process, like TestSandboxMode (sandbox mode installs the simulator's
// root key process-wide).
func TestSandboxProxy(t *testing.T) {
	if os.Getenv("WAGATE_SANDBOX_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestSandboxProxy$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "WAGATE_SANDBOX_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("sandbox child: %v\n%s", err, out)
		}
		return
	}
	dbURL := testkit.NewDatabaseURL(t)
	const admin = "wamk_000000000000000000000000000000000000000000000002"
	m, _ := startSandboxMain(t, dbURL, admin)
	first := startCountingProxy(t, m.Sim.Addr())
	second := startCountingProxy(t, m.Sim.Addr())

	var created struct {
		Session  struct{ ID string } `json:"session"`
		Settings struct {
			Proxy *string `json:"proxy"`
		} `json:"settings"`
	}
	body := `{"name":"proxied","proxy":"http://alice:s3cret@` + first.ln.Addr().String() + `"}`
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, body, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if created.Settings.Proxy == nil || *created.Settings.Proxy != "http://alice:***@"+first.ln.Addr().String() {
		t.Fatalf("settings.proxy = %v", created.Settings.Proxy)
	}
	id := created.Session.ID
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"15550003131","method":"qr"}`, nil); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	waitStatus(t, m, admin, id, "connected", "15550003131@s.whatsapp.net")
	if n := first.tunnels.Load(); n < 1 {
		t.Fatalf("the create-time proxy opened %d tunnels, want the QR login's (>= 1)", n)
	}
	if got, _ := first.auth.Load().(string); got != "Basic YWxpY2U6czNjcmV0" {
		t.Fatalf("Proxy-Authorization = %q", got)
	}
	if n := second.tunnels.Load(); n != 0 {
		t.Fatalf("the second proxy opened %d tunnels before it was set", n)
	}

	// PATCH: the running session reconnects through the new proxy.
	if code := call(t, m, http.MethodPatch, "/sessions/"+id, admin, `{"proxy":"http://`+second.ln.Addr().String()+`"}`, nil); code != http.StatusOK {
		t.Fatalf("patch: %d", code)
	}
	for deadline := time.Now().Add(30 * time.Second); second.tunnels.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("PATCH proxy: no tunnel through the new proxy (Manager.Reconnect not wired?)")
		}
		time.Sleep(100 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
	waitStatus(t, m, admin, id, "connected", "15550003131@s.whatsapp.net")

	// A bad PATCH changes nothing.
	if code := call(t, m, http.MethodPatch, "/sessions/"+id, admin, `{"proxy":"socks5://x:y@host"}`, nil); code != http.StatusBadRequest {
		t.Fatalf("bad patch: %d", code)
	}
	var settings struct {
		Settings struct {
			Proxy *string `json:"proxy"`
		} `json:"settings"`
	}
	if code := call(t, m, http.MethodPatch, "/sessions/"+id, admin, `{}`, &settings); code != http.StatusOK ||
		settings.Settings.Proxy == nil || *settings.Settings.Proxy != "http://"+second.ln.Addr().String() {
		t.Fatalf("settings after a refused patch: %d %v", code, settings.Settings.Proxy)
	}
}
