package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Forwarding to the session's owner (issue 18 item 4; docs/cluster.md).
//
// An operation marked x-wagate-owner: live needs the session's WhatsApp
// client, which runs on exactly one node (the lease owner). A node that
// receives such a request for a session another node runs authenticates
// it (key, general rate limit, session access), then proxies it to the
// owner's WAGATE_NODE_URL with two headers:
//
//	X-Wagate-Forwarded-By: <entry node id>
//	X-Wagate-Forward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// The HMAC (key WAGATE_CLUSTER_SECRET) covers "v1", the method, the
// request URI, the timestamp, the entry node and the SHA-256 of the body,
// one per line. The owner refuses a missing, stale (more than
// forwardSkew off its clock) or wrong signature with 403, authenticates
// the original key again and runs the operation; the send and QR limits
// count on the owner only, the general limit on the entry node only. A
// forwarded request is never forwarded again: when it reaches a node
// that does not run the session (the lease moved meanwhile), the answer
// is 503 "Session is moving to another node. Please retry.", as it is
// when no node runs a session that should run, or the owner cannot be
// reached.
const (
	hdrForwardedBy  = "X-Wagate-Forwarded-By"
	hdrForwardSig   = "X-Wagate-Forward-Signature"
	forwardSkew     = 60 * time.Second
	movingRetrySecs = 2
)

// Texts of refused forwards.
const (
	MsgForwardNoSecret = "Forwarded request refused: this node has no WAGATE_CLUSTER_SECRET"
	MsgForwardBadSig   = "Forwarded request refused: invalid or expired cluster signature"
)

// errMoving is the answer while a session's lease has no reachable owner.
func errMoving() error {
	return &gateway.Error{Code: gateway.CodeUnavailable, Message: gateway.MsgSessionMoving, RetryAfter: movingRetrySecs}
}

// forwarder proxies live operations to their owner and checks the
// forwarded requests this node receives. nil (no cluster secret): every
// operation runs locally, and forwarded requests are refused.
type forwarder struct {
	owners    gateway.OwnerResolver
	secret    []byte
	self      string
	transport http.RoundTripper
	now       func() time.Time
}

func newForwarder(owners gateway.OwnerResolver, secret string, now func() time.Time) *forwarder {
	if owners == nil || secret == "" {
		return nil
	}
	return &forwarder{
		owners: owners, secret: []byte(secret), self: owners.NodeID(), now: now,
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
		},
	}
}

