package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// CallControl is the simulated side of calls: contacts calling accounts
// and the calls' fate. Local and Remote implement it.
type CallControl interface {
	// OfferCall makes the contact from call the account to (phones).
	OfferCall(ctx context.Context, from, to string) (string, error)
	// CallState returns the call (found false when unknown).
	CallState(ctx context.Context, id string) (gateway.SandboxCall, bool, error)
}

var (
	_ CallControl          = Local{}
	_ CallControl          = (*Remote)(nil)
	_ gateway.SandboxCalls = (*Service)(nil)
)

// OfferCall implements CallControl.
func (l Local) OfferCall(_ context.Context, from, to string) (string, error) {
	return l.Sim.Contact(from).OfferCall(to)
}

// CallState implements CallControl.
func (l Local) CallState(_ context.Context, id string) (gateway.SandboxCall, bool, error) {
	c, ok := l.Sim.Call(id)
	if !ok {
		return gateway.SandboxCall{}, false, nil
	}
	out := gateway.SandboxCall{ID: c.ID, From: c.From.String(), To: c.To.String(), State: c.State}
	if !c.RejectedBy.IsEmpty() {
		by := c.RejectedBy.String()
		out.RejectedBy = &by
	}
	return out, true, nil
}

const callOpPrefix = ControlPrefix + "call/"

type callControlMsg struct {
	From  string               `json:"from,omitempty"`
	To    string               `json:"to,omitempty"`
	ID    string               `json:"id,omitempty"`
	Found bool                 `json:"found,omitempty"`
	Call  *gateway.SandboxCall `json:"call,omitempty"`
}

// serveCallControl serves the call operations of ControlHandler.
func serveCallControl(c Control, w http.ResponseWriter, r *http.Request) {
	cc, ok := c.(CallControl)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var req controlRequest // from, to; phone carries the call id
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp callControlMsg
	var err error
	switch strings.TrimPrefix(r.URL.Path, callOpPrefix) {
	case "offer":
		resp.ID, err = cc.OfferCall(r.Context(), req.From, req.To)
	case "state":
		var call gateway.SandboxCall
		call, resp.Found, err = cc.CallState(r.Context(), req.Phone)
		resp.Call = &call
	default:
		http.NotFound(w, r)
		return
	}
	writeOpResult(w, resp, err)
}

func (r *Remote) callOp(ctx context.Context, op string, req callControlMsg) (callControlMsg, error) {
	var resp callControlMsg
	raw, err := r.call(ctx, "call/"+op, controlRequest{From: req.From, To: req.To, Phone: req.ID})
	if err != nil {
		return resp, err
	}
	err = readOpResult(raw, &resp)
	return resp, err
}

// OfferCall implements CallControl.
func (r *Remote) OfferCall(ctx context.Context, from, to string) (string, error) {
	resp, err := r.callOp(ctx, "offer", callControlMsg{From: from, To: to})
	return resp.ID, err
}

// CallState implements CallControl.
func (r *Remote) CallState(ctx context.Context, id string) (gateway.SandboxCall, bool, error) {
	resp, err := r.callOp(ctx, "state", callControlMsg{ID: id})
	if err != nil || !resp.Found || resp.Call == nil {
		return gateway.SandboxCall{}, false, err
	}
	return *resp.Call, true, nil
}

// Call implements gateway.SandboxCalls.
func (s *Service) Call(ctx context.Context, id uuid.UUID, from string) (string, error) {
	to, err := s.accountPhone(id)
	if err != nil {
		return "", err
	}
	user, err := waid.ParseUser("from", from)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInvalid, "from must be a phone number or a user JID", err)
	}
	cc, ok := s.Control.(CallControl)
	if !ok {
		return "", gateway.E(gateway.CodeUnprocessable, "The simulator cannot place calls")
	}
	callID, err := cc.OfferCall(ctx, user.Phone(), to)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated contact could not call", err)
	}
	return callID, nil
}

// CallState implements gateway.SandboxCalls.
func (s *Service) CallState(ctx context.Context, callID string) (gateway.SandboxCall, error) {
	cc, ok := s.Control.(CallControl)
	if !ok {
		return gateway.SandboxCall{}, gateway.E(gateway.CodeNotFound, gateway.MsgCallNotFound)
	}
	c, found, err := cc.CallState(ctx, callID)
	if err != nil {
		return c, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	if !found {
		return c, gateway.E(gateway.CodeNotFound, gateway.MsgCallNotFound)
	}
	return c, nil
}

// writeOpResult answers an operation of the call and conversation groups:
// its message as JSON in Result, or its error.
func writeOpResult(w http.ResponseWriter, resp any, err error) {
	out := controlResponse{}
	if err != nil {
		out.Error = err.Error()
	} else {
		b, _ := json.Marshal(resp)
		out.Result = string(b)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// readOpResult decodes what writeOpResult put in Result into resp.
func readOpResult(raw controlResponse, resp any) error {
	if raw.Result == "" {
		return nil
	}
	return json.Unmarshal([]byte(raw.Result), resp)
}
