// Package cluster is a wagate process's membership in a cluster of nodes
// sharing one database: it registers the node, heartbeats (renewing the
// node row and every session lease it holds in one statement per
// interval), and, when it cannot renew, tells the runtime to stop its
// WhatsApp clients before the leases can expire, by its own monotonic
// clock. It depends on internal/gateway's ports only.
package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var (
	_ gateway.ClusterService = (*Node)(nil)
	_ gateway.OwnerResolver  = (*Node)(nil)
)

// Options configures a Node. Store and ID are required.
type Options struct {
	Store    gateway.ClusterStore
	ID       string
	URL      string
	Capacity int
	Version  string
	// TTL is the validity of the heartbeat and the leases; they are
	// renewed every TTL/3. Default 15 s.
	TTL time.Duration
	// RegisterWait bounds how long Start waits for a previous process
	// with the same id to expire (its heartbeat to age past TTL).
	// Default 2*TTL.
	RegisterWait time.Duration
	// OnLost is called (once per loss) when the node has not renewed for
	// two thirds of TTL: the caller stops every WhatsApp client it runs,
	// so that they are gone before any lease can expire and another node
	// claim it. Nil does nothing.
	OnLost func()
	Logger zerolog.Logger
}

// Node is this process in the cluster.
type Node struct {
	opts     Options
	instance uuid.UUID
	log      zerolog.Logger

	mu    sync.Mutex
	adopt func(ctx context.Context, id uuid.UUID) error
	// shed hands one session over (Shed); shedAt is when this node last
	// shed each session, so that it does not adopt it back at once.
	shed   func(ctx context.Context, id uuid.UUID) bool
	shedAt map[uuid.UUID]time.Time
	leases map[uuid.UUID]held
	// claiming counts the claims in flight per session: their leases may
	// be in a heartbeat's answer before they are in leases.
	claiming map[uuid.UUID]int
	lost     bool
	// stopAt is the local monotonic deadline by which the clients must be
	// stopped unless a renewal succeeds: the send time of the last
	// successful heartbeat + 2/3 TTL (the database's expiry is at least
	// send time + TTL).
	stopAt time.Time

	// fences is the last lease this node claimed per session, kept after
	// the lease is lost (missed renewal, not renewed) until it is released
	// on purpose: the session-state writes of a client still stopping are
	// fenced by it (FenceStatus).
	fences map[uuid.UUID]gateway.Lease
	// owners caches other nodes' ownership (Owner), briefly.
	ownersMu sync.Mutex
	owners   map[uuid.UUID]cachedOwner

	cancel context.CancelFunc
	done   chan struct{}
}

// cachedOwner is one answer of the leases table and when it was read.
type cachedOwner struct {
	owner gateway.Owner
	at    time.Time
}

// held is a lease this node holds, and when its claim returned.
type held struct {
	gateway.Lease
	at time.Time
}

