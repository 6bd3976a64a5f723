package httpapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Trial key presets (the product's "Trial" row): requests and session
// creations per key; messages and maxSessions come from the request.
const (
	trialGeneral  = 50
	trialSessions = 2
)

// MsgAPIKeyRevoked is the answer of DELETE /admin/api-keys/{keyId}.
const MsgAPIKeyRevoked = "API key revoked successfully"

// Admin implements the admin tag: managed API keys (admin keys only; the
// middleware enforces that).
type Admin struct {
	Keys     gateway.KeyStore
	Defaults RateLimits
	// Now is the clock for trial expiry (time.Now when nil).
	Now func() time.Time
}

func (h *Admin) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// create mints a raw key (wamk_ for admin keys, wask_ otherwise), stores k
// with its hash and returns the create answer with the raw key.
func (h *Admin) create(ctx context.Context, k gateway.APIKey) (api.CreateApiKeyResponse, error) {
	prefix := gateway.SessionKeyPrefix
	if k.IsAdmin {
		prefix = gateway.AdminKeyPrefix
	}
	raw, err := gateway.NewKey(prefix)
	if err != nil {
		return api.CreateApiKeyResponse{}, err
	}
	stored, err := h.Keys.CreateAPIKey(ctx, k, gateway.HashKey(raw))
	if err != nil {
		return api.CreateApiKeyResponse{}, err
	}
	out := toAPIKey(stored, h.Defaults)
	out.Key = &raw
	return api.CreateApiKeyResponse{Success: true, ApiKey: out, Warning: gateway.MsgAPIKeyWarning}, nil
}

// CreateApiKey creates a managed key with its own limits.
func (h *Admin) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	b := req.Body
	if b == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: is required")
	}
	k := gateway.APIKey{
		Name:        strings.TrimSpace(b.Name),
		Type:        "standard",
		Limits:      gateway.Limits{General: b.RateLimitGeneral, Messages: b.RateLimitMessages, Sessions: b.RateLimitSessions},
		MaxSessions: b.MaxSessions,
	}
	if k.Name == "" {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: must not be blank")
	}
	if b.Type != nil && *b.Type != "" {
		k.Type = *b.Type
	}
	if b.IsAdmin != nil {
		k.IsAdmin = *b.IsAdmin
	}
	if b.Metadata != nil {
		k.Metadata = *b.Metadata
	}
	out, err := h.create(ctx, k)
	if err != nil {
		return nil, err
	}
	return api.CreateApiKey201JSONResponse(out), nil
}

// CreateTrialApiKey creates a key that expires after trialDays and may only
// message allowedNumbers.
func (h *Admin) CreateTrialApiKey(ctx context.Context, req api.CreateTrialApiKeyRequestObject) (api.CreateTrialApiKeyResponseObject, error) {
	b := req.Body
	if b == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: is required")
	}
	name := strings.TrimSpace(b.Name)
	if name == "" {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: name: must not be blank")
	}
	messages := 10
	if b.RateLimitMessages != nil {
		messages = *b.RateLimitMessages
	}
	maxSessions := 1
	if b.MaxSessions != nil {
		maxSessions = *b.MaxSessions
	}
	general, sessions := trialGeneral, trialSessions
	expires := h.now().Add(time.Duration(b.TrialDays) * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	nums := make([]string, 0, len(b.AllowedNumbers))
	for i, n := range b.AllowedNumbers {
		digits, err := waid.ParsePhone(fmt.Sprintf("allowedNumbers[%d]", i), n)
		if err != nil {
			return nil, err
		}
		nums = append(nums, digits)
	}
	out, err := h.create(ctx, gateway.APIKey{
		Name:           name,
		Type:           "trial",
		Limits:         gateway.Limits{General: &general, Messages: &messages, Sessions: &sessions},
		MaxSessions:    &maxSessions,
		ExpiresAt:      &expires,
		AllowedNumbers: nums,
	})
	if err != nil {
		return nil, err
	}
	return api.CreateTrialApiKey201JSONResponse(out), nil
}

// ListApiKeys lists the managed keys that are not revoked (never raw keys).
func (h *Admin) ListApiKeys(ctx context.Context, _ api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	keys, err := h.Keys.ListAPIKeys(ctx)
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
	if err := h.Keys.RevokeAPIKey(ctx, req.KeyId); err != nil {
		return nil, err
	}
	return api.RevokeApiKey200JSONResponse{Success: true, Message: MsgAPIKeyRevoked}, nil
}
