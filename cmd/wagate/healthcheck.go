package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wagate-dev/wagate/internal/config"
)

// healthcheck is `wagate healthcheck [PATH]`: the container health check
// of an image without a shell or curl (Containerfile.scratch, Dockerfile).
// It asks the server of this container, at the port of WAGATE_ADDR on the
// loopback interface, for PATH (default /healthz; /readyz also checks the
// database) and exits 0 on 200, 1 otherwise.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	path := "/healthz"
	if len(args) > 0 {
		path = args[0]
	}
	if len(args) > 1 || !strings.HasPrefix(path, "/") {
		fmt.Fprintln(stderr, "usage: wagate healthcheck [/healthz|/readyz]")
		return 2
	}
	addr := getenv("WAGATE_ADDR")
	if addr == "" {
		addr = config.DefaultAddr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		fmt.Fprintf(stderr, "wagate healthcheck: WAGATE_ADDR %q has no port\n", addr)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+path, nil)
	if err != nil {
		fmt.Fprintln(stderr, "wagate healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "wagate healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "wagate healthcheck: %s answered %s\n", path, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "%s ok\n", path)
	return 0
}
