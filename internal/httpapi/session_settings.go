package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// SessionSettings implements updateSessionSettings (sessions tag) on the
// session-settings service.
type SessionSettings struct {
	Service gateway.SessionSettingsService
}

// UpdateSessionSettings changes a session's settings.
func (h *SessionSettings) UpdateSessionSettings(ctx context.Context, r api.UpdateSessionSettingsRequestObject) (api.UpdateSessionSettingsResponseObject, error) {
	if h.Service == nil {
		return nil, gateway.E(gateway.CodeUnavailable, "Session settings are not available on this server")
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	st, err := h.Service.UpdateSettings(ctx, r.Id, gateway.SessionSettingsPatch{
		RejectCalls: r.Body.RejectCalls, RejectCallsMessage: r.Body.RejectCallsMessage, Proxy: r.Body.Proxy,
	})
	if err != nil {
		return nil, err
	}
	return api.UpdateSessionSettings200JSONResponse{Success: true, Settings: toAPISessionSettings(st)}, nil
}

// toAPISessionSettings is the settings answer, the proxy's password masked.
func toAPISessionSettings(st gateway.SessionSettings) api.SessionSettings {
	var proxy *string
	if st.Proxy != "" {
		masked := gateway.MaskProxyURL(st.Proxy) // the password never leaves the server
		proxy = &masked
	}
	return api.SessionSettings{RejectCalls: st.RejectCalls, RejectCallsMessage: st.RejectCallsMessage, Proxy: proxy}
}
