package httpapi

import (
	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

func metadataPtr(m map[string]any) *api.Metadata {
	if m == nil {
		return nil
	}
	md := api.Metadata(m)
	return &md
}

func toAPISession(s gateway.Session) api.Session {
	return api.Session{
		Id:         s.ID,
		Name:       s.Name,
		State:      api.SessionState(s.State),
		CreatedAt:  s.CreatedAt.UTC(),
		WebhookUrl: s.WebhookURL,
		Metadata:   metadataPtr(s.Metadata),
	}
}

func toAPISessionStatus(s gateway.Session) api.SessionStatus {
	out := api.SessionStatus{
		Id:          s.ID,
		Name:        s.Name,
		State:       api.SessionState(s.State),
		CreatedAt:   s.CreatedAt.UTC(),
		WebhookUrl:  s.WebhookURL,
		Metadata:    metadataPtr(s.Metadata),
		Jid:         s.JID,
		Phone:       s.Phone,
		PushName:    s.PushName,
		ConnectedAt: s.ConnectedAt,
		LastSeenAt:  s.LastSeenAt,
		LastError:   s.LastError,
	}
	return out
}

func toAPIKey(k gateway.APIKey, d RateLimits) api.ApiKey {
	out := api.ApiKey{
		Id:      k.ID,
		Name:    k.Name,
		Type:    k.Type,
		IsAdmin: k.IsAdmin,
		RateLimits: api.RateLimits{
			General:  pick(k.Limits.General, d.General),
			Messages: pick(k.Limits.Messages, d.Messages),
			Sessions: pick(k.Limits.Sessions, d.Sessions),
		},
		MaxSessions: k.MaxSessions,
		ExpiresAt:   k.ExpiresAt,
		Metadata:    metadataPtr(k.Metadata),
		CreatedAt:   k.CreatedAt.UTC(),
	}
	if len(k.AllowedNumbers) > 0 {
		nums := append([]string(nil), k.AllowedNumbers...)
		out.AllowedNumbers = &nums
	}
	return out
}
