// Package testkit is the test harness every wagate package reuses: fresh
// PostgreSQL databases that are dropped afterwards, the real Echo server
// with injectable dependencies behind httptest, and the generated client
// whose transport validates every exchange against openapi.yaml.
//
// Databases live on the server of TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres, trust auth).
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/postgres"
)

// DefaultServerURL is the PostgreSQL server used when TEST_DATABASE_URL is
// unset.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the test PostgreSQL server's maintenance
// database (TEST_DATABASE_URL's server and credentials, database postgres).
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		if v, err := postgres.WithDatabase(u, "postgres"); err == nil {
			return v
		}
	}
	return DefaultServerURL
}

// NewDatabaseURL creates an empty database wagate_test_<random> and returns
// its URL. The database is dropped (forcibly) in tb's cleanup, also when the
// test fails.
func NewDatabaseURL(tb testing.TB) string {
	tb.Helper()
	name, url, err := createDatabase()
	if err != nil {
		tb.Fatalf("testkit: %v", err)
	}
	tb.Cleanup(func() {
		if err := dropDatabase(name); err != nil {
			tb.Errorf("testkit: %v", err)
		}
	})
	return url
}

// NewDB returns a pool on a fresh, migrated database that is dropped in tb's
// cleanup.
func NewDB(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := NewDatabaseURL(tb)
	pool, err := openMigrated(url)
	if err != nil {
		tb.Fatalf("testkit: %v", err)
	}
	tb.Cleanup(pool.Close) // runs before the drop (cleanups are LIFO)
	return pool
}

var shared struct {
	sync.Mutex
	inMain bool
	name   string
	pool   *pgxpool.Pool
	err    error
}

// Main runs a package's tests with one shared database for SharedDB and
// drops it afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }
func Main(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.pool != nil {
		shared.pool.Close()
	}
	if shared.name != "" {
		if err := dropDatabase(shared.name); err != nil {
			fmt.Fprintln(os.Stderr, "testkit:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// SharedDB returns the package's shared migrated database (created on first
// use, dropped by Main). Tests sharing it must not depend on an empty
// database (use unique names). Without testkit.Main it falls back to NewDB.
func SharedDB(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	shared.Lock()
	inMain := shared.inMain
	shared.Unlock()
	if !inMain {
		return NewDB(tb)
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.pool == nil && shared.err == nil {
		var url string
		shared.name, url, shared.err = createDatabase()
		if shared.err == nil {
			shared.pool, shared.err = openMigrated(url)
		}
	}
	if shared.err != nil {
		tb.Fatalf("testkit: %v", shared.err)
	}
	return shared.pool
}

func createDatabase() (name, url string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "wagate_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", "", fmt.Errorf("connect to test PostgreSQL (%s; start it with `make db`): %w", ServerURL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	url, err = postgres.WithDatabase(ServerURL(), name)
	return name, url, err
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("connect to drop %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func openMigrated(url string) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := postgres.Migrate(ctx, pool, zerolog.Nop()); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
