package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/cluster"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// version is the wagate version, set at build time
// (-ldflags "-X main.version=1.2.3").
var version = "dev"

// clusterParts are Main's cluster side (embedded in Main).
type clusterParts struct {
	// Node is this process in the cluster (nodes table, leases).
	Node *cluster.Node
	// leaseLost is the runtime OnLost stops (set once the runtime exists).
	leaseLost atomic.Pointer[whatsapp.Manager]
}

// nodeIdentity resolves WAGATE_NODE_ID and WAGATE_NODE_URL: the host name
// and http://<host name>:<port of WAGATE_ADDR> by default.
func (m *Main) nodeIdentity() (id, url string, err error) {
	id, url = m.Config.NodeID, m.Config.NodeURL
	host, herr := os.Hostname()
	if id == "" {
		if herr != nil {
			return "", "", fmt.Errorf("WAGATE_NODE_ID is not set and the host name is unknown: %w", herr)
		}
		id = host
	}
	if url == "" {
		_, port, perr := net.SplitHostPort(m.Config.Addr)
		if perr != nil || herr != nil {
			return "", "", fmt.Errorf("set WAGATE_NODE_URL: cannot derive it from WAGATE_ADDR %q and the host name", m.Config.Addr)
		}
		url = "http://" + net.JoinHostPort(host, port)
	}
	return id, url, nil
}

// startCluster registers the node and starts its heartbeat. A node that
// cannot renew its leases in time stops every WhatsApp client it runs.
func (m *Main) startCluster(ctx context.Context) error {
	id, url, err := m.nodeIdentity()
	if err != nil {
		return err
	}
	opts := cluster.Options{
		Store: postgres.NewClusterStore(m.Pool), ID: id, URL: url,
		Capacity: m.Config.NodeCapacity, Version: version, TTL: m.Config.LeaseTTL,
		Logger: m.Logger,
		OnLost: func() {
			if wa := m.leaseLost.Load(); wa != nil {
				wa.HaltAll()
			}
		},
	}
	if m.Config.NodeID == "" {
		// The default id is the host name; a second live process on the
		// same host (or one restarted before its predecessor's heartbeat
		// expired) takes <host name>-<pid> instead of waiting.
		opts.RegisterWait = time.Millisecond
	}
	node, err := cluster.Start(ctx, opts)
	if err != nil && m.Config.NodeID == "" && gateway.ErrorCode(err) == gateway.CodeConflict {
		opts.ID, opts.RegisterWait = id+"-"+strconv.Itoa(os.Getpid()), 0
		node, err = cluster.Start(ctx, opts)
	}
	if err != nil {
		return err
	}
	m.Node = node
	return nil
}

// leaseHooks are the node's leases as the WhatsApp runtime uses them.
type leaseHooks struct{ node *cluster.Node }

func (h leaseHooks) Claim(ctx context.Context, id uuid.UUID) (bool, error) {
	_, ok, err := h.node.Claim(ctx, id)
	return ok, err
}

func (h leaseHooks) Release(ctx context.Context, id uuid.UUID) error {
	return h.node.Release(ctx, id)
}

// closeCluster marks the node dead, which hands every lease it still holds
// over at once (after the clients are stopped).
func (m *Main) closeCluster() {
	if m.Node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		if err := m.Node.Close(ctx); err != nil {
			m.Logger.Warn().Err(err).Msg("could not mark the node dead; its leases expire by themselves")
		}
		m.Node = nil
	}
}
