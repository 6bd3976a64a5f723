package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
)

// Webhooks implements the webhooks tag. Every operation answers 501 until
// the webhook service is plugged in: replace this file with handlers that take
// their dependencies as internal/gateway interfaces.
type Webhooks struct{}

// ListWebhooks answers 501 Not Implemented (planned).
func (*Webhooks) ListWebhooks(context.Context, api.ListWebhooksRequestObject) (api.ListWebhooksResponseObject, error) {
	return nil, errNotImplemented
}

// CreateWebhook answers 501 Not Implemented (planned).
func (*Webhooks) CreateWebhook(context.Context, api.CreateWebhookRequestObject) (api.CreateWebhookResponseObject, error) {
	return nil, errNotImplemented
}

// UpdateWebhook answers 501 Not Implemented (planned).
func (*Webhooks) UpdateWebhook(context.Context, api.UpdateWebhookRequestObject) (api.UpdateWebhookResponseObject, error) {
	return nil, errNotImplemented
}

// DeleteWebhook answers 501 Not Implemented (planned).
func (*Webhooks) DeleteWebhook(context.Context, api.DeleteWebhookRequestObject) (api.DeleteWebhookResponseObject, error) {
	return nil, errNotImplemented
}

// RotateWebhookSecret answers 501 Not Implemented (planned).
func (*Webhooks) RotateWebhookSecret(context.Context, api.RotateWebhookSecretRequestObject) (api.RotateWebhookSecretResponseObject, error) {
	return nil, errNotImplemented
}

// TestWebhook answers 501 Not Implemented (planned).
func (*Webhooks) TestWebhook(context.Context, api.TestWebhookRequestObject) (api.TestWebhookResponseObject, error) {
	return nil, errNotImplemented
}

// ListWebhookDeliveries answers 501 Not Implemented (planned).
func (*Webhooks) ListWebhookDeliveries(context.Context, api.ListWebhookDeliveriesRequestObject) (api.ListWebhookDeliveriesResponseObject, error) {
	return nil, errNotImplemented
}

// RedeliverWebhook answers 501 Not Implemented (planned).
func (*Webhooks) RedeliverWebhook(context.Context, api.RedeliverWebhookRequestObject) (api.RedeliverWebhookResponseObject, error) {
	return nil, errNotImplemented
}

// RedeliverDeadWebhooks answers 501 Not Implemented (planned).
func (*Webhooks) RedeliverDeadWebhooks(context.Context, api.RedeliverDeadWebhooksRequestObject) (api.RedeliverDeadWebhooksResponseObject, error) {
	return nil, errNotImplemented
}
