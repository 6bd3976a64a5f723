package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestHealthcheckCommand: `wagate healthcheck` (the container health check)
// exits 0 against a running wagate, 1 when nothing listens and 2 on bad use.
func TestHealthcheckCommand(t *testing.T) {
	m, _ := start(t, testkit.NewDatabaseURL(t), "")
	_, port, _ := net.SplitHostPort(m.Addr.String())
	env := func(addr string) func(string) string {
		return func(k string) string {
			if k == "WAGATE_ADDR" {
				return addr
			}
			return ""
		}
	}
	var out, errb bytes.Buffer
	for _, path := range []string{"/healthz", "/readyz"} {
		out.Reset()
		if code := run(context.Background(), []string{"healthcheck", path}, env(":"+port), &out, &errb); code != 0 || !strings.Contains(out.String(), path+" ok") {
			t.Errorf("healthcheck %s: code %d, stdout %q, stderr %q", path, code, out.String(), errb.String())
		}
	}
	if code := run(context.Background(), []string{"healthcheck", "/nope"}, env(":"+port), &out, &errb); code != 1 {
		t.Errorf("healthcheck of a 404 path: code %d", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closed, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	errb.Reset()
	if code := run(context.Background(), []string{"healthcheck"}, env(":"+closed), &out, &errb); code != 1 || !strings.Contains(errb.String(), "wagate healthcheck:") {
		t.Errorf("healthcheck with nothing listening: code %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), []string{"healthcheck", "a", "b"}, env(":"+port), &out, &errb); code != 2 {
		t.Errorf("healthcheck with two arguments: code %d", code)
	}
	if code := run(context.Background(), []string{"healthcheck"}, env("nocolon"), &out, &errb); code != 2 {
		t.Errorf("healthcheck with WAGATE_ADDR without port: code %d", code)
	}
}
