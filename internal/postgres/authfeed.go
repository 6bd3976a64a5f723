package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// AuthChannel is the LISTEN/NOTIFY channel on which the triggers of
// migration 0045 announce changes of keys and sessions.
const AuthChannel = "wagate_auth"

// ListenAuthChanges delivers every change announced on AuthChannel to sink
// until ctx ends, on a dedicated connection (not one of the pool's,
// configured like them). When the connection is lost it calls
// sink.AuthFeedDown, reconnects with backoff (100 ms doubling to 5 s) and
// calls sink.AuthFeedUp once it listens again. It returns when ctx ends.
func ListenAuthChanges(ctx context.Context, pool *pgxpool.Pool, sink gateway.AuthChangeSink, log zerolog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, sink, func() { backoff = 100 * time.Millisecond })
		sink.AuthFeedDown()
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg("auth change listener lost its connection")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, sink gateway.AuthChangeSink, connected func()) error {
	cfg := pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil // not counted with the pool's queries
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+AuthChannel); err != nil {
		return err
	}
	connected()
	sink.AuthFeedUp()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if c, ok := ParseAuthChange(n.Payload); ok {
			sink.AuthChanged(c)
		}
	}
}

// ParseAuthChange decodes a payload of AuthChannel.
func ParseAuthChange(payload string) (gateway.AuthChange, bool) {
	if payload == "new" {
		return gateway.AuthChange{Kind: gateway.AuthKeyCreated}, true
	}
	kind, arg, ok := strings.Cut(payload, ":")
	if !ok {
		return gateway.AuthChange{}, false
	}
	if kind == "key" {
		return gateway.AuthChange{Kind: gateway.AuthKeyChanged, KeyID: arg}, true
	}
	id, err := uuid.Parse(arg)
	if err != nil {
		return gateway.AuthChange{}, false
	}
	switch kind {
	case "session_key":
		return gateway.AuthChange{Kind: gateway.AuthSessionKeyChanged, SessionID: id}, true
	case "session":
		return gateway.AuthChange{Kind: gateway.AuthSessionChanged, SessionID: id}, true
	case "session_deleted":
		return gateway.AuthChange{Kind: gateway.AuthSessionDeleted, SessionID: id}, true
	}
	return gateway.AuthChange{}, false
}
