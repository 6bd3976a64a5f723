package whatsapp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// errProxyUnreachable prefixes every failure to reach or use the session's
// proxy, so the session's lastError says what is wrong. Texts never carry
// the proxy's credentials.
const errProxyUnreachable = "Proxy unreachable"

// proxyError is a dial failure through the session proxy.
type proxyError struct{ err error }

func (e proxyError) Error() string { return errProxyUnreachable + ": " + e.err.Error() }
func (e proxyError) Unwrap() error { return e.err }

// proxiedClient returns base with every connection (websocket before and
// after login, media) tunnelled through the proxy at raw (an URL checked by
// gateway.ParseProxyURL). The tunnel replaces the transport's dialers: in
// production the transport then runs TLS over it as usual; with the
// simulator (whose transport dials plain TCP for wss) the plain tunnel is
// the connection.
func proxiedClient(base *http.Client, raw string) (*http.Client, error) {
	u, err := gateway.ParseProxyURL(raw)
	if err != nil {
		return nil, err
	}
	dial, err := tunnelDialer(u)
	if err != nil {
		return nil, err
	}
	var tr *http.Transport
	next := base.Transport
	wrap := func(rt http.RoundTripper) http.RoundTripper { return rt }
	if nc, ok := next.(noCompression); ok {
		next = nc.next
		wrap = func(rt http.RoundTripper) http.RoundTripper { return noCompression{rt} }
	}
	switch t := next.(type) {
	case *http.Transport:
		tr = t.Clone()
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	default:
		return nil, fmt.Errorf("whatsapp: cannot add a proxy to transport %T", next)
	}
	tr.Proxy = nil
	tr.DialContext = dial
	if tr.DialTLSContext != nil {
		tr.DialTLSContext = dial
	}
	c := *base
	c.Transport = wrap(tr)
	return &c, nil
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// tunnelDialer dials addr through the proxy u: HTTP CONNECT for http and
// https proxies, SOCKS5 for socks5.
func tunnelDialer(u *url.URL) (dialFunc, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if u.Scheme == "socks5" {
		px, err := proxy.FromURL(u, d)
		if err != nil {
			return nil, err
		}
		cd, ok := px.(proxy.ContextDialer)
		if !ok {
			return nil, errors.New("whatsapp: SOCKS5 dialer without context")
		}
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := cd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, proxyError{err}
			}
			return c, nil
		}, nil
	}
	var auth string
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
	}
	host, secure := u.Host, u.Scheme == "https"
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, proxyError{err}
		}
		if secure {
			tc := tls.Client(c, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, proxyError{err}
			}
			c = tc
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		}
		req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
		if auth != "" {
			req.Header.Set("Proxy-Authorization", auth)
		}
		if err := req.Write(c); err != nil {
			c.Close()
			return nil, proxyError{err}
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			c.Close()
			return nil, proxyError{err}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			c.Close()
			return nil, proxyError{fmt.Errorf("CONNECT %s answered %s", addr, resp.Status)}
		}
		_ = c.SetDeadline(time.Time{})
		if br.Buffered() > 0 {
			return &bufConn{Conn: c, r: br}, nil
		}
		return c, nil
	}, nil
}

// bufConn is a connection whose first bytes were read into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// failingClient answers every request with err (a session whose proxy
// setting could not be read must not fall back to a direct connection).
func failingClient(err error) *http.Client {
	return &http.Client{Transport: failRT{err}}
}

type failRT struct{ err error }

func (f failRT) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }
