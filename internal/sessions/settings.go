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
}

var (
	_ gateway.SessionSettingsService = (*Settings)(nil)
	_ gateway.CallPolicySource       = (*Settings)(nil)
)

// NewSettings returns the settings service on store.
func NewSettings(store gateway.SessionSettingsStore) *Settings { return &Settings{store: store} }

// UpdateSettings implements gateway.SessionSettingsService.
func (s *Settings) UpdateSettings(ctx context.Context, sid uuid.UUID, p gateway.SessionSettingsPatch) (gateway.SessionSettings, error) {
	if p.RejectCallsMessage != nil && utf8.RuneCountInString(*p.RejectCallsMessage) > gateway.MaxRejectCallsMessage {
		return gateway.SessionSettings{}, gateway.Errorf(gateway.CodeInvalid, "rejectCallsMessage must be at most %d characters", gateway.MaxRejectCallsMessage)
	}
	return s.store.UpdateSettings(ctx, sid, p)
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
