package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// MsgAPIKeyRevoked is the answer of DELETE /admin/api-keys/{keyId}.
const MsgAPIKeyRevoked = "API key revoked successfully"

// Admin implements the admin tag (managed API keys; the middleware lets
// admin keys only in) on the key service.
type Admin struct {
	Service gateway.KeyService
	// Defaults are the server's limits, shown for a key's limits that are
	// not its own.
	Defaults RateLimits
}

// created is the create answer with the raw key.
func (h *Admin) created(k gateway.CreatedAPIKey) api.CreateApiKeyResponse {
	out := toAPIKey(k.Key, h.Defaults)
	out.Key = &k.Raw
	return api.CreateApiKeyResponse{Success: true, ApiKey: out, Warning: gateway.MsgAPIKeyWarning}
}

// CreateApiKey creates a managed key with its own limits.
func (h *Admin) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	b := req.Body
	if b == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: is required")
	}
	in := gateway.APIKeyInput{
		Name:        b.Name,
		Limits:      gateway.Limits{General: b.RateLimitGeneral, Messages: b.RateLimitMessages, Sessions: b.RateLimitSessions},
		MaxSessions: b.MaxSessions,
	}
	if b.Type != nil {
		in.Type = *b.Type
	}
	if b.IsAdmin != nil {
		in.IsAdmin = *b.IsAdmin
	}
	if b.Metadata != nil {
		in.Metadata = *b.Metadata
	}
	k, err := h.Service.CreateKey(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.CreateApiKey201JSONResponse(h.created(k)), nil
}

// CreateTrialApiKey creates a key that expires after trialDays and may only
// message allowedNumbers.
func (h *Admin) CreateTrialApiKey(ctx context.Context, req api.CreateTrialApiKeyRequestObject) (api.CreateTrialApiKeyResponseObject, error) {
	b := req.Body
	if b == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: is required")
	}
	k, err := h.Service.CreateTrialKey(ctx, gateway.TrialKeyInput{
		Name: b.Name, TrialDays: b.TrialDays, AllowedNumbers: b.AllowedNumbers,
		Messages: b.RateLimitMessages, MaxSessions: b.MaxSessions,
	})
	if err != nil {
		return nil, err
	}
	return api.CreateTrialApiKey201JSONResponse(h.created(k)), nil
}

// ListApiKeys lists the managed keys that are not revoked (never raw keys).
func (h *Admin) ListApiKeys(ctx context.Context, _ api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	keys, err := h.Service.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.ApiKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, toAPIKey(k, h.Defaults))
	}
	return api.ListApiKeys200JSONResponse{Success: true, ApiKeys: out}, nil
}

// RevokeApiKey revokes a managed key; sessions it created stay.
func (h *Admin) RevokeApiKey(ctx context.Context, req api.RevokeApiKeyRequestObject) (api.RevokeApiKeyResponseObject, error) {
	if err := h.Service.RevokeKey(ctx, req.KeyId); err != nil {
		return nil, err
	}
	return api.RevokeApiKey200JSONResponse{Success: true, Message: MsgAPIKeyRevoked}, nil
}
