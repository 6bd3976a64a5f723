package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/config"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/testkit"
)

var adminKeyPattern = regexp.MustCompile(`wamk_[0-9a-f]{48}`)

// lockedBuffer is a goroutine-safe stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs Main in-process on an ephemeral port until the test ends.
func start(t *testing.T, dbURL, adminKey string) (*Main, *lockedBuffer) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = dbURL
	cfg.AdminKey = adminKey
	stderr := &lockedBuffer{}
	m := &Main{Config: cfg, Logger: zerolog.Nop(), Stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		cancel()
		m.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		m.Close()
	})
	return m, stderr
}

func get(t *testing.T, m *Main, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr.String()+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminKeyBootstrap(t *testing.T) {
	dbURL := testkit.NewDatabaseURL(t)
	// First start in a subtest so that its server stops before the second.
	var key string
	t.Run("FirstStartGeneratesAndPrints", func(t *testing.T) {
		m, stderr := start(t, dbURL, "")
		keys := adminKeyPattern.FindAllString(stderr.String(), -1)
		if len(keys) != 1 {
			t.Fatalf("want the generated key printed once, stderr:\n%s", stderr.String())
		}
		key = keys[0]
		var stored []byte
		if err := m.Pool.QueryRow(context.Background(), `SELECT key_hash FROM admin_key`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if h := gateway.HashKey(key); !bytes.Equal(stored, h[:]) {
			t.Error("stored hash is not the SHA-256 of the printed key")
		}
		if status := get(t, m, "/sessions", key); status != http.StatusOK {
			t.Errorf("GET /sessions with the generated key: %d", status)
		}
	})
	t.Run("SecondStartPrintsNothing", func(t *testing.T) {
		m, stderr := start(t, dbURL, "")
		if strings.Contains(stderr.String(), "wamk_") {
			t.Fatalf("key printed again:\n%s", stderr.String())
		}
		if status := get(t, m, "/sessions", key); status != http.StatusOK {
			t.Errorf("generated key no longer works: %d", status)
		}
	})
	t.Run("ConfiguredKeyWins", func(t *testing.T) {
		own := "wamk_" + strings.Repeat("ab", 24)
		m, stderr := start(t, dbURL, own)
		if strings.Contains(stderr.String(), "wamk_") {
			t.Fatalf("key printed:\n%s", stderr.String())
		}
		if status := get(t, m, "/sessions", own); status != http.StatusOK {
			t.Errorf("configured key: %d", status)
		}
		if status := get(t, m, "/sessions", key); status != http.StatusUnauthorized {
			t.Errorf("generated key while WAGATE_ADMIN_KEY is set: %d, want 401", status)
		}
		if status := get(t, m, "/readyz", ""); status != http.StatusOK {
			t.Errorf("readyz: %d", status)
		}
	})
}

func TestRunCommands(t *testing.T) {
	dbURL := testkit.NewDatabaseURL(t)
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, env(nil), &out, &errb); code != 0 || !strings.Contains(out.String(), "WAGATE_RATE_LIMIT_QR_SECONDS") {
		t.Errorf("--help: code %d, output:\n%s", code, out.String())
	}
	errb.Reset()
	if code := run(context.Background(), nil, env(map[string]string{"WAGATE_ADMIN_KEY": "nope"}), &out, &errb); code != 2 || !strings.Contains(errb.String(), "WAGATE_ADMIN_KEY must start with wamk_") {
		t.Errorf("bad admin key: code %d, stderr %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"migrate"}, env(map[string]string{"DATABASE_URL": dbURL}), &out, &errb); code != 0 {
		t.Fatalf("migrate: code %d, stderr %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `"applied migration"`) {
		t.Errorf("migrate logged no migration: %s", errb.String())
	}
}
