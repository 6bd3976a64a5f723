package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.ClusterStore = (*ClusterStore)(nil)

// ClusterStore implements gateway.ClusterStore on wagate_nodes and
// wagate_leases (migration 0060). Every expiry is database time (now());
// TTLs travel as milliseconds.
type ClusterStore struct{ pool *pgxpool.Pool }

// NewClusterStore returns a ClusterStore on pool.
func NewClusterStore(pool *pgxpool.Pool) *ClusterStore { return &ClusterStore{pool: pool} }

func ms(d time.Duration) int64 { return d.Milliseconds() }

const (
	registerNodeSQL = `
		INSERT INTO wagate_nodes AS n (id, instance, url, capacity, version, state)
		VALUES ($1, $2, $3, $4, $5, 'alive')
		ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, url = excluded.url,
			capacity = excluded.capacity, version = excluded.version, state = 'alive',
			started_at = now(), heartbeat_at = now()
		WHERE n.instance = excluded.instance OR n.state = 'dead'
			OR n.heartbeat_at < now() - $6 * interval '1 millisecond'
		RETURNING id`
	// heartbeatSQL is the one statement per interval: the node row and
	// every unexpired lease of the node, renewed together. Expired leases
	// are not renewed: another node may have claimed them already.
	heartbeatSQL = `
		WITH node AS (
			UPDATE wagate_nodes SET heartbeat_at = now()
			WHERE id = $1 AND instance = $2 AND state <> 'dead'
			RETURNING id
		), renewed AS (
			UPDATE wagate_leases l SET expires_at = now() + $3 * interval '1 millisecond'
			FROM node WHERE l.owner = node.id AND l.expires_at > now()
			RETURNING l.session_id, l.epoch
		)
		SELECT EXISTS (SELECT 1 FROM node),
			COALESCE((SELECT array_agg(session_id) FROM renewed), '{}'),
			COALESCE((SELECT array_agg(epoch) FROM renewed), '{}')`
	setNodeStateSQL = `UPDATE wagate_nodes SET state = $3, heartbeat_at = now() WHERE id = $1 AND instance = $2`
	releaseAllSQL   = `UPDATE wagate_leases SET expires_at = now() WHERE owner = $1 AND expires_at > now()`
	nodesSQL        = `
		SELECT n.id, n.url,
			CASE WHEN n.heartbeat_at < now() - $1 * interval '1 millisecond' THEN 'dead' ELSE n.state END,
			n.capacity, n.version, n.started_at, n.heartbeat_at,
			(SELECT count(*) FROM wagate_leases l WHERE l.owner = n.id AND l.expires_at > now())
		FROM wagate_nodes n
		WHERE n.heartbeat_at > now() - interval '1 hour'
		ORDER BY n.id`
	claimLeaseSQL = `
		INSERT INTO wagate_leases AS l (session_id, owner, epoch, expires_at)
		VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
		ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner,
			epoch = CASE WHEN l.owner = excluded.owner AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
			expires_at = excluded.expires_at
		WHERE l.owner = excluded.owner OR l.expires_at <= now()
		RETURNING epoch`
	unleasedSQL = `
		SELECT s.id FROM sessions s
		WHERE s.state NOT IN ('stopped', 'logged_out', 'failed')
			AND NOT EXISTS (SELECT 1 FROM wagate_leases l WHERE l.session_id = s.id AND l.expires_at > now())
		ORDER BY random() LIMIT $1`
	// orphanExpirySQL: milliseconds until the first live lease of a
	// silent node expires (the nodes table is small; the leases are found
	// through the (owner, expires_at) index).
	orphanExpirySQL = `
		SELECT CEIL(EXTRACT(EPOCH FROM min(l.expires_at) - now()) * 1000)::bigint
		FROM wagate_nodes n JOIN wagate_leases l ON l.owner = n.id AND l.expires_at > now()
		WHERE n.id <> $1 AND n.heartbeat_at < now() - $2 * interval '1 millisecond'`
	releaseLeaseSQL = `UPDATE wagate_leases SET expires_at = now() WHERE session_id = $1 AND owner = $2 AND epoch = $3`
	leaseOwnerSQL   = `
		SELECT l.owner, COALESCE(n.url, '') FROM wagate_leases l
		LEFT JOIN wagate_nodes n ON n.id = l.owner
		WHERE l.session_id = $1 AND l.expires_at > now()`
)

