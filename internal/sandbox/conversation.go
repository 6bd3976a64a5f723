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

// ConvControl is the simulated side of conversation state: what contacts
// saw (receipts, chat states, presences) and the phones' address books.
// Local and Remote implement it.
type ConvControl interface {
	// ContactView returns what the contact of phone saw.
	ContactView(ctx context.Context, phone string) (gateway.SandboxContactView, error)
	// SaveContact makes the phone of account save contact (a phone
	// number) under its names and sync it to its companions.
	SaveContact(ctx context.Context, account, contact, fullName, firstName string) error
}

var (
	_ ConvControl                 = Local{}
	_ ConvControl                 = (*Remote)(nil)
	_ gateway.SandboxConversation = (*Service)(nil)
)

// ContactView implements ConvControl.
func (l Local) ContactView(_ context.Context, phone string) (gateway.SandboxContactView, error) {
	c := l.Sim.Contact(phone)
	out := gateway.SandboxContactView{Receipts: []gateway.SandboxReceipt{}, ChatStates: []gateway.SandboxChatState{}, Presences: []gateway.SandboxPresence{}}
	for _, r := range c.Receipts() {
		typ := r.Type
		if typ == "" {
			typ = "delivered"
		}
		out.Receipts = append(out.Receipts, gateway.SandboxReceipt{MessageID: r.ID, Type: typ, Device: r.Device.String()})
	}
	// The accounts this contact talks with: their presence is what it sees.
	var accounts []string
	seen := map[string]bool{}
	add := func(user string) {
		if user != "" && !seen[user] {
			seen[user] = true
			accounts = append(accounts, user)
		}
	}
	for _, s := range c.ChatStates() {
		state := s.State
		if state == "composing" && s.Media == "audio" {
			state = "recording"
		}
		from := waid.PhoneJID(s.Device.User).String() // companions' device JIDs are phone-number JIDs
		out.ChatStates = append(out.ChatStates, gateway.SandboxChatState{From: from, Device: s.Device.String(), State: state})
		add(s.Device.User)
	}
	for _, r := range c.Received() {
		if user, server, ok := strings.Cut(r.From, "@"); ok && server == waid.UserServer {
			add(user)
		}
	}
	for _, user := range accounts {
		for _, p := range l.Sim.Presences(user) {
			out.Presences = append(out.Presences, gateway.SandboxPresence{
				From: waid.PhoneJID(user).String(), Device: p.Device.String(), Type: p.Type})
		}
	}
	return out, nil
}

// SaveContact implements ConvControl.
func (l Local) SaveContact(ctx context.Context, account, contact, fullName, firstName string) error {
	return l.Sim.Phone(account).SaveContact(ctx, contact, fullName, firstName)
}

const convOpPrefix = ControlPrefix + "conv/"

type convControlMsg struct {
	Phone     string                      `json:"phone,omitempty"`
	Contact   string                      `json:"contact,omitempty"`
	FullName  string                      `json:"fullName,omitempty"`
	FirstName string                      `json:"firstName,omitempty"`
	View      *gateway.SandboxContactView `json:"view,omitempty"`
}

// serveConvControl serves the conversation operations of ControlHandler.
func serveConvControl(c Control, w http.ResponseWriter, r *http.Request) {
	cc, ok := c.(ConvControl)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var env controlRequest // the operation's convControlMsg travels as JSON in text
	var req convControlMsg
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal([]byte(env.Text), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp convControlMsg
	var err error
	switch strings.TrimPrefix(r.URL.Path, convOpPrefix) {
	case "view":
		var v gateway.SandboxContactView
		v, err = cc.ContactView(r.Context(), req.Phone)
		resp.View = &v
	case "save-contact":
		err = cc.SaveContact(r.Context(), req.Phone, req.Contact, req.FullName, req.FirstName)
	default:
		http.NotFound(w, r)
		return
	}
	writeOpResult(w, resp, err)
}

func (r *Remote) convOp(ctx context.Context, op string, req convControlMsg) (convControlMsg, error) {
	var resp convControlMsg
	body, _ := json.Marshal(req)
	raw, err := r.call(ctx, "conv/"+op, controlRequest{Text: string(body)})
	if err != nil {
		return resp, err
	}
	err = readOpResult(raw, &resp)
	return resp, err
}

// ContactView implements ConvControl.
func (r *Remote) ContactView(ctx context.Context, phone string) (gateway.SandboxContactView, error) {
	resp, err := r.convOp(ctx, "view", convControlMsg{Phone: phone})
	if err != nil || resp.View == nil {
		return gateway.SandboxContactView{}, err
	}
	return *resp.View, nil
}

// SaveContact implements ConvControl.
func (r *Remote) SaveContact(ctx context.Context, account, contact, fullName, firstName string) error {
	_, err := r.convOp(ctx, "save-contact", convControlMsg{Phone: account, Contact: contact, FullName: fullName, FirstName: firstName})
	return err
}

// ContactView implements gateway.SandboxConversation.
func (s *Service) ContactView(ctx context.Context, phone string) (gateway.SandboxContactView, error) {
	phone, err := waid.ParsePhone("phone", phone)
	if err != nil {
		return gateway.SandboxContactView{}, gateway.Wrap(gateway.CodeInvalid, msgBadPhone, err)
	}
	cc, ok := s.Control.(ConvControl)
	if !ok {
		return gateway.SandboxContactView{}, gateway.E(gateway.CodeUnavailable, "The simulator cannot show conversation state")
	}
	v, err := cc.ContactView(ctx, phone)
	if err != nil {
		return v, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return v, nil
}

// SaveContact implements gateway.SandboxConversation.
func (s *Service) SaveContact(ctx context.Context, id uuid.UUID, phone, fullName, firstName string) (string, string, error) {
	account, err := s.accountPhone(id)
	if err != nil {
		return "", "", err
	}
	user, err := waid.ParseUser("phone", phone)
	if err != nil {
		return "", "", gateway.Wrap(gateway.CodeInvalid, "phone must be a phone number or a user JID", err)
	}
	fullName = strings.TrimSpace(fullName)
	if fullName == "" {
		return "", "", gateway.E(gateway.CodeInvalid, "name must not be empty")
	}
	if firstName = strings.TrimSpace(firstName); firstName == "" {
		firstName = strings.Fields(fullName)[0]
	}
	cc, ok := s.Control.(ConvControl)
	if !ok {
		return "", "", gateway.E(gateway.CodeUnprocessable, "The simulator cannot save contacts")
	}
	if user.Phone() == "" {
		return "", "", gateway.E(gateway.CodeInvalid, "phone must be a phone number or a phone-number JID")
	}
	if err := cc.SaveContact(ctx, account, user.Phone(), fullName, firstName); err != nil {
		return "", "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated phone could not save the contact", err)
	}
	return user.String(), firstName, nil
}
