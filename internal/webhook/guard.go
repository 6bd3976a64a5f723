package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/netguard"
)

// Guard decides which webhook URLs and addresses may be used, with the
// refused ranges of internal/netguard (shared with image fetches). The zero
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

// refusedHint ends the delivery error of a refused connection.
const refusedHint = "DNS rebinding or a private receiver; WAGATE_WEBHOOK_ALLOW_PRIVATE=1 allows it"

func (g Guard) net() netguard.Guard {
	return netguard.Guard{AllowPrivate: g.AllowPrivate, LookupIPAddr: g.LookupIPAddr, Hint: refusedHint}
}

// refusedReason says why ip may not be dialed, or "" when it may.
var refusedReason = netguard.Reason

// CheckURL validates a webhook URL when it is configured: http or https, a
// host, and (unless AllowPrivate) every address the host
// resolves to is public. Errors are CodeInvalid with a text for clients.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	err := g.net().CheckURL(ctx, raw)
	if err == nil {
		return nil
	}
	var ue *netguard.URLError
	if !errors.As(err, &ue) {
		return gateway.Wrap(gateway.CodeInvalid, "Invalid webhook URL", err)
	}
	const allow = " (set WAGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"
	switch ue.Problem {
	case netguard.BadScheme:
		return gateway.Errorf(gateway.CodeInvalid, "Invalid webhook URL: scheme %q is not allowed; use http or https", ue.Scheme)
	case netguard.NoHost:
		return gateway.E(gateway.CodeInvalid, "Invalid webhook URL: it has no host")
	case netguard.RefusedIP:
		return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: %s is %s"+allow, ue.Host, ue.Reason)
	case netguard.Unresolvable:
		return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: host %s could not be resolved", ue.Host)
	case netguard.RefusedName:
		return gateway.Errorf(gateway.CodeInvalid, "Webhook URL refused: %s resolves to %s, %s"+allow, ue.Host, ue.Addr, ue.Reason)
	}
	return gateway.Errorf(gateway.CodeInvalid, "Invalid webhook URL: %q is not an absolute URL", raw)
}

// transport is the guarded HTTP transport deliveries use: every connection
// is checked on the address actually dialed, so DNS rebinding is refused.
func (g Guard) transport(timeout time.Duration) *http.Transport {
	return g.net().Transport(timeout)
}
