package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// Local implements Control on a simulator in this process.
type Local struct{ Sim *wasim.Server }

var (
	_ Control = Local{}
	_ Control = (*Remote)(nil)
)

// ScanQR implements Control.
func (l Local) ScanQR(ctx context.Context, phone, qr string) (string, error) {
	jid, err := l.Sim.Phone(phone).ScanQR(ctx, qr)
	return jid.String(), err
}

// EnterCode implements Control.
func (l Local) EnterCode(ctx context.Context, phone, code string) (string, error) {
	jid, err := l.Sim.Phone(phone).EnterCode(ctx, code)
	return jid.String(), err
}

// SendText implements Control.
func (l Local) SendText(ctx context.Context, from, to, text string) (string, error) {
	return l.Sim.Contact(from).SendText(ctx, to, text)
}

// SendHistory implements Control.
func (l Local) SendHistory(ctx context.Context, phone string, msgs []gateway.SandboxHistoryMessage) error {
	hm := make([]wasim.HistoryMessage, len(msgs))
	for i, m := range msgs {
		hm[i] = wasim.HistoryMessage{Chat: m.Chat, FromMe: m.FromMe, Text: m.Text, ID: m.ID, Timestamp: m.Timestamp}
	}
	return l.Sim.Phone(phone).SendHistory(ctx, hm)
}

// PhoneView implements Control.
func (l Local) PhoneView(_ context.Context, phone string) (gateway.SandboxPhoneView, error) {
	v := l.Sim.Phone(phone).View()
	out := gateway.SandboxPhoneView{Chats: []gateway.SandboxChat{}, Starred: []gateway.SandboxStarred{}}
	for jid, c := range v.Chats {
		out.Chats = append(out.Chats, gateway.SandboxChat{JID: jid, Archived: c.Archived, MarkedUnread: c.MarkedUnread, Deleted: c.Deleted, Pinned: c.Pinned})
	}
	sort.Slice(out.Chats, func(i, j int) bool { return out.Chats[i].JID < out.Chats[j].JID })
	for _, s := range v.Starred {
		out.Starred = append(out.Starred, gateway.SandboxStarred{Chat: s.Chat, ID: s.ID, FromMe: s.FromMe})
	}
	return out, nil
}

// Device implements Control.
func (l Local) Device(_ context.Context, phone string) (gateway.SandboxDevice, error) {
	conns, replaced, ok := l.Sim.DeviceConnections(phone)
	if !ok {
		return gateway.SandboxDevice{}, fmt.Errorf("no device of %s is linked", phone)
	}
	return gateway.SandboxDevice{Connections: conns, Replaced: replaced}, nil
}

// ContactMessages implements Control.
func (l Local) ContactMessages(_ context.Context, phone string) ([]gateway.SandboxReceived, error) {
	out := []gateway.SandboxReceived{}
	for _, r := range l.Sim.Contact(phone).Received() {
		kind := r.Kind
		switch kind {
		case wasim.KindText, wasim.KindEdit, wasim.KindRevoke, wasim.KindReaction, wasim.KindPin, wasim.KindUnpin, wasim.KindImage,
			wasim.KindVideo, wasim.KindAudio, wasim.KindDocument, wasim.KindSticker, wasim.KindLocation, wasim.KindContact,
			wasim.KindPoll, wasim.KindPollVote:
		default:
			kind = wasim.KindOther
		}
		m := gateway.SandboxReceived{
			ID: r.ID, From: r.From, Kind: kind, Text: r.Text, TargetID: r.TargetID, Chat: groupChat(r.Chat),
			PinDurationSeconds: int(r.PinDurationSeconds), Timestamp: r.Timestamp,
		}
		m.SandboxReceivedKind = receivedKind(r)
		if kind == wasim.KindReaction {
			emoji := r.Emoji // "" for a removed reaction
			m.Emoji = &emoji
		}
		out = append(out, m)
	}
	return out, nil
}

// controlRequest is the body of every control call; fields by operation.
type controlRequest struct {
	Phone string                          `json:"phone,omitempty"`
	QR    string                          `json:"qr,omitempty"`
	Code  string                          `json:"code,omitempty"`
	From  string                          `json:"from,omitempty"`
	To    string                          `json:"to,omitempty"`
	Text  string                          `json:"text,omitempty"`
	Msgs  []gateway.SandboxHistoryMessage `json:"messages,omitempty"`
	Kind  string                          `json:"kind,omitempty"`
	// Inbound is the message of "inbound" (inbound.go); "poll" names the
	// poll in Kind.
	Inbound *gateway.SandboxInboundMessage `json:"inbound,omitempty"`
	// MessageID and PhoneOffline: expire-media.
	MessageID    string `json:"messageId,omitempty"`
	PhoneOffline *bool  `json:"phoneOffline,omitempty"`
}

type controlResponse struct {
	Error    string                    `json:"error,omitempty"`
	Result   string                    `json:"result,omitempty"`
	View     *gateway.SandboxPhoneView `json:"view,omitempty"`
	Received []gateway.SandboxReceived `json:"received,omitempty"`
	Options  []string                  `json:"options,omitempty"` // "poll"
	Known    bool                      `json:"known,omitempty"`   // "poll"
	Device   *gateway.SandboxDevice    `json:"device,omitempty"`
}

