// Package sandbox implements gateway.Sandbox, the control plane of sandbox
// mode: it combines the session runtime (QR codes, pairing codes, the
// linked account) with a simulated WhatsApp (internal/wasim), in process
// (Local) or in a separate `wagate simulator` process (Remote, over the
// small HTTP control API served by ControlHandler).
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Control is what the simulated side can be asked to do: the phones and
// contacts of the simulated WhatsApp. Local and Remote implement it.
type Control interface {
	// ScanQR lets the phone of phone scan qr; it returns the new device JID.
	ScanQR(ctx context.Context, phone, qr string) (string, error)
	// EnterCode types a pairing code on the phone of phone.
	EnterCode(ctx context.Context, phone, code string) (string, error)
	// SendText makes the contact from send text to the account to (phone).
	SendText(ctx context.Context, from, to, text string) (string, error)
	// SendInbound makes the contact from send a message of any kind to
	// the account to (inbound.go); m is checked already.
	SendInbound(ctx context.Context, from, to string, m gateway.SandboxInboundMessage) (string, error)
	// ContactPoll returns the options of a poll the contact received or
	// sent; ok=false when it knows no such poll.
	ContactPoll(ctx context.Context, phone, pollID string) (options []string, ok bool, err error)
	// SendHistory makes the phone deliver a history sync to its companions.
	SendHistory(ctx context.Context, phone string, msgs []gateway.SandboxHistoryMessage) error
	// PhoneView returns the phone's decoded app state.
	PhoneView(ctx context.Context, phone string) (gateway.SandboxPhoneView, error)
	// ContactMessages returns what the contact's device decrypted.
	ContactMessages(ctx context.Context, phone string) ([]gateway.SandboxReceived, error)
	// InjectFault injects a wasim fault kind on the phone's linked devices (faults.go).
	InjectFault(ctx context.Context, phone, kind string) error
	// Device returns the connection counts of the phone's linked devices.
	Device(ctx context.Context, phone string) (gateway.SandboxDevice, error)
	// ExpireMedia drops a message's media from the simulated media server
	// until the phone re-uploads it; phoneOffline sets whether the phone
	// answers media retry requests (faults.go).
	ExpireMedia(ctx context.Context, phone, messageID string, phoneOffline *bool) error
}

// Runtime is what the sandbox needs from the session runtime
// (*whatsapp.Manager implements it).
type Runtime interface {
	gateway.SessionRuntime
	// State returns the session's live state (false: not known).
	State(id uuid.UUID) (gateway.SessionState, bool)
	// AccountJID returns the linked account JID, "" when not linked.
	AccountJID(id uuid.UUID) string
}

// Service implements gateway.Sandbox.
type Service struct {
	Runtime Runtime
	Control Control
	// LinkTimeout bounds Link (QR or code, then the login). Default 30 s.
	LinkTimeout time.Duration
}

var _ gateway.Sandbox = (*Service)(nil)

const (
	msgAlreadyLinked = "Session is already linked"
	msgBadPhone      = "phone must be a phone number in international format"
)

// Link implements gateway.Sandbox.
func (s *Service) Link(ctx context.Context, id uuid.UUID, phone, method string) (string, string, error) {
	phone, err := waid.ParsePhone("phone", phone)
	if err != nil {
		return "", "", gateway.Wrap(gateway.CodeInvalid, msgBadPhone, err)
	}
	timeout := s.LinkTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if s.Runtime.AccountJID(id) != "" {
		return "", "", gateway.E(gateway.CodeConflict, msgAlreadyLinked)
	}
	if err := s.Runtime.Start(ctx, id); err != nil {
		return "", "", err
	}
	var device string
	switch method {
	case "", "qr":
		var qr string
		err := poll(ctx, func() (bool, error) {
			var err error
			qr, err = s.Runtime.QR(ctx, id)
			if err == nil {
				return true, nil
			}
			if st, _ := s.Runtime.State(id); st == gateway.StateConnected {
				return false, gateway.E(gateway.CodeConflict, msgAlreadyLinked)
			}
			return false, nil
		})
		if err != nil {
			return "", "", err
		}
		if device, err = s.Control.ScanQR(ctx, phone, qr); err != nil {
			return "", "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated phone could not scan the QR code", err)
		}
	case "code":
		code, err := s.Runtime.PairCode(ctx, id, phone)
		if err != nil {
			return "", "", err
		}
		if device, err = s.Control.EnterCode(ctx, phone, code); err != nil {
			return "", "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated phone could not enter the pairing code", err)
		}
	default:
		return "", "", gateway.E(gateway.CodeInvalid, `method must be "qr" or "code"`)
	}
	err = poll(ctx, func() (bool, error) {
		st, _ := s.Runtime.State(id)
		return st == gateway.StateConnected, nil
	})
	if err != nil {
		return "", "", err
	}
	return s.Runtime.AccountJID(id), device, nil
}

// accountPhone returns the phone number of the session's linked account.
func (s *Service) accountPhone(id uuid.UUID) (string, error) {
	jid := s.Runtime.AccountJID(id)
	if jid == "" {
		return "", gateway.E(gateway.CodeConflict, gateway.MsgNotAuthenticated)
	}
	return waid.PhoneOf(jid), nil
}

// History implements gateway.Sandbox.
func (s *Service) History(ctx context.Context, id uuid.UUID, msgs []gateway.SandboxHistoryMessage) ([]string, error) {
	phone, err := s.accountPhone(id)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, gateway.E(gateway.CodeInvalid, "messages must not be empty")
	}
	ids := make([]string, len(msgs))
	for i := range msgs {
		if msgs[i].ID == "" {
			msgs[i].ID = newMessageID()
		}
		ids[i] = msgs[i].ID
	}
	if err := s.Control.SendHistory(ctx, phone, msgs); err != nil {
		return nil, gateway.Wrap(gateway.CodeUnprocessable, "The simulated phone could not send the history", err)
	}
	return ids, nil
}

// PhoneView implements gateway.Sandbox.
func (s *Service) PhoneView(ctx context.Context, id uuid.UUID) (gateway.SandboxPhoneView, error) {
	phone, err := s.accountPhone(id)
	if err != nil {
		return gateway.SandboxPhoneView{}, err
	}
	v, err := s.Control.PhoneView(ctx, phone)
	if err != nil {
		return v, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	v.JID = s.Runtime.AccountJID(id)
	return v, nil
}

// Device implements gateway.Sandbox: the counts of the session phone's
// linked devices (one per session in the sandbox).
func (s *Service) Device(ctx context.Context, id uuid.UUID) (gateway.SandboxDevice, error) {
	phone, err := s.accountPhone(id)
	if err != nil {
		return gateway.SandboxDevice{}, err
	}
	d, err := s.Control.Device(ctx, phone)
	if err != nil {
		return d, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return d, nil
}

// ContactMessages implements gateway.Sandbox.
func (s *Service) ContactMessages(ctx context.Context, phone string) ([]gateway.SandboxReceived, error) {
	phone, err := waid.ParsePhone("phone", phone)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, msgBadPhone, err)
	}
	out, err := s.Control.ContactMessages(ctx, phone)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return out, nil
}

// poll checks cond every 20 ms until it holds, fails, or ctx ends
// (CodeUnavailable + MsgStillConnecting).
func poll(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return gateway.ErrStillConnecting(ctx.Err())
		case <-t.C:
		}
	}
}

func newMessageID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return fmt.Sprintf("3EB0%s", strings.ToUpper(hex.EncodeToString(b)))
}
