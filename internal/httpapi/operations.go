package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Operations implements the operations tag: liveness, readiness, metrics.
type Operations struct {
	Ready   gateway.ReadinessChecker
	Metrics MetricsSource
}

// GetHealth answers as long as the process serves HTTP.
func (*Operations) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Success: true, Status: "ok"}, nil
}

// GetReadiness checks the database and the migrations; 503 when not ready.
func (h *Operations) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	checks, err := h.Ready.Ready(ctx)
	if err != nil {
		if gateway.ErrorCode(err) == gateway.CodeUnavailable {
			return nil, err
		}
		return nil, gateway.Wrap(gateway.CodeUnavailable, "Not ready", err)
	}
	return api.GetReadiness200JSONResponse{Success: true, Status: "ready", Checks: checks}, nil
}

// GetMetrics serves Prometheus metrics.
func (h *Operations) GetMetrics(context.Context, api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	text, err := h.Metrics.Text()
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return api.GetMetrics200TextResponse(text), nil
}