// ControlPrefix is where ControlHandler expects to be mounted.
const ControlPrefix = "/_wagate/sandbox/"

// ControlHandler serves c as a small JSON API (POST ControlPrefix+op) for
// Remote: `wagate simulator` mounts it next to the websocket endpoint.
func ControlHandler(c Control) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.URL.Path, groupOpPrefix) {
			serveGroupControl(c, w, r) // groups.go
			return
		}
		if strings.HasPrefix(r.URL.Path, callOpPrefix) {
			serveCallControl(c, w, r) // calls.go
			return
		}
		if strings.HasPrefix(r.URL.Path, convOpPrefix) {
			serveConvControl(c, w, r) // conversation.go
			return
		}
		var req controlRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		var resp controlResponse
		var err error
		switch strings.TrimPrefix(r.URL.Path, ControlPrefix) {
		case "scan":
			resp.Result, err = c.ScanQR(ctx, req.Phone, req.QR)
		case "code":
			resp.Result, err = c.EnterCode(ctx, req.Phone, req.Code)
		case "send":
			resp.Result, err = c.SendText(ctx, req.From, req.To, req.Text)
		case "inbound":
			if req.Inbound == nil {
				err = errors.New("inbound: no message")
				break
			}
			resp.Result, err = c.SendInbound(ctx, req.From, req.To, *req.Inbound)
		case "poll":
			resp.Options, resp.Known, err = c.ContactPoll(ctx, req.Phone, req.Kind)
		case "history":
			err = c.SendHistory(ctx, req.Phone, req.Msgs)
		case "view":
			var v gateway.SandboxPhoneView
			v, err = c.PhoneView(ctx, req.Phone)
			resp.View = &v
		case "received":
			resp.Received, err = c.ContactMessages(ctx, req.Phone)
		case "fault":
			err = c.InjectFault(ctx, req.Phone, req.Kind)
		case "device":
			var d gateway.SandboxDevice
			d, err = c.Device(ctx, req.Phone)
			resp.Device = &d
		case "expire-media":
			err = c.ExpireMedia(ctx, req.Phone, req.MessageID, req.PhoneOffline)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			resp = controlResponse{Error: err.Error()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// Remote implements Control against a `wagate simulator` process.
type Remote struct {
	// BaseURL is the simulator's HTTP address, e.g. "http://127.0.0.1:7070".
	BaseURL string
	Client  *http.Client
}

func (r *Remote) call(ctx context.Context, op string, req controlRequest) (controlResponse, error) {
	var resp controlResponse
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.BaseURL, "/")+ControlPrefix+op, bytes.NewReader(body))
	if err != nil {
		return resp, err
	}
	hr.Header.Set("Content-Type", "application/json")
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(hr)
	if err != nil {
		return resp, fmt.Errorf("sandbox control %s: %w", op, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return resp, fmt.Errorf("sandbox control %s: %s", op, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return resp, fmt.Errorf("sandbox control %s: %w", op, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// ScanQR implements Control.
func (r *Remote) ScanQR(ctx context.Context, phone, qr string) (string, error) {
	resp, err := r.call(ctx, "scan", controlRequest{Phone: phone, QR: qr})
	return resp.Result, err
}

// EnterCode implements Control.
func (r *Remote) EnterCode(ctx context.Context, phone, code string) (string, error) {
	resp, err := r.call(ctx, "code", controlRequest{Phone: phone, Code: code})
	return resp.Result, err
}

// SendText implements Control.
func (r *Remote) SendText(ctx context.Context, from, to, text string) (string, error) {
	resp, err := r.call(ctx, "send", controlRequest{From: from, To: to, Text: text})
	return resp.Result, err
}

// SendHistory implements Control.
func (r *Remote) SendHistory(ctx context.Context, phone string, msgs []gateway.SandboxHistoryMessage) error {
	_, err := r.call(ctx, "history", controlRequest{Phone: phone, Msgs: msgs})
	return err
}

// PhoneView implements Control.
func (r *Remote) PhoneView(ctx context.Context, phone string) (gateway.SandboxPhoneView, error) {
	resp, err := r.call(ctx, "view", controlRequest{Phone: phone})
	if err != nil || resp.View == nil {
		return gateway.SandboxPhoneView{}, err
	}
	return *resp.View, nil
}

// Device implements Control.
func (r *Remote) Device(ctx context.Context, phone string) (gateway.SandboxDevice, error) {
	resp, err := r.call(ctx, "device", controlRequest{Phone: phone})
	if err != nil || resp.Device == nil {
		return gateway.SandboxDevice{}, err
	}
	return *resp.Device, nil
}

// ContactMessages implements Control.
func (r *Remote) ContactMessages(ctx context.Context, phone string) ([]gateway.SandboxReceived, error) {
	resp, err := r.call(ctx, "received", controlRequest{Phone: phone})
	if resp.Received == nil {
		resp.Received = []gateway.SandboxReceived{}
	}
	return resp.Received, err
}

// groupChat is the chat of a received message for the control plane: the
// group JID of group messages, "" otherwise.
func groupChat(chat string) string {
	if strings.HasSuffix(chat, "@g.us") {
		return chat
	}
	return ""
}
