// Package sessions is the domain service behind the sessions and admin
// tags: session records with their keys (gateway.SessionStore), the
// WhatsApp side of sessions (gateway.SessionRuntime), and managed and
// trial API keys (gateway.KeyStore). It decides what a request may do
// (key generation, webhookUrl checks, the managed key's maxSessions,
// starting a new session) so that the HTTP handlers only decode, call one
// method and encode. It depends on internal/gateway only.
package sessions

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Options configure a Service.
type Options struct {
	// CheckWebhookURL vets a session's webhookUrl at creation (the webhook
	// guard: no private addresses unless allowed); its error is the
	// answer. Nil accepts every http(s) URL.
	CheckWebhookURL func(ctx context.Context, url string) error
	// Now is the clock of trial expiry. Defaults to time.Now.
	Now func() time.Time
}

// Service implements gateway.SessionService and gateway.KeyService.
type Service struct {
	store   gateway.SessionStore
	keys    gateway.KeyStore
	runtime gateway.SessionRuntime
	opts    Options
}

var (
	_ gateway.SessionService = (*Service)(nil)
	_ gateway.KeyService     = (*Service)(nil)
)

// New returns a Service.
func New(store gateway.SessionStore, keys gateway.KeyStore, runtime gateway.SessionRuntime, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: store, keys: keys, runtime: runtime, opts: o}
}

// principal is the caller the HTTP layer authenticated.
func principal(ctx context.Context) (*gateway.Principal, error) {
	p := gateway.PrincipalFrom(ctx)
	if p == nil {
		return nil, gateway.Errorf(gateway.CodeInternal, "no principal in the context")
	}
	return p, nil
}

// MsgInvalidWebhookURL is the answer to a session webhookUrl that is not an
// absolute http(s) URL.
const MsgInvalidWebhookURL = "Invalid request body: webhookUrl: must be an http or https URL"

// Create implements gateway.SessionService.
func (s *Service) Create(ctx context.Context, in gateway.SessionInput) (gateway.CreatedSession, error) {
	p, err := principal(ctx)
	if err != nil {
		return gateway.CreatedSession{}, err
	}
	if in.WebhookURL != nil {
		if u, err := url.Parse(*in.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return gateway.CreatedSession{}, gateway.E(gateway.CodeInvalid, MsgInvalidWebhookURL)
		}
		if s.opts.CheckWebhookURL != nil {
			if err := s.opts.CheckWebhookURL(ctx, *in.WebhookURL); err != nil {
				return gateway.CreatedSession{}, err
			}
		}
	}
	var proxyURL string
	if in.Proxy != nil && *in.Proxy != "" {
		u, err := gateway.ParseProxyURL(*in.Proxy)
		if err != nil {
			return gateway.CreatedSession{}, err
		}
		proxyURL = u.String()
	}
	key, err := gateway.NewKey(gateway.SessionKeyPrefix)
	if err != nil {
		return gateway.CreatedSession{}, err
	}
	n := gateway.NewSession{Name: in.Name, WebhookURL: in.WebhookURL, Metadata: in.Metadata, KeyHash: gateway.HashKey(key), ProxyURL: proxyURL}
	if p.Kind == gateway.KindManaged {
		owner := p.KeyID
		n.OwnerKeyID = &owner
		if p.MaxSessions != nil {
			n.MaxSessions = *p.MaxSessions
		}
	}
	created, err := s.store.CreateSession(ctx, n)
	if err != nil {
		return gateway.CreatedSession{}, err
	}
	if err := s.runtime.Start(ctx, created.ID); err != nil {
		// The session exists; its state tells the client what happened.
		zerolog.Ctx(ctx).Warn().Err(err).Str("session_id", created.ID.String()).Msg("start new session")
	}
	return gateway.CreatedSession{Session: created, Key: key, Settings: gateway.SessionSettings{Proxy: proxyURL}}, nil
}

// List implements gateway.SessionService.
func (s *Service) List(ctx context.Context) ([]gateway.Session, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var owner *string
	if !p.IsAdmin {
		id := p.KeyID
		owner = &id
	}
	return s.store.ListSessions(ctx, owner)
}

// Get implements gateway.SessionService.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	return s.store.GetSession(ctx, id)
}

// Delete implements gateway.SessionService.
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	if err := s.runtime.Remove(ctx, id); err != nil {
		return err
	}
	return s.store.DeleteSession(ctx, id)
}

// act runs fn on the runtime and returns the fresh status.
func (s *Service) act(ctx context.Context, id uuid.UUID, fn func(context.Context, uuid.UUID) error) (gateway.Session, error) {
	if err := fn(ctx, id); err != nil {
		return gateway.Session{}, err
	}
	return s.store.GetSession(ctx, id)
}

