package httpapi

import (
	"bytes"
	"context"
	"net/url"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Texts of session actions.
const (
	MsgSessionDeleted   = "Session deleted successfully"
	MsgSessionStarted   = "Session started"
	MsgSessionStopped   = "Session stopped"
	MsgSessionRestarted = "Session restarted"
	MsgSessionLoggedOut = "Session logged out"
)

// Sessions implements the sessions tag: records in Store, the WhatsApp side
// through Runtime.
type Sessions struct {
	Store   gateway.SessionStore
	Runtime gateway.SessionRuntime
	// CheckWebhookURL, when set, vets a webhookUrl at creation (the
	// webhook package's Guard: no private addresses unless allowed). Its
	// error is the answer.
	CheckWebhookURL func(ctx context.Context, url string) error
}

// CreateSession stores a new session with a fresh session key (returned
// once), then starts it.
func (h *Sessions) CreateSession(ctx context.Context, req api.CreateSessionRequestObject) (api.CreateSessionResponseObject, error) {
	p := gateway.PrincipalFrom(ctx)
	if p == nil || req.Body == nil {
		return nil, gateway.E(gateway.CodeInternal, gateway.MsgInternal)
	}
	if req.Body.WebhookUrl != nil {
		if u, err := url.Parse(*req.Body.WebhookUrl); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: webhookUrl: must be an http or https URL")
		}
		if h.CheckWebhookURL != nil {
			if err := h.CheckWebhookURL(ctx, *req.Body.WebhookUrl); err != nil {
				return nil, err
			}
		}
	}
	key, err := gateway.NewKey(gateway.SessionKeyPrefix)
	if err != nil {
		return nil, err
	}
	n := gateway.NewSession{Name: req.Body.Name, WebhookURL: req.Body.WebhookUrl, KeyHash: gateway.HashKey(key)}
	if req.Body.Metadata != nil {
		n.Metadata = *req.Body.Metadata
	}
	if p.Kind == gateway.KindManaged {
		owner := p.KeyID
		n.OwnerKeyID = &owner
		if p.MaxSessions != nil {
			n.MaxSessions = *p.MaxSessions
		}
	}
	s, err := h.Store.CreateSession(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := h.Runtime.Start(ctx, s.ID); err != nil && gateway.ErrorCode(err) != gateway.CodeNotImplemented {
		// The session exists; its state tells the client what happened.
		zerolog.Ctx(ctx).Warn().Err(err).Str("session_id", s.ID.String()).Msg("start new session")
	}
	return api.CreateSession201JSONResponse{
		Success: true,
		Session: toAPISession(s),
		ApiKey:  key,
		Warning: gateway.MsgSessionKeyWarning,
	}, nil
}

// ListSessions lists every session for admin keys and its own for a managed
// key.
func (h *Sessions) ListSessions(ctx context.Context, _ api.ListSessionsRequestObject) (api.ListSessionsResponseObject, error) {
	p := gateway.PrincipalFrom(ctx)
	if p == nil {
		return nil, gateway.E(gateway.CodeInternal, gateway.MsgInternal)
	}
	var owner *string
	if !p.IsAdmin {
		id := p.KeyID
		owner = &id
	}
	list, err := h.Store.ListSessions(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]api.SessionStatus, 0, len(list))
	for _, s := range list {
		out = append(out, toAPISessionStatus(s))
	}
	return api.ListSessions200JSONResponse{Success: true, Sessions: out}, nil
}

// session returns the session the auth middleware loaded, or loads it.
func (h *Sessions) session(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	if s, ok := sessionFrom(ctx); ok && s.ID == id {
		return s, nil
	}
	return h.Store.GetSession(ctx, id)
}

