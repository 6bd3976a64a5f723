// Package netguard decides which network addresses wagate may connect to on
// behalf of a client: webhook receivers (internal/webhook) and image URLs
// (internal/messaging). It holds the one list of refused ranges, a URL check
// for configuration time and a dialer that applies the same list to the
// address actually dialed, so redirects and DNS rebinding cannot bypass it.
//
// It depends on nothing of wagate; callers turn its typed errors into their
// own client-facing texts.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Reasons an address is refused, as Reason returns them.
const (
	ReasonInvalid     = "an invalid address"
	ReasonLoopback    = "a loopback address"
	ReasonPrivate     = "a private address"
	ReasonLinkLocal   = "a link-local address"
	ReasonMulticast   = "a multicast address"
	ReasonUnspecified = "an unspecified address"
	ReasonReserved    = "a reserved address"
	ReasonUnparsable  = "an unparsable address"
)

// reserved are internal, special-purpose or documentation ranges that
// netip.Addr's predicates do not cover. IPv4-mapped IPv6 addresses are
// unmapped before the check, so ::ffff:10.0.0.1 is refused as 10.0.0.1.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 can reach private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo tunnels to any IPv4
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4 embeds any IPv4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Reason says why ip may not be connected to, or "" when it is a public
// unicast address.
func Reason(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return ReasonInvalid
	case ip.IsLoopback():
		return ReasonLoopback
	case ip.IsPrivate():
		return ReasonPrivate
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return ReasonLinkLocal
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return ReasonMulticast
	case ip.IsUnspecified():
		return ReasonUnspecified
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return ReasonReserved
		}
	}
	return ""
}

// Public reports whether ip is a public unicast address (Reason is "").
func Public(ip netip.Addr) bool { return Reason(ip) == "" }

// Guard applies the refused ranges. The zero value refuses them and
// resolves names with the system resolver.
type Guard struct {
	// AllowPrivate turns the guard off: every address may be used. Each
	// caller maps its own setting to it (WAGATE_WEBHOOK_ALLOW_PRIVATE,
	// WAGATE_IMAGE_ALLOW_PRIVATE).
	AllowPrivate bool
	// LookupIPAddr resolves host names in CheckURL; nil means
	// net.DefaultResolver. Tests replace it to simulate DNS rebinding.
	LookupIPAddr func(ctx context.Context, host string) ([]net.IPAddr, error)
	// Hint is appended in parentheses to RefusedError texts from the
	// dialer, e.g. which setting allows the address.
	Hint string
}

// URLProblem says what CheckURL found wrong with a URL.
type URLProblem int

// URL problems.
const (
	NotAbsolute  URLProblem = iota + 1 // not an absolute URL
	BadScheme                          // scheme other than http or https
	NoHost                             // no host
	RefusedIP                          // the host is an IP literal in a refused range
	Unresolvable                       // the host name could not be resolved
	RefusedName                        // the host name resolves to a refused address
)

// URLError is CheckURL's error. Callers format their own text from it.
type URLError struct {
	Problem URLProblem
	URL     string     // the URL as given
	Scheme  string     // BadScheme
	Host    string     // RefusedIP, Unresolvable, RefusedName
	Addr    netip.Addr // RefusedIP, RefusedName: the refused address (unmapped)
	Reason  string     // RefusedIP, RefusedName: what Reason said
}

func (e *URLError) Error() string {
	switch e.Problem {
	case NotAbsolute:
		return fmt.Sprintf("%q is not an absolute URL", e.URL)
	case BadScheme:
		return fmt.Sprintf("scheme %q is not allowed; use http or https", e.Scheme)
	case NoHost:
		return "the URL has no host"
	case RefusedIP:
		return fmt.Sprintf("%s is %s", e.Host, e.Reason)
	case Unresolvable:
		return fmt.Sprintf("host %s could not be resolved", e.Host)
	case RefusedName:
		return fmt.Sprintf("%s resolves to %s, %s", e.Host, e.Addr, e.Reason)
	}
	return "invalid URL"
}

// CheckURL validates a URL when it is configured: absolute, http or https,
// with a host, and (unless AllowPrivate) every address the host is or
// resolves to is public. Names are resolved, so "localhost" is refused as
// the loopback address it resolves to. Errors are *URLError. The dialer
// checks again at connection time: a name may resolve differently later.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return &URLError{Problem: NotAbsolute, URL: raw}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &URLError{Problem: BadScheme, URL: raw, Scheme: u.Scheme}
	}
	host := u.Hostname()
	if host == "" {
		return &URLError{Problem: NoHost, URL: raw}
	}
	if g.AllowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := Reason(ip); why != "" {
			return &URLError{Problem: RefusedIP, URL: raw, Host: host, Addr: ip.Unmap(), Reason: why}
		}
		return nil
	}
	lookup := g.LookupIPAddr
	if lookup == nil {
		lookup = net.DefaultResolver.LookupIPAddr
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, strings.TrimSuffix(host, "."))
	if err != nil || len(addrs) == 0 {
		return &URLError{Problem: Unresolvable, URL: raw, Host: host}
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if why := Reason(ip); why != "" {
			return &URLError{Problem: RefusedName, URL: raw, Host: host, Addr: ip.Unmap(), Reason: why}
		}
	}
	return nil
}

// RefusedError is the dial error for an address the Guard refuses; it
// reaches callers wrapped in *url.Error and *net.OpError (use errors.As).
type RefusedError struct {
	Addr   string // the address dialed, unmapped
	Reason string
	Hint   string // Guard.Hint
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("refused to connect to %s: %s", e.Addr, e.Reason)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Control is a net.Dialer.Control that refuses internal addresses after
// name resolution, on the address actually dialed, so a name that resolved
// to a public address at configuration and to a private one now (DNS
// rebinding), or a redirect to an internal URL, is still refused.
func (g Guard) Control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Addr: address, Reason: ReasonUnparsable, Hint: g.Hint}
	}
	if why := Reason(ap.Addr()); why != "" {
		return &RefusedError{Addr: ap.Addr().Unmap().String(), Reason: why, Hint: g.Hint}
	}
	return nil
}

// Dialer returns a dialer that applies the Guard to every connection.
func (g Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.Control}
}

// Transport returns an HTTP transport whose every connection goes through
// the guarded Dialer and never through a proxy (a proxy would dial for us
// and hide the real destination from the check). Callers set pool sizes
// and timeouts on the result.
func (g Guard) Transport(dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:       nil,
		DialContext: g.Dialer(dialTimeout).DialContext,
	}
}
