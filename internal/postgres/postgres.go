// Package postgres is wagate's storage adapter: one pgx pool, the embedded
// forward-only migrations, and the stores that implement internal/gateway's
// ports. pgx types never leave this package; errors leave it as
// *gateway.Error (see interpretError).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// DefaultMaxConns is the pool size used when DATABASE_URL sets no
// pool_max_conns. Ten connections per node leave room for nine nodes (plus
// one LISTEN connection each) within PostgreSQL's default max_connections of
// 100. The pool is shared by the stores, whatsmeow's sqlstore and River.
const DefaultMaxConns = 10

// Open connects a pool to databaseURL, creating the database first when it
// does not exist, and checks the connection. Every pool_* parameter of the
// URL (pool_max_conns, pool_min_conns, pool_max_conn_lifetime, ...) is
// honoured by the pool and never sent to the server; without
// pool_max_conns the pool has DefaultMaxConns connections. Every query of
// the pool is counted (see QueryCount).
func Open(ctx context.Context, databaseURL string, log zerolog.Logger) (*pgxpool.Pool, error) {
	if err := EnsureDatabase(ctx, databaseURL, log); err != nil {
		return nil, err
	}
	cfg, err := ParsePoolConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// ParsePoolConfig parses databaseURL with pgxpool (so pool_* parameters
// configure the pool), applies DefaultMaxConns when pool_max_conns is
// absent, and installs the query counter.
func ParsePoolConfig(databaseURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if !hasParam(databaseURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
		if cfg.MinConns > cfg.MaxConns {
			cfg.MinConns = cfg.MaxConns
		}
	}
	cfg.ConnConfig.Tracer = &queryCounter{}
	return cfg, nil
}

// hasParam reports whether the connection string (URL or keyword/value
// form) sets name.
func hasParam(databaseURL, name string) bool {
	if u, err := url.Parse(databaseURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has(name)
	}
	for _, f := range strings.Fields(databaseURL) {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == name {
			return true
		}
	}
	return false
}

// queryCounter is the pgx tracer that counts the queries of one pool.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// QueryCount returns how many queries the pool has sent since it was opened
// (0 for a pool not opened by Open). It backs wagate_db_queries_total and
// lets the HTTP benchmark prove that warm authenticated reads send none.
func QueryCount(pool *pgxpool.Pool) int64 {
	if q, ok := pool.Config().ConnConfig.Tracer.(*queryCounter); ok {
		return q.n.Load()
	}
	return 0
}

// StripPoolParams returns databaseURL without its pool_* query parameters,
// which pgx.ParseConfig would send to the server as runtime parameters
// (FATAL: unrecognized configuration parameter).
func StripPoolParams(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		var kept []string
		for _, f := range strings.Fields(databaseURL) {
			if !strings.HasPrefix(f, "pool_") {
				kept = append(kept, f)
			}
		}
		return strings.Join(kept, " ")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// EnsureDatabase creates the database named in databaseURL when it does not
// exist, connecting to the server's "postgres" database to do so. The
// URL's pool_* parameters are ignored here.
func EnsureDatabase(ctx context.Context, databaseURL string, log zerolog.Logger) error {
	databaseURL = StripPoolParams(databaseURL)
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to database: %w", err)
	}
	name := cfg.Database
	admin, err := WithDatabase(databaseURL, "postgres")
	if err != nil {
		return err
	}
	aconn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer aconn.Close(ctx)
	if _, err := aconn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: another node won
			return nil
		}
		return fmt.Errorf("create database: %w", err)
	}
	log.Info().Str("database", name).Msg("created database")
	return nil
}

// WithDatabase returns databaseURL with its database name replaced by name.
func WithDatabase(databaseURL, name string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + strings.TrimPrefix(name, "/")
	u.RawPath = ""
	return u.String(), nil
}
