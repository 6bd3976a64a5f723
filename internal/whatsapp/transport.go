package whatsapp

import (
	"errors"
	"net/http"

	"go.mau.fi/whatsmeow"
)

// realWACertPubKey is whatsmeow's built-in WhatsApp root key, captured
// before anyone can replace it.
var realWACertPubKey = whatsmeow.WACertPubKey

// simulatorRootInstalled reports whether the process-wide whatsmeow root
// key was replaced (by wasim.InstallRootKey).
func simulatorRootInstalled() bool {
	return whatsmeow.WACertPubKey != realWACertPubKey
}

// checkTrust enforces that the simulator's root key is trusted exactly when
// the manager is told to talk to a simulator: a production process must
// never accept a test certificate, and a sandbox must not dial WhatsApp.
func checkTrust(opts *Options) error {
	switch {
	case opts.TrustSimulator && opts.HTTPClient == nil:
		return errors.New("whatsapp: TrustSimulator needs HTTPClient (the transport that dials the simulator)")
	case opts.TrustSimulator && !simulatorRootInstalled():
		return errors.New("whatsapp: TrustSimulator is set but the simulator root key is not installed (call wasim.InstallRootKey first)")
	case !opts.TrustSimulator && simulatorRootInstalled():
		return errors.New("whatsapp: the WhatsApp root key was replaced in this process but TrustSimulator is not set; refusing to run")
	}
	return nil
}

// buildHTTPClient returns the one HTTP client shared by every session for
// the websocket (before and after login) and media. Sharing it keeps one
// transport for the process instead of three per whatsmeow client.
func buildHTTPClient(opts *Options) *http.Client {
	base := opts.HTTPClient
	if base == nil {
		// Same defaults as whatsmeow.NewClient (proxy from the environment).
		base = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if opts.WSCompression {
		return base
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := *base
	c.Transport = noCompression{rt}
	return &c
}

// noCompression removes the permessage-deflate offer from websocket upgrade
// requests. whatsmeow always offers it (socket/dialopts.go,
// CompressionContextTakeover) and has no option to turn it off; without
// the offer the server cannot enable it, which saves the per-connection
// inflate/deflate state (see docs/benchmarks.md).
type noCompression struct{ next http.RoundTripper }

func (t noCompression) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Sec-WebSocket-Extensions") == "" {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Del("Sec-WebSocket-Extensions")
	return t.next.RoundTrip(r)
}
