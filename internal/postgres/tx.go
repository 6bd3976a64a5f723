package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Querier is what both the pool and a transaction offer; store helpers take
// it so that callers can compose transactions.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (pgx.Tx)(nil)
)

// InTx runs fn in one transaction on pool: committed when fn returns nil,
// rolled back otherwise. Errors are interpreted (see interpretError).
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return interpretError(pgx.BeginFunc(ctx, pool, fn), "", "")
}

// interpretError is the one place where database errors become domain
// errors: no rows -> CodeNotFound (with notFound's text), unique violation ->
// CodeConflict (with conflictMsg), anything else -> CodeInternal (details
// kept for the logs). *gateway.Error values pass through unchanged. Empty
// messages fall back to generic texts.
func interpretError(err error, notFoundMsg, conflictMsg string) error {
	if err == nil {
		return nil
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return err
	}
	if Unavailable(err) {
		return gateway.ErrDatabaseUnavailable(err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if notFoundMsg == "" {
			notFoundMsg = "Not found"
		}
		return gateway.Wrap(gateway.CodeNotFound, notFoundMsg, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		if conflictMsg == "" {
			conflictMsg = "Already exists"
		}
		return gateway.Wrap(gateway.CodeConflict, conflictMsg, err)
	}
	return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
}