// GetSession returns one session with its live status.
func (h *Sessions) GetSession(ctx context.Context, req api.GetSessionRequestObject) (api.GetSessionResponseObject, error) {
	s, err := h.Store.GetSession(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetSession200JSONResponse{Success: true, Session: toAPISessionStatus(s)}, nil
}

// GetSessionStatus returns the session's live status.
func (h *Sessions) GetSessionStatus(ctx context.Context, req api.GetSessionStatusRequestObject) (api.GetSessionStatusResponseObject, error) {
	s, err := h.Store.GetSession(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetSessionStatus200JSONResponse{Success: true, Session: toAPISessionStatus(s)}, nil
}

// DeleteSession removes the WhatsApp side (logging out when linked), then
// the records.
func (h *Sessions) DeleteSession(ctx context.Context, req api.DeleteSessionRequestObject) (api.DeleteSessionResponseObject, error) {
	if err := h.Runtime.Remove(ctx, req.Id); err != nil {
		return nil, err
	}
	if err := h.Store.DeleteSession(ctx, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteSession200JSONResponse{Success: true, Message: MsgSessionDeleted}, nil
}

// action runs fn on the runtime and answers with the fresh status.
func (h *Sessions) action(ctx context.Context, id uuid.UUID, fn func(context.Context, uuid.UUID) error, msg string) (api.SessionActionResponse, error) {
	if err := fn(ctx, id); err != nil {
		return api.SessionActionResponse{}, err
	}
	s, err := h.Store.GetSession(ctx, id)
	if err != nil {
		return api.SessionActionResponse{}, err
	}
	return api.SessionActionResponse{Success: true, Message: msg, Session: toAPISessionStatus(s)}, nil
}

// StartSession connects the session.
func (h *Sessions) StartSession(ctx context.Context, req api.StartSessionRequestObject) (api.StartSessionResponseObject, error) {
	r, err := h.action(ctx, req.Id, h.Runtime.Start, MsgSessionStarted)
	if err != nil {
		return nil, err
	}
	return api.StartSession200JSONResponse(r), nil
}

// StopSession disconnects the session and keeps the link.
func (h *Sessions) StopSession(ctx context.Context, req api.StopSessionRequestObject) (api.StopSessionResponseObject, error) {
	r, err := h.action(ctx, req.Id, h.Runtime.Stop, MsgSessionStopped)
	if err != nil {
		return nil, err
	}
	return api.StopSession200JSONResponse(r), nil
}

// RestartSession stops then starts the session.
func (h *Sessions) RestartSession(ctx context.Context, req api.RestartSessionRequestObject) (api.RestartSessionResponseObject, error) {
	restart := func(ctx context.Context, id uuid.UUID) error {
		if err := h.Runtime.Stop(ctx, id); err != nil {
			return err
		}
		return h.Runtime.Start(ctx, id)
	}
	r, err := h.action(ctx, req.Id, restart, MsgSessionRestarted)
	if err != nil {
		return nil, err
	}
	return api.RestartSession200JSONResponse(r), nil
}

// LogoutSession unlinks the device on WhatsApp.
func (h *Sessions) LogoutSession(ctx context.Context, req api.LogoutSessionRequestObject) (api.LogoutSessionResponseObject, error) {
	r, err := h.action(ctx, req.Id, h.Runtime.Logout, MsgSessionLoggedOut)
	if err != nil {
		return nil, err
	}
	return api.LogoutSession200JSONResponse(r), nil
}

// GetSessionQR returns the current QR string, or a PNG of it with
// format=png.
func (h *Sessions) GetSessionQR(ctx context.Context, req api.GetSessionQRRequestObject) (api.GetSessionQRResponseObject, error) {
	qr, err := h.Runtime.QR(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	png := acceptsPNG(ctx)
	if req.Params.Format != nil {
		png = *req.Params.Format == api.GetSessionQRParamsFormatPng
	}
	if png {
		png, err := qrcode.Encode(qr, qrcode.Medium, 512)
		if err != nil {
			return nil, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
		}
		return api.GetSessionQR200ImagepngResponse{Body: bytes.NewReader(png), ContentLength: int64(len(png))}, nil
	}
	resp := api.GetSessionQR200JSONResponse{Success: true, Qr: qr}
	if s, err := h.session(ctx, req.Id); err == nil {
		st := api.SessionState(s.State)
		resp.State = &st
	}
	return resp, nil
}

// RequestPairCode asks WhatsApp for a pairing code for the phone number.
func (h *Sessions) RequestPairCode(ctx context.Context, req api.RequestPairCodeRequestObject) (api.RequestPairCodeResponseObject, error) {
	if req.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: phone: is required")
	}
	code, err := h.Runtime.PairCode(ctx, req.Id, req.Body.Phone)
	if err != nil {
		return nil, err
	}
	phone := req.Body.Phone
	return api.RequestPairCode200JSONResponse{Success: true, Code: code, Phone: &phone}, nil
}
