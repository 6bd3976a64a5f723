package httpapi

import (
	"context"
	"strconv"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// MsgWebhookDeleted is the text of a successful webhook removal.
const MsgWebhookDeleted = "Webhook deleted successfully"

// Webhooks implements the webhooks tag on the webhook service.
type Webhooks struct {
	Service gateway.WebhookService
}

func toAPIWebhook(w gateway.Webhook) api.Webhook {
	events := make([]api.EventType, len(w.Events))
	for i, e := range w.Events {
		events[i] = api.EventType(e)
	}
	out := api.Webhook{Id: w.ID, Url: w.URL, Events: events, Enabled: w.Enabled, CreatedAt: w.CreatedAt}
	if w.Secret != "" {
		secret := w.Secret
		out.Secret = &secret
	}
	return out
}

func toAPIDelivery(d gateway.Delivery) api.Delivery {
	return api.Delivery{
		Id:             strconv.FormatInt(d.ID, 10),
		EventId:        d.EventID,
		EventType:      api.EventType(d.EventType),
		WebhookId:      d.WebhookID,
		Url:            d.URL,
		Status:         api.DeliveryStatus(d.Status),
		Attempts:       d.Attempts,
		LastStatusCode: d.LastStatusCode,
		LastLatencyMs:  d.LastLatencyMs,
		LastError:      d.LastError,
		NextAttemptAt:  d.NextAttemptAt,
		CreatedAt:      d.CreatedAt,
	}
}

func fromAPIEvents(events *[]api.EventType) *[]string {
	if events == nil {
		return nil
	}
	out := make([]string, len(*events))
	for i, e := range *events {
		out[i] = string(e)
	}
	return &out
}

// ListWebhooks lists the session's webhooks (without secrets).
func (h *Webhooks) ListWebhooks(ctx context.Context, req api.ListWebhooksRequestObject) (api.ListWebhooksResponseObject, error) {
	list, err := h.Service.ListWebhooks(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	out := make([]api.Webhook, len(list))
	for i, w := range list {
		out[i] = toAPIWebhook(w)
	}
	return api.ListWebhooks200JSONResponse{Success: true, Webhooks: out}, nil
}

// CreateWebhook adds a webhook; its secret is in this answer only.
func (h *Webhooks) CreateWebhook(ctx context.Context, req api.CreateWebhookRequestObject) (api.CreateWebhookResponseObject, error) {
	if req.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body")
	}
	in := gateway.WebhookInput{URL: req.Body.Url}
	if ev := fromAPIEvents(req.Body.Events); ev != nil {
		in.Events = *ev
	}
	if req.Body.Secret != nil {
		in.Secret = *req.Body.Secret
	}
	w, err := h.Service.CreateWebhook(ctx, req.Id, in)
	if err != nil {
		return nil, err
	}
	return api.CreateWebhook201JSONResponse{Success: true, Webhook: toAPIWebhook(w)}, nil
}

// UpdateWebhook changes a webhook's URL, events or state.
func (h *Webhooks) UpdateWebhook(ctx context.Context, req api.UpdateWebhookRequestObject) (api.UpdateWebhookResponseObject, error) {
	if req.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body")
	}
	w, err := h.Service.UpdateWebhook(ctx, req.Id, req.WebhookId, gateway.WebhookPatch{
		URL: req.Body.Url, Events: fromAPIEvents(req.Body.Events), Enabled: req.Body.Enabled,
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateWebhook200JSONResponse{Success: true, Webhook: toAPIWebhook(w)}, nil
}

// DeleteWebhook removes a webhook with its deliveries.
func (h *Webhooks) DeleteWebhook(ctx context.Context, req api.DeleteWebhookRequestObject) (api.DeleteWebhookResponseObject, error) {
	if err := h.Service.DeleteWebhook(ctx, req.Id, req.WebhookId); err != nil {
		return nil, err
	}
	return api.DeleteWebhook200JSONResponse{Success: true, Message: MsgWebhookDeleted}, nil
}

// RotateWebhookSecret replaces the signing secret; the new one is in this
// answer only.
func (h *Webhooks) RotateWebhookSecret(ctx context.Context, req api.RotateWebhookSecretRequestObject) (api.RotateWebhookSecretResponseObject, error) {
	w, err := h.Service.RotateWebhookSecret(ctx, req.Id, req.WebhookId)
	if err != nil {
		return nil, err
	}
	return api.RotateWebhookSecret200JSONResponse{Success: true, Webhook: toAPIWebhook(w)}, nil
}

// TestWebhook sends a signed webhook.test event now and reports the answer.
func (h *Webhooks) TestWebhook(ctx context.Context, req api.TestWebhookRequestObject) (api.TestWebhookResponseObject, error) {
	r, err := h.Service.TestWebhook(ctx, req.Id, req.WebhookId)
	if err != nil {
		return nil, err
	}
	return api.TestWebhook200JSONResponse{Success: true, StatusCode: r.StatusCode, LatencyMs: r.LatencyMs, Error: r.Error}, nil
}

// ListWebhookDeliveries lists deliveries, newest first.
func (h *Webhooks) ListWebhookDeliveries(ctx context.Context, req api.ListWebhookDeliveriesRequestObject) (api.ListWebhookDeliveriesResponseObject, error) {
	f := gateway.DeliveryFilter{}
	if req.Params.Status != nil {
		s := gateway.DeliveryStatus(*req.Params.Status)
		f.Status = &s
	}
	if req.Params.Limit != nil {
		f.Limit = *req.Params.Limit
	}
	if req.Params.Cursor != nil {
		f.Cursor = *req.Params.Cursor
	}
	list, next, err := h.Service.ListDeliveries(ctx, req.Id, f)
	if err != nil {
		return nil, err
	}
	out := make([]api.Delivery, len(list))
	for i, d := range list {
		out[i] = toAPIDelivery(d)
	}
	resp := api.ListWebhookDeliveries200JSONResponse{Success: true, Deliveries: out}
	if next != "" {
		resp.NextCursor = &next
	}
	return resp, nil
}

// RedeliverWebhook schedules one delivery again now.
func (h *Webhooks) RedeliverWebhook(ctx context.Context, req api.RedeliverWebhookRequestObject) (api.RedeliverWebhookResponseObject, error) {
	id, err := strconv.ParseInt(req.DeliveryId, 10, 64)
	if err != nil || id <= 0 {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgDeliveryNotFound)
	}
	d, err := h.Service.Redeliver(ctx, req.Id, id)
	if err != nil {
		return nil, err
	}
	return api.RedeliverWebhook200JSONResponse{Success: true, Delivery: toAPIDelivery(d)}, nil
}

// RedeliverDeadWebhooks schedules every dead delivery of the session again.
func (h *Webhooks) RedeliverDeadWebhooks(ctx context.Context, req api.RedeliverDeadWebhooksRequestObject) (api.RedeliverDeadWebhooksResponseObject, error) {
	n, err := h.Service.RedeliverDead(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.RedeliverDeadWebhooks200JSONResponse{Success: true, Scheduled: n}, nil
}
