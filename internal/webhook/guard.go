package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Guard decides which webhook URLs and addresses may be used. The zero
// value refuses private addresses and resolves names with the system
// resolver.
type Guard struct {
	// AllowPrivate lets URLs reach loopback, private, link-local and other
	// internal addresses (WAGATE_WEBHOOK_ALLOW_PRIVATE=1). Default false.
	AllowPrivate bool
	// LookupIPAddr resolves host names when a URL is configured; nil means
	// net.DefaultResolver. Tests replace it to simulate DNS rebinding.
	LookupIPAddr func(ctx context.Context, host string) ([]net.IPAddr, error)
}

// extraRefused are internal ranges that net.IP's predicates do not cover.
var extraRefused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 can reach private IPv4
}

// refusedReason says why ip may not be dialed, or "" when it may.
func refusedReason(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "an invalid address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip.IsUnspecified():
		return "an unspecified address"
	}
	for _, p := range extraRefused {
		if p.Contains(ip) {
			return "a reserved address"
		}
	}
	return ""
}

// CheckURL validates a webhook URL when it is configured: http or https, a
// host, no fragment, and (unless AllowPrivate) every address the host
// resolves to is public. Errors are CodeInvalid with a text for clients.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return gateway.Errorf(gateway.CodeInvalid, "Invalid webhook URL: %q is not an absolute URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return gateway.Errorf(gateway.CodeInvalid, "Invalid webhook URL: scheme %q is not allowed; use http or https", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return gateway.E(gateway.CodeInvalid, "Invalid webhook URL: it has no host")
	}
	if g.AllowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := refusedReason(ip); why != "" {
			return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: %s is %s (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)", host, why)
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
		return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: host %s could not be resolved", host)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if why := refusedReason(ip); why != "" {
			return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: %s resolves to %s, %s (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)", host, ip.Unmap(), why)
		}
	}
	return nil
}

// RefusedAddressError is the dial error for an address the Guard refuses.
type RefusedAddressError struct {
	Addr   string
	Reason string
}

func (e *RefusedAddressError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s (DNS rebinding or a private receiver; WAGATE_WEBHOOK_ALLOW_PRIVATE=1 allows it)", e.Addr, e.Reason)
}

// control is a net.Dialer.Control that refuses internal addresses after
// name resolution, on the address actually dialed, so a name that resolved
// to a public address at configuration and to a private one now (DNS
// rebinding) is still refused.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedAddressError{Addr: address, Reason: "an unparsable address"}
	}
	if why := refusedReason(ap.Addr()); why != "" {
		return &RefusedAddressError{Addr: ap.Addr().Unmap().String(), Reason: why}
	}
	return nil
}

// Dialer returns a dialer that applies the Guard to every connection.
func (g Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.control}
}
