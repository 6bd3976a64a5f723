package gateway

import (
	"context"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// MaxProxyURL is the longest accepted proxy URL, in bytes.
const MaxProxyURL = 2048

// ParseProxyURL checks a session proxy URL: scheme http, https or socks5,
// a host and a port, optional user:password, nothing else (no path, query
// or fragment). CodeInvalid with a text naming the problem; the text never
// contains the password. Private and loopback hosts are allowed (on-prem
// proxies are the usual case; the netguard rules are for URLs the server
// fetches on a user's behalf, not for the operator's own egress).
func ParseProxyURL(raw string) (*url.URL, error) {
	if len(raw) > MaxProxyURL {
		return nil, Errorf(CodeInvalid, "proxy must be at most %d characters", MaxProxyURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return nil, E(CodeInvalid, "proxy must be a URL like http://host:port, https://host:port or socks5://user:password@host:port")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "socks5":
	case "":
		return nil, E(CodeInvalid, "proxy needs a scheme: http://, https:// or socks5://")
	default:
		return nil, Errorf(CodeInvalid, "proxy scheme %q is not supported (use http, https or socks5)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, E(CodeInvalid, "proxy needs a host (e.g. http://proxy.example:3128)")
	}
	if u.Port() == "" {
		return nil, E(CodeInvalid, "proxy needs a port (e.g. http://proxy.example:3128)")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, E(CodeInvalid, "proxy must not have a path, query or fragment")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Path = ""
	return u, nil
}

// MaskProxyURL returns raw with its password replaced by *** (what the API
// shows); "" stays "".
func MaskProxyURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "***"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Scheme + "://" + u.User.Username() + ":***@" + u.Host
		}
	}
	return u.Redacted()
}

// ProxySource tells the WhatsApp adapter which proxy a session's
// connection and media transfers go through ("" for none).
type ProxySource interface {
	SessionProxy(ctx context.Context, sessionID uuid.UUID) (string, error)
}