// Start registers the node (waiting up to RegisterWait while another
// process holds the id) and starts the heartbeat. Close it on shutdown.
func Start(ctx context.Context, opts Options) (*Node, error) {
	if opts.Store == nil || opts.ID == "" {
		return nil, errors.New("cluster: Options.Store and ID are required")
	}
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.RegisterWait <= 0 {
		opts.RegisterWait = 2 * opts.TTL
	}
	if opts.Capacity <= 0 {
		opts.Capacity = 1
	}
	n := &Node{opts: opts, instance: uuid.New(), leases: map[uuid.UUID]held{}, claiming: map[uuid.UUID]int{}, owners: map[uuid.UUID]cachedOwner{}, fences: map[uuid.UUID]gateway.Lease{}, shedAt: map[uuid.UUID]time.Time{},
		log: opts.Logger.With().Str("component", "cluster").Str("node", opts.ID).Logger()}
	reg := gateway.NodeRegistration{ID: opts.ID, Instance: n.instance, URL: opts.URL, Capacity: opts.Capacity, Version: opts.Version}
	deadline := time.Now().Add(opts.RegisterWait)
	warned := false
	for {
		sent := time.Now()
		err := opts.Store.RegisterNode(ctx, reg, opts.TTL)
		if err == nil {
			n.stopAt = sent.Add(opts.TTL * 2 / 3)
			break
		}
		if gateway.ErrorCode(err) != gateway.CodeConflict || time.Now().After(deadline) {
			return nil, err
		}
		if !warned {
			n.log.Warn().Msg("node id held by another live process; waiting for its heartbeat to expire")
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(opts.TTL / 10):
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go n.loop(lctx)
	n.log.Info().Str("url", opts.URL).Msg("node registered")
	return n, nil
}

// ID returns the node id.
func (n *Node) ID() string { return n.opts.ID }

// NodeID implements gateway.OwnerResolver.
func (n *Node) NodeID() string { return n.opts.ID }

// ownerCacheFor is how long Owner trusts an answer of the leases table
// about another node: a lease changes hands only when its owner dies,
// drains or stops the session, and a stale answer costs one 503 "moving"
// (the old owner refuses a forwarded request for a session it does not
// run), never a wrong answer.
func (n *Node) ownerCacheFor() time.Duration { return min(time.Second, n.opts.TTL/3) }

// Owner implements gateway.OwnerResolver: local ownership from memory
// (Holds), other owners from the leases table, cached for up to a second.
func (n *Node) Owner(ctx context.Context, id uuid.UUID) (gateway.Owner, error) {
	if _, ok := n.Holds(id); ok {
		return gateway.Owner{Node: n.opts.ID, URL: n.opts.URL, Local: true}, nil
	}
	now := time.Now()
	n.ownersMu.Lock()
	c, ok := n.owners[id]
	n.ownersMu.Unlock()
	if ok && now.Sub(c.at) < n.ownerCacheFor() {
		return c.owner, nil
	}
	owner, url, err := n.opts.Store.LeaseOwner(ctx, id)
	if err != nil {
		return gateway.Owner{}, err
	}
	o := gateway.Owner{Node: owner, URL: url}
	n.ownersMu.Lock()
	if len(n.owners) > 100_000 { // bounded: drop everything rather than grow
		n.owners = map[uuid.UUID]cachedOwner{}
	}
	n.owners[id] = cachedOwner{owner: o, at: now}
	n.ownersMu.Unlock()
	return o, nil
}

// Place implements gateway.OwnerResolver: the alive node with the lowest
// load (sessions owned / capacity; this node's own count from memory),
// this node on a tie or when no other node qualifies. One query of the
// nodes table per call (session creations are rare and rate-limited).
func (n *Node) Place(ctx context.Context) (gateway.Owner, error) {
	self := gateway.Owner{Node: n.opts.ID, URL: n.opts.URL, Local: true}
	nodes, err := n.opts.Store.Nodes(ctx, n.opts.TTL)
	if err != nil {
		return self, err
	}
	n.mu.Lock()
	mine := len(n.leases) + len(n.claiming)
	n.mu.Unlock()
	best, bestOwned, bestCap := self, mine, n.opts.Capacity
	for _, nd := range nodes {
		if nd.ID == n.opts.ID || nd.State != gateway.NodeAlive || nd.URL == "" || nd.Capacity <= 0 {
			continue
		}
		// nd.SessionsOwned/nd.Capacity < bestOwned/bestCap, without division.
		if nd.SessionsOwned*bestCap < bestOwned*nd.Capacity {
			best, bestOwned, bestCap = gateway.Owner{Node: nd.ID, URL: nd.URL}, nd.SessionsOwned, nd.Capacity
		}
	}
	return best, nil
}

// Forget implements gateway.OwnerResolver.
func (n *Node) Forget(id uuid.UUID) {
	n.ownersMu.Lock()
	delete(n.owners, id)
	n.ownersMu.Unlock()
}

// TTL returns the lease TTL.
func (n *Node) TTL() time.Duration { return n.opts.TTL }

// Nodes implements gateway.ClusterService.
func (n *Node) Nodes(ctx context.Context) ([]gateway.Node, error) {
	return n.opts.Store.Nodes(ctx, n.opts.TTL)
}

// Holds reports whether the node holds the session's lease and may run
// its client: the lease was claimed or renewed and the local deadline has
// not passed.
func (n *Node) Holds(id uuid.UUID) (gateway.Lease, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h, ok := n.leases[id]
	return h.Lease, ok && !n.lost && time.Now().Before(n.stopAt)
}

// Claim takes the session's lease for this node. ok is false when another
// live node holds it.
func (n *Node) Claim(ctx context.Context, id uuid.UUID) (gateway.Lease, bool, error) {
	n.mu.Lock()
	n.claiming[id]++
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if n.claiming[id]--; n.claiming[id] <= 0 {
			delete(n.claiming, id)
		}
		n.mu.Unlock()
	}()
	l, ok, err := n.opts.Store.ClaimLease(ctx, id, n.opts.ID, n.opts.TTL)
	if err != nil || !ok {
		return l, ok, err
	}
	// at is when the claim had committed (it returned), not when it was
	// asked for: a heartbeat sent before at may have run before the claim
	// committed, so its answer may lack the lease, and beat must not
	// drop it then (it would later release it as "renewed without a
	// client" while the client runs, letting another node connect the
	// same device). A heartbeat sent after at renews it.
	at := time.Now()
	// The claim's expiry is later than the node's local deadline (stopAt
	// is from an earlier send), so the one deadline covers it too.
	n.mu.Lock()
	n.leases[id] = held{Lease: l, at: at}
	n.fences[id] = l
	n.mu.Unlock()
	return l, true, nil
}

// Release gives the session's lease up at once (a handover).
func (n *Node) Release(ctx context.Context, id uuid.UUID) error {
	n.mu.Lock()
	h, ok := n.leases[id]
	delete(n.leases, id)
	delete(n.fences, id)
	n.mu.Unlock()
	if !ok {
		return nil
	}
	return n.opts.Store.ReleaseLease(ctx, h.Lease)
}

// FenceStatus returns next with this node's session-state writes fenced
// by lease epoch: a write for a session this node claimed (and has not
// released on purpose) commits only while the lease still has this node
// and the claimed epoch, so a client that keeps running after its node
// lost the lease (cut off, paused) cannot overwrite the new owner's state.
// Writes for sessions this node never claimed (API calls before a start,
// after a stop) are not fenced.
func (n *Node) FenceStatus(next gateway.SessionStatusStore) gateway.SessionStatusStore {
	return fencedStatus{n: n, next: next}
}

type fencedStatus struct {
	n    *Node
	next gateway.SessionStatusStore
}

func (f fencedStatus) UpdateStatus(ctx context.Context, id uuid.UUID, u gateway.StatusUpdate) error {
	f.n.mu.Lock()
	l, ok := f.n.fences[id]
	f.n.mu.Unlock()
	if ok {
		ctx = gateway.WithLeaseFence(ctx, l)
	}
	err := f.next.UpdateStatus(ctx, id, u)
	if ok && gateway.ErrorCode(err) == gateway.CodeConflict {
		f.n.log.Warn().Str("session_id", id.String()).Int64("epoch", l.Epoch).Str("state", string(u.State)).
			Msg("session state not written: another node owns the session now")
	}
	return err
}

func (f fencedStatus) TouchLastSeen(ctx context.Context, id uuid.UUID, at time.Time) error {
	return f.next.TouchLastSeen(ctx, id, at)
}

// Adopt starts the placement: after every successful heartbeat, the node
// takes sessions that have no live lease (their node died or left), up to
// its fair share by capacity among the alive nodes, and starts each with
// start (which claims the lease; another node may win it first).
func (n *Node) Adopt(start func(ctx context.Context, id uuid.UUID) error) {
	n.mu.Lock()
	n.adopt = start
	n.mu.Unlock()
}

// Shed starts the rebalancing: after a successful heartbeat with no
// session waiting for a node, a node that owns more than its share while
// another alive node owns less than its own hands one session over with
// handover (disconnect the client, keeping its recorded state, then
// release the lease; false when it declines the session, e.g. one in the
// middle of pairing), so the under-loaded node adopts it at its next
// heartbeat: a node that joins takes its share one session per node per
// interval (TTL/3).
func (n *Node) Shed(handover func(ctx context.Context, id uuid.UUID) bool) {
	n.mu.Lock()
	n.shed = handover
	n.mu.Unlock()
}

// place adopts up to this node's fair share of the unleased sessions, or,
// when none waits, sheds one session if this node is over its share while
// another is under. It begins no start after stopAt and reports whether it
// left sessions it wanted for that reason (the loop then goes on before the
// next tick).
func (n *Node) place(ctx context.Context, stopAt time.Time) (cut bool) {
	n.mu.Lock()
	start, shed, owned := n.adopt, n.shed, len(n.leases)
	n.mu.Unlock()
	if start == nil {
		return false
	}
	nodes, err := n.opts.Store.Nodes(ctx, n.opts.TTL)
	if err != nil {
		n.log.Warn().Err(err).Msg("placement: list nodes")
		return false
	}
	total, capSum := 0, 0
	for _, nd := range nodes {
		if nd.State == gateway.NodeAlive {
			if nd.ID == n.opts.ID {
				nd.SessionsOwned = owned
			}
			total += nd.SessionsOwned
			capSum += nd.Capacity
		}
	}
	free, err := n.opts.Store.UnleasedSessions(ctx, 1000)
	if err != nil || capSum == 0 {
		return false
	}
	if len(free) == 0 {
		if shed != nil {
			n.rebalance(ctx, nodes, owned, total, capSum, shed)
		}
		return false
	}
	total += len(free)
	share := (total*n.opts.Capacity + capSum - 1) / capSum
	want := min(share-owned, len(free))
	recent := time.Now().Add(-3 * n.opts.TTL)
	var pick []uuid.UUID
	for _, id := range free {
		if len(pick) >= want {
			break
		}
		n.mu.Lock()
		at, wasShed := n.shedAt[id]
		n.mu.Unlock()
		if wasShed && at.After(recent) {
			continue // handed over by this node just now: for another node
		}
		pick = append(pick, id)
	}
	// Each start is a few database round trips (claim, device, state):
	// one after another, adopting the 500 sessions of a dead node took
	// longer than a heartbeat interval, which delayed the next renewal
	// towards the watchdog's deadline. placeWorkers start at a time, and
	// no new start begins after stopAt (the loop keeps it clear of the
	// next renewal); the loop continues with the rest.
	var adoptedN atomic.Int64
	var wg sync.WaitGroup
	work := make(chan uuid.UUID)
	for range min(placeWorkers, len(pick)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := start(ctx, id); err != nil {
					if gateway.ErrorCode(err) != gateway.CodeUnavailable {
						n.log.Warn().Err(err).Str("session_id", id.String()).Msg("placement: could not start a session")
					}
					continue
				}
				adoptedN.Add(1)
			}
		}()
	}
	for _, id := range pick {
		if ctx.Err() != nil {
			break
		}
		if time.Now().After(stopAt) {
			cut = true
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	adopted := int(adoptedN.Load())
	if adopted > 0 {
		n.log.Info().Int("sessions", adopted).Bool("more", cut).Msg("adopted sessions without a live lease")
	}
	return cut
}

// rebalance hands one session over when this node owns more than its
// floor share while another alive node owns less than its own (so a
// balanced cluster, every node at or above its floor, never moves a
// session).
func (n *Node) rebalance(ctx context.Context, nodes []gateway.Node, owned, total, capSum int, shed func(ctx context.Context, id uuid.UUID) bool) {
	if owned <= total*n.opts.Capacity/capSum {
		return
	}
	under := false
	for _, nd := range nodes {
		if nd.ID != n.opts.ID && nd.State == gateway.NodeAlive && nd.SessionsOwned < total*nd.Capacity/capSum {
			under = true
		}
	}
	if !under {
		return
	}
	n.mu.Lock()
	var candidates []uuid.UUID
	for id := range n.leases { // map order: arbitrary sessions
		if n.claiming[id] == 0 {
			candidates = append(candidates, id)
		}
	}
	for id, at := range n.shedAt {
		if time.Since(at) > 3*n.opts.TTL {
			delete(n.shedAt, id)
		}
	}
	n.mu.Unlock()
	for _, id := range candidates {
		n.mu.Lock()
		n.shedAt[id] = time.Now()
		n.mu.Unlock()
		if shed(ctx, id) {
			n.log.Info().Str("session_id", id.String()).Int("owned", owned).Msg("rebalancing: handed a session over to a less loaded node")
			return
		}
		n.mu.Lock()
		delete(n.shedAt, id)
		n.mu.Unlock()
	}
}

// placeWorkers is how many sessions place starts at a time.
const placeWorkers = 16

func (n *Node) loop(ctx context.Context) {
	defer close(n.done)
	interval := n.opts.TTL / 3
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// The watchdog runs on its own timer goroutine: a heartbeat or a
	// placement that hangs on the database cannot delay it.
	watchdog := time.AfterFunc(time.Until(n.deadline()), n.markLost)
	defer watchdog.Stop()
	// A dead node's leases expire up to TTL after its last renewal, at any
	// point of this node's interval: waiting for the next tick to notice
	// added up to a third of the TTL to every failover. After each
	// placement the node asks when the first lease of a silent node
	// expires and, if that is before its next tick, places again just
	// after it.
	orphans := time.NewTimer(time.Hour)
	orphans.Stop()
	defer orphans.Stop()
	// A placement starts sessions for at most TTL/6 (half an interval) and
	// never closer than a sixth of an interval to the next tick, so no
	// renewal waits behind it. When that cut an adoption short (a dead
	// node's hundreds of sessions), more fires at once and the adoption
	// goes on until that margin, instead of idling until the next tick:
	// with only the tick's half interval, 500 adopted sessions took 9.5 s
	// after their leases expired (docs/benchmarks.md).
	more := time.NewTimer(time.Hour)
	more.Stop()
	defer more.Stop()
	next := time.Now().Add(interval)
	// placeNow places within that budget; false when the next tick is too
	// close (or the node is lost) and nothing was tried.
	placeNow := func() bool {
		until := time.Now().Add(n.opts.TTL / 6)
		if margin := next.Add(-interval / 6); margin.Before(until) {
			until = margin
		}
		if time.Until(until) <= interval/20 || n.isLost() {
			return false
		}
		if n.place(ctx, until) {
			more.Reset(0)
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			next = time.Now().Add(interval)
			if n.beat(ctx, interval) {
				watchdog.Reset(time.Until(n.deadline()))
				placeNow()
				n.armOrphans(ctx, orphans, interval)
			}
		case <-orphans.C:
			if placeNow() {
				n.armOrphans(ctx, orphans, interval)
			}
		case <-more.C:
			placeNow()
		}
	}
}

// orphanSlack is how long after a silent node's lease expires (in the
// database's time) this node places again.
const orphanSlack = 100 * time.Millisecond

// armOrphans sets t to fire just after the first lease of a silent node
// (no heartbeat for an interval and a half) expires, when that is before
// the next tick.
func (n *Node) armOrphans(ctx context.Context, t *time.Timer, interval time.Duration) {
	qctx, cancel := context.WithTimeout(ctx, interval/2)
	defer cancel()
	in, ok, err := n.opts.Store.NextOrphanExpiry(qctx, n.opts.ID, interval*3/2)
	if err != nil || !ok || in >= interval {
		return
	}
	t.Reset(max(in, 0) + orphanSlack)
}

func (n *Node) isLost() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lost
}

