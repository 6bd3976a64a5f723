package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the advisory lock key held while migrating, so that
// several nodes starting together apply each migration exactly once.
const migrationLockID int64 = 0x7761676174650001 // "wagate" + 1

// Migration is one embedded SQL file, migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order. Number ranges
// per area avoid collisions between parallel work: 0001-0009 foundation,
// 0010-0019 messages, 0020-0029 webhooks, 0030+ later work.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS wagate_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)`

// SchemaOwner upgrades the tables of another owner of the database
// (whatsmeow's store, the simulator's tables). Migrate runs each while it
// holds the migration lock; each must be idempotent.
type SchemaOwner func(ctx context.Context) error

// Migrate applies every embedded migration not yet recorded in
// wagate_migrations, in version order, each in its own transaction, then
// River's migrations, then every owner's upgrade in the order given, all
// while holding one advisory lock: processes that start together on an
// empty database never race on DDL (two concurrent CREATE TABLEs of one
// name fail with pg_type_typname_nsp_index). It returns the versions of
// wagate's own migrations it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log zerolog.Logger, owners ...SchemaOwner) ([]int, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create wagate_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	var done []int
	for _, m := range migs {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO wagate_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
		log.Info().Int("version", m.Version).Str("name", m.Name).Msg("applied migration")
		done = append(done, m.Version)
	}
	if err := migrateRiver(ctx, pool, log); err != nil {
		return done, err
	}
	for _, own := range owners {
		if err := own(ctx); err != nil {
			return done, err
		}
	}
	return done, nil
}

// Pending returns the embedded versions not yet applied (all of them when the
// migrations table does not exist yet).
func Pending(ctx context.Context, q Querier) ([]int, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('wagate_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	if exists {
		if applied, err = appliedVersions(ctx, q); err != nil {
			return nil, err
		}
	}
	var pending []int
	for _, m := range migs {
		if !applied[m.Version] {
			pending = append(pending, m.Version)
		}
	}
	return pending, nil
}

func appliedVersions(ctx context.Context, q Querier) (map[int]bool, error) {
	rows, err := q.Query(ctx, "SELECT version FROM wagate_migrations")
	if err != nil {
		return nil, fmt.Errorf("read wagate_migrations: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read wagate_migrations: %w", err)
	}
	out := make(map[int]bool, len(vs))
	for _, v := range vs {
		out[int(v)] = true
	}
	return out, nil
}
