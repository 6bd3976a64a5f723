package httpapi

import (
	"bytes"
	"context"

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

// Sessions implements the sessions tag on the session service.
type Sessions struct {
	Service gateway.SessionService
	// Owners, when set, names the node that runs each session's client
	// (the node field of GET /sessions/{id} and /status).
	Owners gateway.OwnerResolver
}

// withNode sets the owning node of out, when one is known.
func (h *Sessions) withNode(ctx context.Context, out api.SessionStatus) api.SessionStatus {
	if h.Owners == nil {
		return out
	}
	if o, err := h.Owners.Owner(ctx, out.Id); err == nil && o.Node != "" {
		node := o.Node
		out.Node = &node
	}
	return out
}

// CreateSession stores a new session with a fresh session key (returned
// once), then starts it.
func (h *Sessions) CreateSession(ctx context.Context, req api.CreateSessionRequestObject) (api.CreateSessionResponseObject, error) {
	if req.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Request body is required")
	}
	in := gateway.SessionInput{Name: req.Body.Name, WebhookURL: req.Body.WebhookUrl, Proxy: req.Body.Proxy}
	if req.Body.Metadata != nil {
		in.Metadata = *req.Body.Metadata
	}
	created, err := h.Service.Create(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.CreateSession201JSONResponse{
		Success:  true,
		Session:  toAPISession(created.Session),
		ApiKey:   created.Key,
		Warning:  gateway.MsgSessionKeyWarning,
		Settings: toAPISessionSettings(created.Settings),
	}, nil
}

// ListSessions lists every session for admin keys and its own for a managed
// key.
func (h *Sessions) ListSessions(ctx context.Context, _ api.ListSessionsRequestObject) (api.ListSessionsResponseObject, error) {
	list, err := h.Service.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.SessionStatus, 0, len(list))
	for _, s := range list {
		out = append(out, toAPISessionStatus(s))
	}
	return api.ListSessions200JSONResponse{Success: true, Sessions: out}, nil
}

// GetSession returns one session with its live status.
func (h *Sessions) GetSession(ctx context.Context, req api.GetSessionRequestObject) (api.GetSessionResponseObject, error) {
	s, err := h.Service.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetSession200JSONResponse{Success: true, Session: h.withNode(ctx, toAPISessionStatus(s))}, nil
}

// GetSessionStatus returns the session's live status.
func (h *Sessions) GetSessionStatus(ctx context.Context, req api.GetSessionStatusRequestObject) (api.GetSessionStatusResponseObject, error) {
	s, err := h.Service.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetSessionStatus200JSONResponse{Success: true, Session: h.withNode(ctx, toAPISessionStatus(s))}, nil
}

// DeleteSession removes the WhatsApp side (logging out when linked), then
// the records.
func (h *Sessions) DeleteSession(ctx context.Context, req api.DeleteSessionRequestObject) (api.DeleteSessionResponseObject, error) {
	if err := h.Service.Delete(ctx, req.Id); err != nil {
		return nil, err
	}
	return api.DeleteSession200JSONResponse{Success: true, Message: MsgSessionDeleted}, nil
}

// actionAnswer is the answer of a session action.
func actionAnswer(s gateway.Session, err error, msg string) (api.SessionActionResponse, error) {
	if err != nil {
		return api.SessionActionResponse{}, err
	}
	return api.SessionActionResponse{Success: true, Message: msg, Session: toAPISessionStatus(s)}, nil
}

// StartSession connects the session.
func (h *Sessions) StartSession(ctx context.Context, req api.StartSessionRequestObject) (api.StartSessionResponseObject, error) {
	s, err := h.Service.Start(ctx, req.Id)
	r, err := actionAnswer(s, err, MsgSessionStarted)
	if err != nil {
		return nil, err
	}
	return api.StartSession200JSONResponse(r), nil
}

// StopSession disconnects the session and keeps the link.
func (h *Sessions) StopSession(ctx context.Context, req api.StopSessionRequestObject) (api.StopSessionResponseObject, error) {
	s, err := h.Service.Stop(ctx, req.Id)
	r, err := actionAnswer(s, err, MsgSessionStopped)
	if err != nil {
		return nil, err
	}
	return api.StopSession200JSONResponse(r), nil
}

// RestartSession stops then starts the session.
func (h *Sessions) RestartSession(ctx context.Context, req api.RestartSessionRequestObject) (api.RestartSessionResponseObject, error) {
	s, err := h.Service.Restart(ctx, req.Id)
	r, err := actionAnswer(s, err, MsgSessionRestarted)
	if err != nil {
		return nil, err
	}
	return api.RestartSession200JSONResponse(r), nil
}

// LogoutSession unlinks the device on WhatsApp.
func (h *Sessions) LogoutSession(ctx context.Context, req api.LogoutSessionRequestObject) (api.LogoutSessionResponseObject, error) {
	s, err := h.Service.Logout(ctx, req.Id)
	r, err := actionAnswer(s, err, MsgSessionLoggedOut)
	if err != nil {
		return nil, err
	}
	return api.LogoutSession200JSONResponse(r), nil
}

// GetSessionQR returns the current QR string, or a PNG of it with
// format=png (or Accept: image/png).
func (h *Sessions) GetSessionQR(ctx context.Context, req api.GetSessionQRRequestObject) (api.GetSessionQRResponseObject, error) {
	qr, err := h.Service.QR(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	png := acceptsPNG(ctx)
	if req.Params.Format != nil {
		png = *req.Params.Format == api.GetSessionQRParamsFormatPng
	}
	if png {
		png, err := qrcode.Encode(qr.Code, qrcode.Medium, 512)
		if err != nil {
			return nil, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
		}
		return api.GetSessionQR200ImagepngResponse{Body: bytes.NewReader(png), ContentLength: int64(len(png))}, nil
	}
	resp := api.GetSessionQR200JSONResponse{Success: true, Qr: qr.Code}
	if qr.State != "" {
		st := api.SessionState(qr.State)
		resp.State = &st
	}
	return resp, nil
}

// RequestPairCode asks WhatsApp for a pairing code for the phone number.
func (h *Sessions) RequestPairCode(ctx context.Context, req api.RequestPairCodeRequestObject) (api.RequestPairCodeResponseObject, error) {
	if req.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: phone: is required")
	}
	code, err := h.Service.PairCode(ctx, req.Id, req.Body.Phone)
	if err != nil {
		return nil, err
	}
	phone := req.Body.Phone
	return api.RequestPairCode200JSONResponse{Success: true, Code: code, Phone: &phone}, nil
}
