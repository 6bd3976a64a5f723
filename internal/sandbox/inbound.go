package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// The sandbox's inbound messages of every kind (POST
// /sandbox/sessions/{id}/inbound): checked here, then sent by the
// simulated contact through the protocol, encrypted as WhatsApp does.

// defaultInboundMIME is the MIME type of an inbound file when the request
// names none.
var defaultInboundMIME = map[string]string{
	gateway.SandboxInboundImage:    "image/jpeg",
	gateway.SandboxInboundVideo:    "video/mp4",
	gateway.SandboxInboundAudio:    "audio/ogg; codecs=opus",
	gateway.SandboxInboundDocument: "application/pdf",
	gateway.SandboxInboundSticker:  "image/webp",
}

// Inbound implements gateway.Sandbox.
func (s *Service) Inbound(ctx context.Context, id uuid.UUID, from string, m gateway.SandboxInboundMessage) (string, error) {
	user, err := waid.ParseUser("from", from)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInvalid, "from must be a phone number or a user JID", err)
	}
	if err := checkInbound(&m); err != nil {
		return "", err
	}
	to, err := s.accountPhone(id)
	if err != nil {
		return "", err
	}
	if m.Type == gateway.SandboxInboundPollVote {
		options, ok, err := s.Control.ContactPoll(ctx, user.Phone(), m.TargetID)
		if err != nil {
			return "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated contact could not look up the poll", err)
		}
		if !ok {
			return "", gateway.Errorf(gateway.CodeInvalid, "Unknown poll %q for this contact", m.TargetID)
		}
		for _, o := range m.Options {
			if !slices.Contains(options, o) {
				return "", gateway.Errorf(gateway.CodeInvalid, "%q is not an option of poll %q", o, m.TargetID)
			}
		}
	}
	var msgID string
	if m.Type == gateway.SandboxInboundText {
		msgID, err = s.Control.SendText(ctx, user.Phone(), to, m.Text)
	} else {
		msgID, err = s.Control.SendInbound(ctx, user.Phone(), to, m)
	}
	if err != nil {
		return "", gateway.Wrap(gateway.CodeUnprocessable, "The simulated contact could not send the message", err)
	}
	return msgID, nil
}

// checkInbound validates m for its type and fills the defaults (type
// text, the file's MIME type, vCard names).
func checkInbound(m *gateway.SandboxInboundMessage) error {
	if m.Type == "" {
		m.Type = gateway.SandboxInboundText
	}
	bad := func(format string, a ...any) error { return gateway.Errorf(gateway.CodeInvalid, format, a...) }
	switch m.Type {
	case gateway.SandboxInboundText:
		if strings.TrimSpace(m.Text) == "" {
			return bad("text is required")
		}
	case gateway.SandboxInboundImage, gateway.SandboxInboundVideo, gateway.SandboxInboundAudio,
		gateway.SandboxInboundDocument, gateway.SandboxInboundSticker:
		if len(m.Media) == 0 {
			return bad("media is required for type %s", m.Type)
		}
		if m.MimeType == "" {
			m.MimeType = defaultInboundMIME[m.Type]
		}
	case gateway.SandboxInboundLocation:
		if m.Latitude == nil || *m.Latitude < -90 || *m.Latitude > 90 {
			return bad("latitude must be between -90 and 90")
		}
		if m.Longitude == nil || *m.Longitude < -180 || *m.Longitude > 180 {
			return bad("longitude must be between -180 and 180")
		}
	case gateway.SandboxInboundContact:
		vs, err := vcardsOf(m.Contacts)
		if err != nil {
			return err
		}
		m.VCards, m.Contacts = append(m.VCards, vs...), nil
		if len(m.VCards) == 0 {
			return bad("vcards or contacts is required")
		}
		m.Names = make([]string, len(m.VCards))
		for i, v := range m.VCards {
			if m.Names[i] = vcardName(v); m.Names[i] == "" {
				return bad("vcards[%d] is not a vCard with an FN", i)
			}
		}
	case gateway.SandboxInboundPoll:
		if strings.TrimSpace(m.Question) == "" {
			return bad("question is required")
		}
		if len(m.Options) < 2 || len(m.Options) > 12 {
			return bad("a poll needs 2 to 12 options")
		}
		seen := map[string]bool{}
		for _, o := range m.Options {
			if strings.TrimSpace(o) == "" {
				return bad("poll options must not be empty")
			}
			if seen[o] {
				return bad("poll options must be unique")
			}
			seen[o] = true
		}
		if m.SelectableCount < 0 || m.SelectableCount > len(m.Options) {
			return bad("selectableCount must be between 0 and the number of options")
		}
	case gateway.SandboxInboundPollVote:
		if m.TargetID == "" {
			return bad("targetId is required")
		}
		if m.Options == nil {
			m.Options = []string{}
		}
	default:
		return bad("Unknown inbound type %q", m.Type)
	}
	return nil
}