func (n *Node) deadline() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopAt
}

// beat sends one heartbeat; true when it succeeded.
func (n *Node) beat(ctx context.Context, timeout time.Duration) bool {
	sent := time.Now()
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hb, err := n.opts.Store.Heartbeat(hctx, n.opts.ID, n.instance, n.opts.TTL)
	if err != nil {
		n.log.Warn().Err(err).Msg("heartbeat failed")
		return false
	}
	if !hb.NodeHeld {
		n.log.Error().Msg("node row taken over by another process; stopping every client")
		n.markLost()
		return false
	}
	renewed := make(map[uuid.UUID]bool, len(hb.Leases))
	for _, l := range hb.Leases {
		renewed[l.SessionID] = true
	}
	var stray []gateway.Lease
	n.mu.Lock()
	if n.lost {
		n.lost = false
		n.log.Info().Msg("heartbeat renewed again")
	}
	for id, h := range n.leases {
		// A lease claimed after this heartbeat was sent is not in it.
		if !renewed[id] && h.at.Before(sent) {
			delete(n.leases, id)
		}
	}
	for _, l := range hb.Leases {
		// Renewed in the database, but this process runs no client for
		// it (it stopped them when it could not renew in time): give it
		// up so that a node (this one too) adopts the session.
		if _, ok := n.leases[l.SessionID]; !ok && n.claiming[l.SessionID] == 0 {
			stray = append(stray, l)
		}
	}
	n.stopAt = sent.Add(n.opts.TTL * 2 / 3)
	n.mu.Unlock()
	for _, l := range stray {
		if err := n.opts.Store.ReleaseLease(ctx, l); err != nil {
			n.log.Warn().Err(err).Msg("could not release a lease without a client")
		}
	}
	return true
}

func (n *Node) markLost() {
	n.mu.Lock()
	if n.lost {
		n.mu.Unlock()
		return
	}
	n.lost = true
	n.leases = map[uuid.UUID]held{}
	n.mu.Unlock()
	n.log.Error().Msg("could not renew the leases in time; stopping every client before they expire")
	if n.opts.OnLost != nil {
		n.opts.OnLost()
	}
}

// Drain marks the node draining (GET /cluster/nodes shows it).
func (n *Node) Drain(ctx context.Context) error {
	return n.opts.Store.SetNodeState(ctx, n.opts.ID, n.instance, gateway.NodeDraining)
}

// Close stops the heartbeat and marks the node dead, which releases every
// lease it holds at once. Call it after the clients are stopped.
func (n *Node) Close(ctx context.Context) error {
	n.cancel()
	<-n.done
	return n.opts.Store.SetNodeState(ctx, n.opts.ID, n.instance, gateway.NodeDead)
}
