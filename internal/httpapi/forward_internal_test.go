package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

type fixedOwners struct{ self string }

func (f fixedOwners) NodeID() string { return f.self }
func (f fixedOwners) Owner(context.Context, uuid.UUID) (gateway.Owner, error) {
	return gateway.Owner{}, nil
}
func (f fixedOwners) Forget(uuid.UUID) {}
func (f fixedOwners) Place(context.Context) (gateway.Owner, error) {
	return gateway.Owner{Node: f.self, Local: true}, nil
}

// TestForwardSignature: a request signed by a node with the cluster secret
// verifies; a changed body, method, path or entry node, another secret, a
// stale timestamp, a missing signature or a node without a secret is
// refused with 403.
func TestForwardSignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	a := newForwarder(fixedOwners{"a"}, "secret-secret-secret", clock)
	b := newForwarder(fixedOwners{"b"}, "secret-secret-secret", clock)
	other := newForwarder(fixedOwners{"b"}, "another-secret-0000", clock)
	if newForwarder(fixedOwners{"a"}, "", clock) != nil {
		t.Fatal("a forwarder without a secret")
	}
	signed := func(method, uri, body string, at time.Time) *http.Request {
		r := httptest.NewRequest(method, uri, strings.NewReader(body))
		h, _ := bodyHash(r)
		ts := strconv.FormatInt(at.Unix(), 10)
		r.Header.Set(hdrForwardedBy, "a")
		r.Header.Set(hdrForwardSig, "t="+ts+",v1="+a.signature(method, r.URL.RequestURI(), ts, "a", h))
		return r
	}
	uri := "/sessions/" + uuid.NewString() + "/send?x=1"
	if err := b.verify(signed(http.MethodPost, uri, `{"to":"1","text":"hi"}`, now)); err != nil {
		t.Fatalf("a valid signature: %v", err)
	}
	refused := func(what string, r *http.Request, f *forwarder, msg string) {
		t.Helper()
		err := f.verify(r)
		if gateway.ErrorCode(err) != gateway.CodeForbidden || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want 403 %q", what, err, msg)
		}
	}
	r := signed(http.MethodPost, uri, `{"to":"1","text":"hi"}`, now)
	r.Body = http.NoBody
	refused("changed body", r, b, MsgForwardBadSig)
	r = signed(http.MethodPost, uri, "", now)
	r.Method = http.MethodDelete
	refused("changed method", r, b, MsgForwardBadSig)
	r = signed(http.MethodPost, uri, "", now)
	r.URL.RawQuery = "x=2"
	refused("changed query", r, b, MsgForwardBadSig)
	r = signed(http.MethodPost, uri, "", now)
	r.Header.Set(hdrForwardedBy, "c")
	refused("changed entry node", r, b, MsgForwardBadSig)
	refused("another secret", signed(http.MethodPost, uri, "", now), other, MsgForwardBadSig)
	refused("stale", signed(http.MethodPost, uri, "", now.Add(-2*forwardSkew)), b, MsgForwardBadSig)
	refused("from the future", signed(http.MethodPost, uri, "", now.Add(2*forwardSkew)), b, MsgForwardBadSig)
	r = signed(http.MethodPost, uri, "", now)
	r.Header.Del(hdrForwardSig)
	refused("no signature", r, b, MsgForwardBadSig)
	refused("no secret here", signed(http.MethodPost, uri, "", now), nil, MsgForwardNoSecret)
}
