// Package chromium drives headless Chromium over the DevTools protocol for
// browser tests: load a page, run JavaScript in it, wait for a condition,
// take a screenshot. Tests are skipped when chromium is not installed.
package chromium

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Browser is headless Chromium driven over the DevTools protocol: enough of
// it to load a page, run JavaScript in it and take screenshots.
type Browser struct {
	t    testing.TB
	conn *websocket.Conn
	ctx  context.Context

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	errors  []string // uncaught exceptions and console errors of the page
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Start starts chromium with a w×h viewport on about:blank; it is stopped
// in cleanup. The test is skipped when chromium is not installed.
func Start(t testing.TB, w, h int) *Browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
	}
	// Not t.TempDir: chromium's helper processes may still write there for a
	// moment after it is killed.
	dir, err := os.MkdirTemp("", "wagate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		fmt.Sprintf("--window-size=%d,%d", w, h), "--user-data-dir="+dir, "about:blank")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()                     // killed by the cancel
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // let its helpers exit before the profile goes
		_ = os.RemoveAll(dir)              // best effort: a leftover file in /tmp is harmless
	})

	// Chromium writes its DevTools port into the profile directory.
	var port string
	for deadline := time.Now().Add(30 * time.Second); port == ""; {
		if b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort")); err == nil && strings.Contains(string(b), "\n") {
			port = strings.SplitN(string(b), "\n", 2)[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not open its DevTools port")
		}
		time.Sleep(50 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
	if err != nil {
		t.Fatal(err)
	}
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&targets)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	wsURL := ""
	for _, tg := range targets {
		if tg.Type == "page" {
			wsURL = tg.WS
		}
	}
	if wsURL == "" {
		t.Fatalf("no page target: %+v", targets)
	}
	conn, hresp, err := websocket.Dial(ctx, wsURL, nil)
	if hresp != nil && hresp.Body != nil {
		hresp.Body.Close() // the handshake's; the connection lives on
	}
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20) // screenshots
	b := &Browser{t: t, conn: conn, ctx: ctx, waiting: map[int]chan cdpReply{}}
	go b.readLoop()
	b.Call("Runtime.enable", nil, nil)
	b.Call("Page.enable", nil, nil)
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *Browser) readLoop() {
	for {
		_, data, err := b.conn.Read(b.ctx)
		if err != nil {
			return
		}
		var msg struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			cdpReply
		}
		if json.Unmarshal(data, &msg) != nil {
			continue
		}
		switch msg.Method {
		case "Runtime.exceptionThrown":
			b.mu.Lock()
			b.errors = append(b.errors, "exception: "+string(msg.Params))
			b.mu.Unlock()
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			if json.Unmarshal(msg.Params, &p) == nil && p.Type == "error" {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("console.error: %+v", p.Args))
				b.mu.Unlock()
			}
		}
		if msg.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[msg.ID]
			delete(b.waiting, msg.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- msg.cdpReply
			}
		}
	}
}

// Call sends a DevTools command and decodes its result into out.
func (b *Browser) Call(method string, params, out any) {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	req, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := b.conn.Write(ctx, websocket.MessageText, req); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			b.t.Fatalf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				b.t.Fatalf("%s: %v", method, err)
			}
		}
	case <-ctx.Done():
		b.t.Fatalf("%s: no answer", method)
	}
}

// Eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its value into out (when not nil).
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.Call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if r.Exception != nil {
		b.t.Fatalf("eval %s: %s %s", expr, r.Exception.Text, r.Exception.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("eval %s: %v (%s)", expr, err, r.Result.Value)
		}
	}
}

// WaitFor polls a JavaScript condition until it is true (an exception
// counts as false), failing the test after 30 s with the page's text.
func (b *Browser) WaitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		b.Eval("(() => { try { return Boolean("+expr+"); } catch (e) { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var dom string
			b.Eval("document.body.innerText", &dom)
			b.t.Fatalf("waited 30 s for %s (%s); page text:\n%s", what, expr, dom)
		}
		time.Sleep(100 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

// Navigate loads url.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Call("Page.navigate", map[string]any{"url": url}, nil)
}

// Screenshot returns a PNG of the viewport.
func (b *Browser) Screenshot() []byte {
	b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	b.Call("Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	raw, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	return raw
}

// Errors returns the page's uncaught exceptions and console errors so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// SetFiles puts files into the file input that selector finds, as a user
// choosing them would (the input's change event fires).
func (b *Browser) SetFiles(selector string, files ...string) {
	b.t.Helper()
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	b.Call("DOM.getDocument", nil, &doc)
	var node struct {
		NodeID int `json:"nodeId"`
	}
	b.Call("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": selector}, &node)
	if node.NodeID == 0 {
		b.t.Fatalf("no element %s", selector)
	}
	b.Call("DOM.setFileInputFiles", map[string]any{"nodeId": node.NodeID, "files": files}, nil)
}