// signature computes the v1 HMAC of a forwarded request.
func (f *forwarder) signature(method, uri, ts, from string, bodyHash []byte) string {
	mac := hmac.New(sha256.New, f.secret)
	for _, part := range []string{"v1", method, uri, ts, from, hex.EncodeToString(bodyHash)} {
		_, _ = io.WriteString(mac, part)
		_, _ = io.WriteString(mac, "\n")
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// bodyHash returns the SHA-256 of req's body (already buffered by
// limitBody) and leaves the body readable again.
func bodyHash(req *http.Request) ([]byte, error) {
	h := sha256.New()
	if req.Body == nil || req.Body == http.NoBody {
		return h.Sum(nil), nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, "Could not read the request body", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	h.Write(b)
	return h.Sum(nil), nil
}

// isForwarded tells whether req claims to be forwarded by another node.
func isForwarded(req *http.Request) bool {
	return req.Header.Get(hdrForwardedBy) != "" || req.Header.Get(hdrForwardSig) != ""
}

// verify checks the signature of a forwarded request (403 when it is
// missing, stale or wrong, or when this node has no secret).
func (f *forwarder) verify(req *http.Request) error {
	if f == nil {
		return gateway.E(gateway.CodeForbidden, MsgForwardNoSecret)
	}
	from := req.Header.Get(hdrForwardedBy)
	var ts, sig string
	for _, part := range strings.Split(req.Header.Get(hdrForwardSig), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if from == "" || sig == "" || err != nil {
		return gateway.E(gateway.CodeForbidden, MsgForwardBadSig)
	}
	if d := f.now().Sub(time.Unix(sec, 0)); d > forwardSkew || d < -forwardSkew {
		return gateway.E(gateway.CodeForbidden, MsgForwardBadSig)
	}
	h, err := bodyHash(req)
	if err != nil {
		return err
	}
	want := f.signature(req.Method, req.URL.RequestURI(), ts, from, h)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return gateway.E(gateway.CodeForbidden, MsgForwardBadSig)
	}
	return nil
}

// route decides where a live operation on session s runs: handled is
// false when it runs here; otherwise the request was proxied to the
// owner (or refused with 503 moving) and err is the outcome.
func (f *forwarder) route(c echo.Context, s gateway.Session, forwarded bool) (handled bool, err error) {
	req := c.Request()
	o, err := f.owners.Owner(req.Context(), s.ID)
	if err != nil {
		return true, err
	}
	switch {
	case o.Local:
		return false, nil
	case forwarded:
		// Never forwarded twice: the entry node's view was stale.
		return true, errMoving()
	case o.Node != "" && o.Node != f.self && o.URL != "":
		return true, f.forward(c, s.ID, o)
	case o.Node != "":
		// This node holds the lease in the database but does not run the
		// client (claiming it, or stopping after a missed renewal).
		return true, errMoving()
	case shouldRun(s.State):
		// No live lease for a session that should run: its node left and
		// no survivor has adopted it yet.
		return true, errMoving()
	}
	// Stopped, logged out or failed: no node runs it; the local handler
	// answers (start claims the lease here).
	return false, nil
}

func shouldRun(st gateway.SessionState) bool {
	switch st {
	case gateway.StateStopped, gateway.StateLoggedOut, gateway.StateFailed:
		return false
	}
	return true
}

// forward proxies the request to the owner o.
func (f *forwarder) forward(c echo.Context, id uuid.UUID, o gateway.Owner) error {
	proxyErr, err := f.proxy(c, o)
	if err != nil || proxyErr == nil {
		return err
	}
	f.owners.Forget(id)
	return f.proxyFailed(c, o, proxyErr, errMoving())
}

// MsgPlacementUnreachable is the 503 of a session creation forwarded to
// the least-loaded node when that node stopped answering mid-request.
const MsgPlacementUnreachable = "The node chosen for the new session did not answer. Please retry."

// place forwards a session creation to the least-loaded node (handled
// false: create it here). A node that cannot be connected to is skipped
// (the session is created here); one that fails after the request was
// sent answers 503, since it may have created the session.
func (f *forwarder) place(c echo.Context) (handled bool, err error) {
	req := c.Request()
	o, err := f.owners.Place(req.Context())
	if err != nil {
		// Placement is best effort: without it the session is created here.
		zerolog.Ctx(req.Context()).Warn().Err(err).Msg("placement: could not read the nodes; creating the session here")
		return false, nil
	}
	if o.Local || o.Node == f.self || o.URL == "" {
		return false, nil
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = io.ReadAll(req.Body); err != nil {
			return true, gateway.Wrap(gateway.CodeInvalid, "Could not read the request body", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	proxyErr, err := f.proxy(c, o)
	if err != nil || proxyErr == nil {
		return true, err
	}
	var op *net.OpError
	if errors.As(proxyErr, &op) && op.Op == "dial" && !c.Response().Committed {
		zerolog.Ctx(req.Context()).Warn().Err(proxyErr).Str("node", o.Node).Msg("placement: node unreachable; creating the session here")
		req.Body = io.NopCloser(bytes.NewReader(body))
		return false, nil
	}
	return true, f.proxyFailed(c, o, proxyErr,
		&gateway.Error{Code: gateway.CodeUnavailable, Message: MsgPlacementUnreachable, RetryAfter: movingRetrySecs})
}

// proxy sends the request to o's node, signed; proxyErr is the transport's
// failure (nothing or part of the answer was written), err a failure
// before sending.
func (f *forwarder) proxy(c echo.Context, o gateway.Owner) (proxyErr, err error) {
	req := c.Request()
	target, err := url.Parse(o.URL)
	if err != nil {
		return nil, errMoving()
	}
	h, err := bodyHash(req)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			ts := strconv.FormatInt(f.now().Unix(), 10)
			pr.Out.Header.Set(hdrForwardedBy, f.self)
			pr.Out.Header.Set(hdrForwardSig, "t="+ts+",v1="+f.signature(pr.Out.Method, pr.Out.URL.RequestURI(), ts, f.self, h))
			// One request id across both nodes' logs.
			if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
				pr.Out.Header.Set(echo.HeaderXRequestID, id)
			}
		},
		// The owner's headers replace what this node set (X-Request-Id,
		// X-RateLimit-* of the general limit): the owner's rate-limit
		// headers are those of the operation's own class, as on one node.
		ModifyResponse: func(res *http.Response) error {
			for k := range res.Header {
				c.Response().Header().Del(k)
			}
			return nil
		},
		Transport:    f.transport,
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) { proxyErr = err },
	}
	rp.ServeHTTP(c.Response(), req)
	return proxyErr, nil
}

// proxyFailed answers a failed proxy: 413 for a body over the cap,
// nothing more when part of the answer was written, unavailable otherwise.
func (f *forwarder) proxyFailed(c echo.Context, o gateway.Owner, proxyErr error, unavailable error) error {
	zerolog.Ctx(c.Request().Context()).Warn().Err(proxyErr).Str("owner", o.Node).Str("owner_url", o.URL).Msg("could not forward to the node")
	var mbe *http.MaxBytesError
	if errors.As(proxyErr, &mbe) {
		return gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)
	}
	if c.Response().Committed {
		return nil
	}
	return unavailable
}
