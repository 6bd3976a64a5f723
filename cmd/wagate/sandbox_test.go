package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/config"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestSandboxMode is the acceptance of sandbox mode through the HTTP API:
// create a session, link it with POST /sandbox/sessions/{id}/link, read
// GET /sessions/{id}/status (connected, with the JID); stop the whole
// server and start it again: the session is connected again with no new
// link. It runs in a child process because sandbox mode installs the
// simulator's root key process-wide, which the other tests of this package
// (production mode) must never see.
func TestSandboxMode(t *testing.T) {
	if os.Getenv("WAGATE_SANDBOX_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestSandboxMode$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WAGATE_SANDBOX_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("sandbox child: %v\n%s", err, out)
		}
		return
	}
	dbURL := testkit.NewDatabaseURL(t)
	const admin = "wamk_000000000000000000000000000000000000000000000001"

	// Outside sandbox mode the control plane is absent.
	m, _ := start(t, dbURL, admin)
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/00000000-0000-0000-0000-000000000001/link", admin, `{"phone":"15550001111"}`, nil); code != http.StatusNotFound {
		t.Fatalf("sandbox endpoint without sandbox mode: %d", code)
	}

	startSandbox := func() (*Main, func()) { return startSandboxMain(t, dbURL, admin) }
	m, stop := startSandbox()
	var created struct {
		Session struct{ ID string } `json:"session"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"sandbox-demo"}`, &created); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	id := created.Session.ID
	var linked struct {
		Jid       string `json:"jid"`
		DeviceJid string `json:"deviceJid"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"15550001111","method":"qr"}`, &linked); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	if linked.Jid != "15550001111@s.whatsapp.net" || !strings.HasPrefix(linked.DeviceJid, "15550001111:") {
		t.Fatalf("link answered %+v", linked)
	}
	waitStatus(t, m, admin, id, "connected", "15550001111@s.whatsapp.net")

	var msg struct {
		MessageID string `json:"messageId"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/inbound", admin, `{"from":"15550002222","text":"hi"}`, &msg); code != http.StatusOK || msg.MessageID == "" {
		t.Fatalf("inbound: %d %+v", code, msg)
	}
	// The inbound message is stored (the messaging service is the runtime's
	// sink) and counted by /metrics, with the session gauge by state.
	waitMessageStored(t, m, admin, id, "15550002222", msg.MessageID)
	waitMetrics(t, m, `wagate_messages_total{direction="in"} 1`, `wagate_sessions{state="connected"} 1`)

	// In sandbox mode every number is on WhatsApp except the reserved 999…
	// range: a send to a new number is decrypted by its simulated contact.
	var notOn struct {
		Error string `json:"error"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/"+id+"/send", admin, `{"to":"9995550100","text":"anyone?"}`, &notOn); code != http.StatusNotFound || notOn.Error != "The number is not on WhatsApp" {
		t.Fatalf("send to a reserved number: %d %+v", code, notOn)
	}
	// Groups are not simulated: every group is unknown, and the answer says
	// so (as WhatsApp's does for a group that does not exist).
	if code := call(t, m, http.MethodPost, "/sessions/"+id+"/send", admin, `{"to":"120363000000000001@g.us","text":"hi all"}`, &notOn); code != http.StatusNotFound || notOn.Error != "Group not found" {
		t.Fatalf("send to an unknown group: %d %+v", code, notOn)
	}
	var sent struct {
		MessageID string `json:"messageId"`
		To        string `json:"to"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/"+id+"/send", admin, `{"to":"+4915112345678","text":"hello new number"}`, &sent); code != http.StatusOK || sent.To != "4915112345678@s.whatsapp.net" {
		t.Fatalf("send to a new number: %d %+v", code, sent)
	}
	var got struct {
		Messages []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		call(t, m, http.MethodGet, "/sandbox/contacts/4915112345678/messages", admin, "", &got)
		if len(got.Messages) == 1 && got.Messages[0].ID == sent.MessageID && got.Messages[0].Kind == "text" && got.Messages[0].Text == "hello new number" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new number's device decrypted %+v, want message %s", got.Messages, sent.MessageID)
		}
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}

	// Restart the whole server on the same database.
	stop()
	m, _ = startSandbox()
	waitStatus(t, m, admin, id, "connected", "15550001111@s.whatsapp.net")
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"15550001111"}`, nil); code != http.StatusConflict {
		t.Fatalf("linking a linked session again: %d", code)
	}
}

// startSandboxMain runs Main in sandbox mode; stop ends it (as a kill
// would: sessions keep their recorded states).
func startSandboxMain(t *testing.T, dbURL, adminKey string) (*Main, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = dbURL
	cfg.AdminKey = adminKey
	cfg.Sandbox = true
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
			_ = <-done // Serve's error after cancel is not what this test checks
			m.Close()
		})
	}
	t.Cleanup(stop)
	return m, stop
}

func call(t *testing.T, m *Main, method, path, key, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+m.Addr.String()+path, bytes.NewBufferString(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func waitStatus(t *testing.T, m *Main, key, id, state, jid string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Session struct {
				State string  `json:"state"`
				Jid   *string `json:"jid"`
			} `json:"session"`
		}
		call(t, m, http.MethodGet, "/sessions/"+id+"/status", key, "", &st)
		if st.Session.State == state && st.Session.Jid != nil && *st.Session.Jid == jid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want %s %s", st.Session, state, jid)
		}
		time.Sleep(300 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

// waitMessageStored polls the chat's messages until id is there.
func waitMessageStored(t *testing.T, m *Main, key, sessionID, chat, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		call(t, m, http.MethodGet, "/sessions/"+sessionID+"/chats/"+chat+"/messages", key, "", &page)
		for _, msg := range page.Messages {
			if msg.ID == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s not stored in chat %s: %+v", id, chat, page)
		}
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

// waitMetrics polls /metrics until every line in want appears.
func waitMetrics(t *testing.T, m *Main, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + m.Addr.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(body), "\n"+w+"\n") {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}
