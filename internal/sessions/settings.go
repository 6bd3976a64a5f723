package sessions

import (
	"context"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Settings is the session-settings service (PATCH /sessions/{id}) and the
// call policy the WhatsApp adapter asks when a call rings.
type Settings struct {
	store gateway.SessionSettingsStore
	// onProxyChange, when set, is called after a PATCH changed the proxy
	// (the WhatsApp adapter reconnects a running session through it).
	onProxyChange func(ctx context.Context, sid uuid.UUID) error
}

var (
	_ gateway.SessionSettingsService = (*Settings)(nil)
	_ gateway.CallPolicySource       = (*Settings)(nil)
	_ gateway.ProxySource            = (*Settings)(nil)
)

// NewSettings returns the settings service on store. onProxyChange (may be
// nil) is called after an update changed a session's proxy.
func NewSettings(store gateway.SessionSettingsStore, onProxyChange func(ctx context.Context, sid uuid.UUID) error) *Settings {
	return &Settings{store: store, onProxyChange: onProxyChange}
}

// UpdateSettings implements gateway.SessionSettingsService.
func (s *Settings) UpdateSettings(ctx context.Context, sid uuid.UUID, p gateway.SessionSettingsPatch) (gateway.SessionSettings, error) {
	if p.RejectCallsMessage != nil && utf8.RuneCountInString(*p.RejectCallsMessage) > gateway.MaxRejectCallsMessage {
		return gateway.SessionSettings{}, gateway.Errorf(gateway.CodeInvalid, "rejectCallsMessage must be at most %d characters", gateway.MaxRejectCallsMessage)
	}
	if p.Proxy != nil && *p.Proxy != "" {
		u, err := gateway.ParseProxyURL(*p.Proxy)
		if err != nil {
			return gateway.SessionSettings{}, err
		}
		norm := u.String()
		p.Proxy = &norm
	}
	var before string
	if p.Proxy != nil && s.onProxyChange != nil {
		old, err := s.store.GetSettings(ctx, sid)
		if err != nil {
			return gateway.SessionSettings{}, err
		}
		before = old.Proxy
	}
	st, err := s.store.UpdateSettings(ctx, sid, p)
	if err != nil {
		return st, err
	}
	if p.Proxy != nil && s.onProxyChange != nil && st.Proxy != before {
		if err := s.onProxyChange(ctx, sid); err != nil {
			return st, err
		}
	}
	return st, nil
}

// SessionProxy implements gateway.ProxySource.
func (s *Settings) SessionProxy(ctx context.Context, sid uuid.UUID) (string, error) {
	st, err := s.store.GetSettings(ctx, sid)
	return st.Proxy, err
}

// CallPolicy implements gateway.CallPolicySource.
func (s *Settings) CallPolicy(ctx context.Context, sid uuid.UUID) (bool, string, error) {
	st, err := s.store.GetSettings(ctx, sid)
	if err != nil {
		return false, "", err
	}
	text := ""
	if st.RejectCallsMessage != nil {
		text = *st.RejectCallsMessage
	}
	return st.RejectCalls, text, nil
}
