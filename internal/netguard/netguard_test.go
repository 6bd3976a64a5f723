package netguard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/netguard"
)

func TestReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		want string // "" = public
	}{
		// Public IPv4 and IPv6.
		{"8.8.8.8", ""},
		{"93.184.215.14", ""},
		{"1.1.1.1", ""},
		{"2606:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""}, // v4-mapped public
		// Loopback.
		{"127.0.0.1", netguard.ReasonLoopback},
		{"127.255.255.254", netguard.ReasonLoopback},
		{"::1", netguard.ReasonLoopback},
		{"::ffff:127.0.0.1", netguard.ReasonLoopback},
		// Private (RFC 1918, IPv6 unique local).
		{"10.0.0.1", netguard.ReasonPrivate},
		{"172.16.5.4", netguard.ReasonPrivate},
		{"172.31.255.255", netguard.ReasonPrivate},
		{"192.168.1.1", netguard.ReasonPrivate},
		{"fc00::1", netguard.ReasonPrivate},
		{"fd00::1", netguard.ReasonPrivate},
		{"::ffff:10.0.0.1", netguard.ReasonPrivate},
		{"::ffff:192.168.0.1", netguard.ReasonPrivate},
		// Link-local, including cloud metadata.
		{"169.254.169.254", netguard.ReasonLinkLocal},
		{"fe80::1", netguard.ReasonLinkLocal},
		{"ff02::1", netguard.ReasonLinkLocal},
		{"224.0.0.251", netguard.ReasonLinkLocal},
		// Multicast.
		{"239.1.2.3", netguard.ReasonMulticast},
		{"ff0e::1", netguard.ReasonMulticast},
		{"ff01::1", netguard.ReasonMulticast},
		// Unspecified.
		{"0.0.0.0", netguard.ReasonUnspecified},
		{"::", netguard.ReasonUnspecified},
		// Reserved, special-purpose and documentation ranges.
		{"0.1.2.3", netguard.ReasonReserved},
		{"100.64.0.1", netguard.ReasonReserved}, // CGNAT
		{"100.127.255.255", netguard.ReasonReserved},
		{"192.0.0.8", netguard.ReasonReserved},
		{"192.0.2.10", netguard.ReasonReserved},
		{"192.88.99.1", netguard.ReasonReserved},
		{"198.18.0.1", netguard.ReasonReserved},
		{"198.51.100.7", netguard.ReasonReserved},
		{"203.0.113.9", netguard.ReasonReserved},
		{"240.0.0.1", netguard.ReasonReserved},
		{"255.255.255.255", netguard.ReasonReserved},
		{"::a00:1", netguard.ReasonReserved},        // IPv4-compatible 10.0.0.1
		{"64:ff9b::a00:1", netguard.ReasonReserved}, // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", netguard.ReasonReserved},
		{"100::1", netguard.ReasonReserved},
		{"2001::1", netguard.ReasonReserved}, // Teredo
		{"2001:db8::1", netguard.ReasonReserved},
		{"2002:a00:1::1", netguard.ReasonReserved}, // 6to4 of 10.0.0.1
		{"fec0::1", netguard.ReasonReserved},
		// Around the edges of ranges.
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
	} {
		if got := netguard.Reason(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Reason(%s) = %q, want %q", tc.addr, got, tc.want)
		}
		if got := netguard.Public(netip.MustParseAddr(tc.addr)); got != (tc.want == "") {
			t.Errorf("Public(%s) = %v", tc.addr, got)
		}
	}
	if got := netguard.Reason(netip.Addr{}); got != netguard.ReasonInvalid {
		t.Errorf("Reason(zero) = %q", got)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hosts := map[string][]string{
		"public.test":   {"93.184.215.14"},
		"mixed.test":    {"93.184.215.14", "10.0.0.7"}, // one private address is enough to refuse
		"mapped.test":   {"::ffff:127.0.0.1"},
		"cgnat.test":    {"100.64.1.2"},
		"metadata.test": {"169.254.169.254"},
	}
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		ips, ok := hosts[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		out := make([]net.IPAddr, len(ips))
		for i, ip := range ips {
			out[i] = net.IPAddr{IP: net.ParseIP(ip)}
		}
		return out, nil
	}
	g := netguard.Guard{LookupIPAddr: lookup}
	for _, tc := range []struct {
		url     string
		problem netguard.URLProblem // 0 = accepted
		text    string
	}{
		{"https://public.test/hook", 0, ""},
		{"https://public.test./hook", 0, ""},
		{"http://93.184.215.14:8080/hook", 0, ""},
		{"http://[2606:4700::1111]/", 0, ""},
		{"https://mixed.test/hook", netguard.RefusedName, "mixed.test resolves to 10.0.0.7, a private address"},
		{"https://mapped.test/", netguard.RefusedName, "mapped.test resolves to 127.0.0.1, a loopback address"},
		{"https://cgnat.test/", netguard.RefusedName, "cgnat.test resolves to 100.64.1.2, a reserved address"},
		{"https://metadata.test/", netguard.RefusedName, "metadata.test resolves to 169.254.169.254, a link-local address"},
		{"https://nowhere.test/hook", netguard.Unresolvable, "host nowhere.test could not be resolved"},
		{"http://127.0.0.1:9/", netguard.RefusedIP, "127.0.0.1 is a loopback address"},
		{"http://[::1]:80/", netguard.RefusedIP, "::1 is a loopback address"},
		{"http://[::ffff:10.0.0.1]/", netguard.RefusedIP, "::ffff:10.0.0.1 is a private address"},
		{"http://[fe80::1]/", netguard.RefusedIP, "fe80::1 is a link-local address"},
		{"http://239.0.0.1/", netguard.RefusedIP, "239.0.0.1 is a multicast address"},
		{"ftp://public.test/hook", netguard.BadScheme, `scheme "ftp" is not allowed`},
		{"javascript:alert(1)", netguard.BadScheme, `scheme "javascript"`},
		{"/relative", netguard.NotAbsolute, "not an absolute URL"},
		{"http:///nohost", netguard.NoHost, "no host"},
	} {
		err := g.CheckURL(ctx, tc.url)
		var ue *netguard.URLError
		switch {
		case tc.problem == 0 && err != nil:
			t.Errorf("CheckURL(%q) = %v, want accepted", tc.url, err)
		case tc.problem != 0 && !errors.As(err, &ue):
			t.Errorf("CheckURL(%q) = %v, want a *URLError", tc.url, err)
		case tc.problem != 0 && (ue.Problem != tc.problem || !strings.Contains(ue.Error(), tc.text)):
			t.Errorf("CheckURL(%q) = %d %q, want %d containing %q", tc.url, ue.Problem, ue.Error(), tc.problem, tc.text)
		}
	}

	// AllowPrivate accepts internal addresses but still checks the form.
	lax := netguard.Guard{AllowPrivate: true}
	if err := lax.CheckURL(ctx, "http://127.0.0.1:9/"); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	if err := lax.CheckURL(ctx, "ftp://127.0.0.1/"); err == nil {
		t.Error("AllowPrivate accepts ftp")
	}
}

// TestCheckURLLocalhostNames resolves the localhost names with the system
// resolver: they are refused as the loopback addresses they resolve to.
func TestCheckURLLocalhostNames(t *testing.T) {
	t.Parallel()
	var g netguard.Guard
	for _, u := range []string{"http://localhost/", "http://LOCALHOST:3000/x", "http://localhost./"} {
		err := g.CheckURL(context.Background(), u)
		var ue *netguard.URLError
		if !errors.As(err, &ue) || ue.Problem != netguard.RefusedName || ue.Reason != netguard.ReasonLoopback {
			t.Errorf("CheckURL(%q) = %v, want refused as loopback", u, err)
		}
	}
}

// TestDialerRefuses connects for real: the guarded transport refuses the
// loopback test server even when reached through a name, and the lax one
// reaches it. The refusal happens at dial time, so nothing is sent.
func TestDialerRefuses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	strict := netguard.Guard{Hint: "set X=1 to allow"}
	c := &http.Client{Transport: strict.Transport(5 * time.Second), Timeout: 10 * time.Second}
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		resp, err := c.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("GET %s through the guard succeeded", u)
		}
		var re *netguard.RefusedError
		if !errors.As(err, &re) || re.Reason != netguard.ReasonLoopback {
			t.Fatalf("GET %s: %v, want a loopback RefusedError", u, err)
		}
		if !strings.Contains(err.Error(), "refused to connect to ") || !strings.HasSuffix(re.Error(), "(set X=1 to allow)") {
			t.Fatalf("error text %q", err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server was reached %d times", n)
	}

	lax := netguard.Guard{AllowPrivate: true}
	c = &http.Client{Transport: lax.Transport(5 * time.Second), Timeout: 10 * time.Second}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("AllowPrivate GET: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("AllowPrivate: status %d, %d hits", resp.StatusCode, hits.Load())
	}
}

func TestControlUnparsable(t *testing.T) {
	t.Parallel()
	var re *netguard.RefusedError
	if err := (netguard.Guard{}).Control("tcp", "not-an-address", nil); !errors.As(err, &re) || re.Reason != netguard.ReasonUnparsable {
		t.Fatalf("Control = %v", err)
	}
	if err := (netguard.Guard{}).Control("tcp", "8.8.8.8:443", nil); err != nil {
		t.Fatalf("Control(public) = %v", err)
	}
}