// Start implements gateway.SessionService.
func (s *Service) Start(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	return s.act(ctx, id, s.runtime.Start)
}

// Stop implements gateway.SessionService.
func (s *Service) Stop(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	return s.act(ctx, id, s.runtime.Stop)
}

// Restart implements gateway.SessionService: stop, then start.
func (s *Service) Restart(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	return s.act(ctx, id, func(ctx context.Context, id uuid.UUID) error {
		if err := s.runtime.Stop(ctx, id); err != nil {
			return err
		}
		return s.runtime.Start(ctx, id)
	})
}

// Logout implements gateway.SessionService.
func (s *Service) Logout(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	return s.act(ctx, id, s.runtime.Logout)
}

// QR implements gateway.SessionService. The state is left empty when the
// session cannot be read right after (the code is still worth answering).
func (s *Service) QR(ctx context.Context, id uuid.UUID) (gateway.SessionQR, error) {
	code, err := s.runtime.QR(ctx, id)
	if err != nil {
		return gateway.SessionQR{}, err
	}
	out := gateway.SessionQR{Code: code}
	if sess, err := s.store.GetSession(ctx, id); err == nil {
		out.State = sess.State
	}
	return out, nil
}

// PairCode implements gateway.SessionService.
func (s *Service) PairCode(ctx context.Context, id uuid.UUID, phone string) (string, error) {
	return s.runtime.PairCode(ctx, id, phone)
}

// MsgNameBlank is the answer to a key name of only spaces.
const MsgNameBlank = "Invalid request body: name: must not be blank"

// CreateKey implements gateway.KeyService.
func (s *Service) CreateKey(ctx context.Context, in gateway.APIKeyInput) (gateway.CreatedAPIKey, error) {
	k := gateway.APIKey{
		Name: strings.TrimSpace(in.Name), Type: in.Type, IsAdmin: in.IsAdmin,
		Limits: in.Limits, MaxSessions: in.MaxSessions, Metadata: in.Metadata,
	}
	if k.Name == "" {
		return gateway.CreatedAPIKey{}, gateway.E(gateway.CodeInvalid, MsgNameBlank)
	}
	if k.Type == "" {
		k.Type = "standard"
	}
	return s.createKey(ctx, k)
}

// CreateTrialKey implements gateway.KeyService with the trial presets
// (gateway.TrialGeneral requests per minute, gateway.TrialSessions
// creations per hour).
func (s *Service) CreateTrialKey(ctx context.Context, in gateway.TrialKeyInput) (gateway.CreatedAPIKey, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return gateway.CreatedAPIKey{}, gateway.E(gateway.CodeInvalid, MsgNameBlank)
	}
	messages, maxSessions := gateway.TrialMessages, gateway.TrialMaxSessions
	if in.Messages != nil {
		messages = *in.Messages
	}
	if in.MaxSessions != nil {
		maxSessions = *in.MaxSessions
	}
	general, sessions := gateway.TrialGeneral, gateway.TrialSessions
	expires := s.opts.Now().Add(time.Duration(in.TrialDays) * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	nums := make([]string, 0, len(in.AllowedNumbers))
	for i, n := range in.AllowedNumbers {
		digits, err := waid.ParsePhone(fmt.Sprintf("allowedNumbers[%d]", i), n)
		if err != nil {
			return gateway.CreatedAPIKey{}, err
		}
		nums = append(nums, digits)
	}
	return s.createKey(ctx, gateway.APIKey{
		Name:           name,
		Type:           "trial",
		Limits:         gateway.Limits{General: &general, Messages: &messages, Sessions: &sessions},
		MaxSessions:    &maxSessions,
		ExpiresAt:      &expires,
		AllowedNumbers: nums,
	})
}

// createKey mints a raw key (wamk_ for admin keys, wask_ otherwise) and
// stores k with its hash.
func (s *Service) createKey(ctx context.Context, k gateway.APIKey) (gateway.CreatedAPIKey, error) {
	prefix := gateway.SessionKeyPrefix
	if k.IsAdmin {
		prefix = gateway.AdminKeyPrefix
	}
	raw, err := gateway.NewKey(prefix)
	if err != nil {
		return gateway.CreatedAPIKey{}, err
	}
	stored, err := s.keys.CreateAPIKey(ctx, k, gateway.HashKey(raw))
	if err != nil {
		return gateway.CreatedAPIKey{}, err
	}
	return gateway.CreatedAPIKey{Key: stored, Raw: raw}, nil
}

// ListKeys implements gateway.KeyService.
func (s *Service) ListKeys(ctx context.Context) ([]gateway.APIKey, error) {
	return s.keys.ListAPIKeys(ctx)
}

// RevokeKey implements gateway.KeyService.
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	return s.keys.RevokeAPIKey(ctx, id)
}