// vcardsOf makes a vCard of each contact card (name and phone numbers
// with waid=, as WhatsApp's own cards).
func vcardsOf(cards []gateway.ContactCard) ([]string, error) {
	out := make([]string, 0, len(cards))
	for i, c := range cards {
		if strings.TrimSpace(c.Name) == "" {
			return nil, gateway.Errorf(gateway.CodeInvalid, "contacts[%d].name is required", i)
		}
		var b strings.Builder
		b.WriteString("BEGIN:VCARD\nVERSION:3.0\n")
		fmt.Fprintf(&b, "FN:%s\n", strings.NewReplacer("\n", " ", "\r", "").Replace(c.Name))
		for _, p := range c.Phones {
			digits, err := waid.ParsePhone(fmt.Sprintf("contacts[%d].phones", i), p)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "TEL;type=CELL;waid=%s:+%s\n", digits, digits)
		}
		b.WriteString("END:VCARD")
		out = append(out, b.String())
	}
	return out, nil
}

// vcardName is the FN of a vCard, "" when it is none.
func vcardName(v string) string {
	if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(v)), "BEGIN:VCARD") {
		return ""
	}
	for _, line := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n") {
		k, val, ok := strings.Cut(line, ":")
		if ok && (strings.EqualFold(k, "FN") || strings.HasPrefix(strings.ToUpper(k), "FN;")) {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

// SendInbound implements Control.
func (l Local) SendInbound(ctx context.Context, from, to string, m gateway.SandboxInboundMessage) (string, error) {
	c := l.Sim.Contact(from)
	switch m.Type {
	case gateway.SandboxInboundImage:
		return c.SendImage(ctx, to, m.Media, m.MimeType, m.Caption)
	case gateway.SandboxInboundVideo, gateway.SandboxInboundAudio, gateway.SandboxInboundDocument, gateway.SandboxInboundSticker:
		return c.SendMedia(ctx, to, m.Type, m.Media, m.MimeType,
			wasim.MediaFields{Caption: m.Caption, FileName: m.FileName, PTT: m.PTT, GIF: m.GIF})
	case gateway.SandboxInboundLocation:
		return c.SendLocation(ctx, to, *m.Latitude, *m.Longitude, m.Name, m.Address)
	case gateway.SandboxInboundContact:
		return c.SendContacts(ctx, to, m.Names, m.VCards)
	case gateway.SandboxInboundPoll:
		return c.SendPoll(ctx, to, m.Question, m.Options, uint32(m.SelectableCount))
	case gateway.SandboxInboundPollVote:
		return c.Vote(ctx, to, m.TargetID, m.Options)
	case gateway.SandboxInboundText:
		return c.SendText(ctx, to, m.Text)
	}
	return "", fmt.Errorf("unknown inbound type %q", m.Type)
}

// ContactPoll implements Control.
func (l Local) ContactPoll(_ context.Context, phone, pollID string) ([]string, bool, error) {
	options, ok := l.Sim.Contact(phone).Poll(pollID)
	return options, ok, nil
}

// SendInbound implements Control.
func (r *Remote) SendInbound(ctx context.Context, from, to string, m gateway.SandboxInboundMessage) (string, error) {
	resp, err := r.call(ctx, "inbound", controlRequest{From: from, To: to, Inbound: &m})
	return resp.Result, err
}

// ContactPoll implements Control.
func (r *Remote) ContactPoll(ctx context.Context, phone, pollID string) ([]string, bool, error) {
	resp, err := r.call(ctx, "poll", controlRequest{Phone: phone, Kind: pollID})
	return resp.Options, resp.Known, err
}
