package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Cluster implements the cluster tag on the cluster service. Without one
// (Deps.Cluster nil) its operations answer 404 like an unknown route.
type Cluster struct {
	Service gateway.ClusterService
}

// ListClusterNodes lists the nodes of the cluster.
func (h *Cluster) ListClusterNodes(ctx context.Context, _ api.ListClusterNodesRequestObject) (api.ListClusterNodesResponseObject, error) {
	if h.Service == nil {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgRouteNotFound)
	}
	nodes, err := h.Service.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.ClusterNode, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, api.ClusterNode{
			Id: n.ID, Url: n.URL, State: api.ClusterNodeState(n.State), Capacity: n.Capacity, Version: n.Version,
			SessionsOwned: n.SessionsOwned, StartedAt: n.StartedAt, LastHeartbeatAt: n.LastHeartbeat,
		})
	}
	return api.ListClusterNodes200JSONResponse{Success: true, Nodes: out}, nil
}