// RegisterNode implements gateway.ClusterStore.
func (s *ClusterStore) RegisterNode(ctx context.Context, n gateway.NodeRegistration, ttl time.Duration) error {
	var id string
	err := s.pool.QueryRow(ctx, registerNodeSQL, n.ID, n.Instance, n.URL, n.Capacity, n.Version, ms(ttl)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return gateway.E(gateway.CodeConflict, fmt.Sprintf("node id %q is in use by another live process (set WAGATE_NODE_ID)", n.ID))
	}
	return interpretError(err, "", "")
}

// Heartbeat implements gateway.ClusterStore.
func (s *ClusterStore) Heartbeat(ctx context.Context, node string, instance uuid.UUID, ttl time.Duration) (gateway.Heartbeat, error) {
	var hb gateway.Heartbeat
	var ids []uuid.UUID
	var epochs []int64
	if err := s.pool.QueryRow(ctx, heartbeatSQL, node, instance, ms(ttl)).Scan(&hb.NodeHeld, &ids, &epochs); err != nil {
		return hb, interpretError(err, "", "")
	}
	hb.Leases = make([]gateway.Lease, len(ids))
	for i := range ids {
		hb.Leases[i] = gateway.Lease{SessionID: ids[i], Owner: node, Epoch: epochs[i]}
	}
	return hb, nil
}

// SetNodeState implements gateway.ClusterStore.
func (s *ClusterStore) SetNodeState(ctx context.Context, node string, instance uuid.UUID, state gateway.NodeState) error {
	return interpretError(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, setNodeStateSQL, node, instance, string(state))
		if err != nil || tag.RowsAffected() == 0 || state != gateway.NodeDead {
			return err
		}
		_, err = tx.Exec(ctx, releaseAllSQL, node)
		return err
	}), "", "")
}

// Nodes implements gateway.ClusterStore.
func (s *ClusterStore) Nodes(ctx context.Context, ttl time.Duration) ([]gateway.Node, error) {
	rows, err := s.pool.Query(ctx, nodesSQL, ms(ttl))
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.Node, error) {
		var n gateway.Node
		var state string
		err := r.Scan(&n.ID, &n.URL, &state, &n.Capacity, &n.Version, &n.StartedAt, &n.LastHeartbeat, &n.SessionsOwned)
		n.State = gateway.NodeState(state)
		return n, err
	})
	return out, interpretError(err, "", "")
}

// ClaimLease implements gateway.ClusterStore.
func (s *ClusterStore) ClaimLease(ctx context.Context, sessionID uuid.UUID, node string, ttl time.Duration) (gateway.Lease, bool, error) {
	l := gateway.Lease{SessionID: sessionID, Owner: node}
	err := s.pool.QueryRow(ctx, claimLeaseSQL, sessionID, node, ms(ttl)).Scan(&l.Epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, interpretError(err, "", "")
	}
	return l, true, nil
}

// ReleaseLease implements gateway.ClusterStore.
func (s *ClusterStore) ReleaseLease(ctx context.Context, l gateway.Lease) error {
	_, err := s.pool.Exec(ctx, releaseLeaseSQL, l.SessionID, l.Owner, l.Epoch)
	return interpretError(err, "", "")
}

// LeaseOwner implements gateway.ClusterStore.
func (s *ClusterStore) LeaseOwner(ctx context.Context, sessionID uuid.UUID) (string, string, error) {
	var owner, url string
	err := s.pool.QueryRow(ctx, leaseOwnerSQL, sessionID).Scan(&owner, &url)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil
	}
	return owner, url, interpretError(err, "", "")
}

// NextOrphanExpiry implements gateway.ClusterStore.
func (s *ClusterStore) NextOrphanExpiry(ctx context.Context, node string, silent time.Duration) (time.Duration, bool, error) {
	var msLeft *int64
	if err := s.pool.QueryRow(ctx, orphanExpirySQL, node, ms(silent)).Scan(&msLeft); err != nil {
		return 0, false, interpretError(err, "", "")
	}
	if msLeft == nil {
		return 0, false, nil
	}
	return time.Duration(*msLeft) * time.Millisecond, true, nil
}

// UnleasedSessions implements gateway.ClusterStore.
func (s *ClusterStore) UnleasedSessions(ctx context.Context, limit int) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, unleasedSQL, limit)
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return ids, interpretError(err, "", "")
}
