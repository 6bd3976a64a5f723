package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// NodeState is a cluster node's state as GET /cluster/nodes shows it.
type NodeState string

// Node states: alive (heartbeating), draining (shutting down, handing its
// sessions over), dead (left, or no heartbeat within the lease TTL).
const (
	NodeAlive    NodeState = "alive"
	NodeDraining NodeState = "draining"
	NodeDead     NodeState = "dead"
)

// Node is one wagate process of the cluster.
type Node struct {
	ID            string
	URL           string
	State         NodeState
	Capacity      int
	Version       string
	SessionsOwned int
	StartedAt     time.Time
	LastHeartbeat time.Time
}

// NodeRegistration is what a node records about itself when it starts.
type NodeRegistration struct {
	ID       string
	Instance uuid.UUID // this process; tells two processes with one id apart
	URL      string
	Capacity int
	Version  string
}

// Lease is a node's claim on one session: only the owner runs the
// session's WhatsApp client, until ExpiresAt (database time). Epoch grows
// with every change of owner and fences stale owners' writes.
type Lease struct {
	SessionID uuid.UUID
	Owner     string
	Epoch     int64
}

// Heartbeat is the answer of one renewal: whether this process still holds
// its node row, and the leases it still holds (all renewed).
type Heartbeat struct {
	NodeHeld bool
	Leases   []Lease
}

// ClusterStore keeps the nodes and the session leases (internal/postgres).
// Every expiry is computed in database time, so the nodes' clocks do not
// matter; the TTLs are the caller's.
type ClusterStore interface {
	// RegisterNode records the node as alive. It fails with CodeConflict
	// while another process holds the id (a heartbeat younger than ttl).
	RegisterNode(ctx context.Context, n NodeRegistration, ttl time.Duration) error
	// Heartbeat renews the node row and every unexpired lease the node
	// owns, in one statement, for ttl.
	Heartbeat(ctx context.Context, node string, instance uuid.UUID, ttl time.Duration) (Heartbeat, error)
	// SetNodeState records draining or dead (dead also releases every
	// lease of the node at once).
	SetNodeState(ctx context.Context, node string, instance uuid.UUID, state NodeState) error
	// Nodes lists the nodes seen within the last hour.
	Nodes(ctx context.Context, ttl time.Duration) ([]Node, error)
	// ClaimLease takes the session's lease for node when it is free,
	// expired or already node's, with a new epoch when the owner changes.
	// ok is false when another node holds it.
	ClaimLease(ctx context.Context, sessionID uuid.UUID, node string, ttl time.Duration) (l Lease, ok bool, err error)
	// ReleaseLease gives the session's lease up (expires it at once) when
	// node holds it with epoch.
	ReleaseLease(ctx context.Context, l Lease) error
	// UnleasedSessions returns up to limit sessions (in random order) that
	// should run (not stopped, logged out or failed) but have no live
	// lease: their node died or left.
	UnleasedSessions(ctx context.Context, limit int) ([]uuid.UUID, error)
	// NextOrphanExpiry returns how long until the first live lease of a
	// node other than node expires, among nodes whose heartbeat is older
	// than silent (they missed one: probably dead); ok is false when there
	// is none.
	NextOrphanExpiry(ctx context.Context, node string, silent time.Duration) (in time.Duration, ok bool, err error)
	// LeaseOwner returns the live owner of the session's lease and its
	// node URL ("" when there is none).
	LeaseOwner(ctx context.Context, sessionID uuid.UUID) (owner, url string, err error)
}

// ClusterService answers the cluster operations of the API.
type ClusterService interface {
	// Nodes lists the nodes of the cluster.
	Nodes(ctx context.Context) ([]Node, error)
}

// Owner is where a session's WhatsApp client runs, as far as a node
// knows: Local when this node holds the lease and runs the client; Node
// and URL name the live owner otherwise ("" when no node holds a live
// lease: the session is stopped, or moving after its node left).
type Owner struct {
	Node  string
	URL   string
	Local bool
}

// OwnerResolver tells which node runs a session's client (internal/cluster,
// from the leases and nodes tables). The HTTP layer forwards operations that
// need the live client to the owner. Owner must be cheap: local ownership is
// known in memory, other owners are cached briefly.
type OwnerResolver interface {
	// NodeID is this node's id.
	NodeID() string
	// Owner resolves the session's owner.
	Owner(ctx context.Context, sessionID uuid.UUID) (Owner, error)
	// Forget drops what is cached about the session's owner (a forward to
	// it failed).
	Forget(sessionID uuid.UUID)
	// Place chooses the node that should run a new session: the alive
	// node with the fewest owned sessions per unit of capacity
	// (WAGATE_NODE_CAPACITY), this node on a tie.
	Place(ctx context.Context) (Owner, error)
}

// MsgStaleLease is the error of a session-state write fenced by its lease
// epoch: the writing node is no longer the session's owner.
const MsgStaleLease = "Stale lease: another node owns the session now"

type leaseFenceKey struct{}

// WithLeaseFence returns ctx carrying the writer's lease of the session:
// a status store then writes only while the lease row still has that
// owner and epoch (another node's claim changes the epoch), and answers
// CodeConflict + MsgStaleLease otherwise.
func WithLeaseFence(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseFenceKey{}, l)
}

// LeaseFenceFrom returns the lease fence in ctx, if any.
func LeaseFenceFrom(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(leaseFenceKey{}).(Lease)
	return l, ok
}
