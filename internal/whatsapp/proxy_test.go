package whatsapp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// proxyMap is a gateway.ProxySource the test changes.
type proxyMap struct {
	mu sync.Mutex
	m  map[uuid.UUID]string
}

func (p *proxyMap) set(id uuid.UUID, u string) { p.mu.Lock(); p.m[id] = u; p.mu.Unlock() }
func (p *proxyMap) SessionProxy(_ context.Context, id uuid.UUID) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[id], nil
}

// testProxy is a local proxy (HTTP CONNECT or SOCKS5 without auth) that
// sends every tunnel to the simulator, whatever the target, and counts the
// tunnels it opened.
type testProxy struct {
	ln      net.Listener
	tunnels atomic.Int64
	auth    atomic.Value // last Proxy-Authorization seen
}

func startProxy(t *testing.T, socks bool, upstream string) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, socks, upstream)
		}
	}()
	return p
}

func (p *testProxy) serve(c net.Conn, socks bool, upstream string) {
	defer c.Close()
	br := bufio.NewReader(c)
	if socks {
		// greeting: VER NMETHODS METHODS...
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil || hdr[0] != 5 {
			return
		}
		if _, err := io.ReadFull(br, make([]byte, hdr[1])); err != nil {
			return
		}
		_, _ = c.Write([]byte{5, 0})
		// request: VER CMD RSV ATYP ADDR PORT
		req := make([]byte, 4)
		if _, err := io.ReadFull(br, req); err != nil || req[1] != 1 {
			return
		}
		var alen int
		switch req[3] {
		case 1:
			alen = 4
		case 4:
			alen = 16
		case 3:
			l, err := br.ReadByte()
			if err != nil {
				return
			}
			alen = int(l)
		default:
			return
		}
		if _, err := io.ReadFull(br, make([]byte, alen+2)); err != nil {
			return
		}
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		reply := []byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0}
		binary.BigEndian.PutUint16(reply[8:], 0)
		_, _ = c.Write(reply)
		p.tunnels.Add(1)
		pipe(c, br, up)
		return
	}
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
	pipe(c, br, up)
}

func pipe(c net.Conn, br *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// A session with a proxy connects through it (HTTP CONNECT with
// credentials), a proxy change reconnects it through the new one (SOCKS5),
// and a proxy that is down gives a clear lastError.
func TestSessionProxy(t *testing.T) {
	f := newFixture(t)
	px := &proxyMap{m: map[uuid.UUID]string{}}
	m := f.manager(func(o *whatsapp.Options) { o.Proxies = px })
	ctx := context.Background()

	httpPx := startProxy(t, false, f.sim.Addr())
	socksPx := startProxy(t, true, f.sim.Addr())

	id := f.createSession("proxied")
	px.set(id, "http://alice:s3cret@"+httpPx.ln.Addr().String())
	f.linkQR(m, id, "4915110000001")
	if n := httpPx.tunnels.Load(); n < 1 {
		t.Fatalf("HTTP proxy tunnels = %d, want >= 1", n)
	}
	if got, _ := httpPx.auth.Load().(string); got != "Basic YWxpY2U6czNjcmV0" {
		t.Fatalf("Proxy-Authorization = %q", got)
	}

	px.set(id, "socks5://"+socksPx.ln.Addr().String())
	if err := m.Reconnect(ctx, id); err != nil {
		t.Fatalf("Reconnect: %v", err)
	}
	eventually(t, "a tunnel through the SOCKS5 proxy", func() bool { return socksPx.tunnels.Load() >= 1 })
	waitState(t, m, id, gateway.StateConnected)

	// A closed port: the session stays down with a clear lastError.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	down := f.createSession("proxy down")
	px.set(down, "http://bob:hunter2@"+closed)
	if err := m.Start(ctx, down); err != nil {
		t.Fatalf("Start: %v", err)
	}
	eventually(t, "lastError about the proxy", func() bool {
		s := f.session(down)
		return s.LastError != nil && strings.Contains(*s.LastError, "Proxy unreachable")
	})
	if s := f.session(down); strings.Contains(*s.LastError, "hunter2") {
		t.Fatalf("lastError leaks the proxy password: %q", *s.LastError)
	}
}
