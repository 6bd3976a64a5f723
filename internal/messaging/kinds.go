package messaging

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"mime"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Default file limits of the media kinds beyond images (413 above;
// WAGATE_MAX_{VIDEO,AUDIO,DOCUMENT,STICKER}_BYTES, docs/configuration.md
// gives the reasons). The HTTP layer derives each endpoint's body cap from
// its kind's limit (base64 grows a file by a third).
const (
	DefaultMaxVideoBytes    = 64 << 20
	DefaultMaxAudioBytes    = 16 << 20
	DefaultMaxDocumentBytes = 64 << 20
	DefaultMaxStickerBytes  = 1 << 20

	maxPollOptions = 12
	maxContacts    = 20
)

// Texts of the kinds' refusals.
const (
	msgMediaEmptyFmt   = "%s is empty"
	msgVideoType       = "video must be an MP4 or 3GPP video"
	msgAudioType       = "audio must be Ogg/Opus, MP3, M4A (AAC), AAC or AMR audio"
	msgDocumentType    = "document could not be read"
	msgStickerType     = "sticker must be a WebP image"
	msgPTTOpus         = "a voice note (ptt) must be Ogg/Opus audio; this audio is %s (convert it to Ogg/Opus, or send it with ptt false)"
	msgFileNameNeeded  = "fileName is required for documents"
	msgFileNameInvalid = "fileName must be a file name, not a path"
	msgLatitude        = "latitude must be a number between -90 and 90"
	msgLongitude       = "longitude must be a number between -180 and 180"
	msgContactsOne     = "give either contacts or vcard, not both"
	msgContactsNone    = "contacts or vcard is required"
	msgContactsMany    = "at most 20 contacts can be sent at once"
	msgContactName     = "contacts[%d].name is required"
	msgContactPhones   = "contacts[%d].phones needs at least one phone number"
	msgVCardInvalid    = "vcard must be a vCard (BEGIN:VCARD ... END:VCARD) with an FN (name) line"
	msgPollQuestion    = "question is required"
	msgPollOptionCount = "a poll needs 2 to 12 options"
	msgPollOptionEmpty = "poll options must not be empty"
	msgPollDuplicate   = "poll options must be unique: %q appears twice"
	msgPollSelectable  = "selectableCount must be between 0 (any number) and the number of options"
	msgMentionGroup    = "mentions must be users (phone numbers or user JIDs), not groups"
)

// checkMediaSend checks the fields of a media send that do not need the
// file, and parses its mentions.
func checkMediaSend(r gateway.MediaSend) ([]string, error) {
	if r.Kind == gateway.MediaDocument {
		name := strings.TrimSpace(r.FileName)
		if name == "" {
			return nil, gateway.E(gateway.CodeInvalid, msgFileNameNeeded)
		}
		if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return nil, gateway.E(gateway.CodeInvalid, msgFileNameInvalid)
		}
	}
	return parseMentions(r.Mentions)
}

// checkMediaFile checks a loaded file against the send's flags: a voice
// note must be Ogg/Opus (phones cannot play anything else as one, and
// wagate does not convert).
func checkMediaFile(r gateway.MediaSend, f *MediaFile) error {
	if r.Kind == gateway.MediaAudio && r.PTT && f.MimeType != "audio/ogg" {
		return gateway.Errorf(gateway.CodeInvalid, msgPTTOpus, f.MimeType)
	}
	if r.Kind == gateway.MediaDocument && r.MimeType == "" {
		// The sniffer knows few document types; the extension knows more.
		if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(r.FileName))); t != "" && (f.MimeType == "application/octet-stream" || f.MimeType == "text/plain" || f.MimeType == "application/zip") {
			if i := strings.IndexByte(t, ';'); i >= 0 {
				t = t[:i]
			}
			f.MimeType = t
		}
	}
	return nil
}

// parseMentions turns the mentioned users into user JIDs.
func parseMentions(raw []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range raw {
		j, err := waid.Parse("mentions", m)
		if err != nil {
			return nil, err
		}
		if j.Kind() == waid.KindGroup {
			return nil, gateway.E(gateway.CodeInvalid, msgMentionGroup)
		}
		if s := j.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// SendContent sends a location, contact cards or a poll through the one
// send path (recipient, send policy, quoted message, store).
func (s *Service) SendContent(ctx context.Context, sid uuid.UUID, to string, c gateway.ContentSend) (*gateway.Message, error) {
	return s.send(ctx, sid, to, c.QuotedID, func(context.Context) (outgoing, error) {
		out, text, err := checkContent(c)
		if err != nil {
			return outgoing{}, err
		}
		content := gateway.Message{Type: gateway.MessageType(c.Kind)}
		content.MessageContent = sentContent(out) // content.go
		if text != "" {
			content.Text = &text
		}
		return outgoing{
			content: content,
			deliver: func(ctx context.Context, ref gateway.ChatRef, quoted *gateway.Message) (gateway.SentMessage, error) {
				out.Chat, out.Quoted = ref, quoted
				return s.wa.SendContent(ctx, sid, out)
			},
		}, nil
	})
}

// checkContent validates a content send and builds the outgoing message;
// text is what the store keeps as the message's text.
func checkContent(c gateway.ContentSend) (gateway.OutgoingContent, string, error) {
	mentions, err := parseMentions(c.Mentions)
	if err != nil {
		return gateway.OutgoingContent{}, "", err
	}
	out := gateway.OutgoingContent{Kind: c.Kind, Mentions: mentions}
	switch c.Kind {
	case gateway.ContentLocation:
		l := c.Location
		if l == nil || math.IsNaN(l.Latitude) || l.Latitude < -90 || l.Latitude > 90 {
			return out, "", gateway.E(gateway.CodeInvalid, msgLatitude)
		}
		if math.IsNaN(l.Longitude) || l.Longitude < -180 || l.Longitude > 180 {
			return out, "", gateway.E(gateway.CodeInvalid, msgLongitude)
		}
		loc := *l
		loc.Name, loc.Address = strings.TrimSpace(loc.Name), strings.TrimSpace(loc.Address)
		out.Location = &loc
		return out, loc.Name, nil
	case gateway.ContentContact:
		cards, err := vcards(c)
		if err != nil {
			return out, "", err
		}
		out.VCards = cards
		names := make([]string, len(cards))
		for i, v := range cards {
			names[i] = v.Name
		}
		return out, strings.Join(names, ", "), nil
	case gateway.ContentPoll:
		p, err := checkPoll(c.Poll)
		if err != nil {
			return out, "", err
		}
		out.Poll = p
		return out, p.Question, nil
	}
	return out, "", gateway.Errorf(gateway.CodeInvalid, "message kind %q is not supported", c.Kind)
}

func checkPoll(p *gateway.Poll) (*gateway.Poll, error) {
	if p == nil || strings.TrimSpace(p.Question) == "" {
		return nil, gateway.E(gateway.CodeInvalid, msgPollQuestion)
	}
	if len(p.Options) < 2 || len(p.Options) > maxPollOptions {
		return nil, gateway.E(gateway.CodeInvalid, msgPollOptionCount)
	}
	out := &gateway.Poll{Question: strings.TrimSpace(p.Question), SelectableCount: p.SelectableCount}
	seen := map[string]bool{}
	for _, o := range p.Options {
		o = strings.TrimSpace(o)
		if o == "" {
			return nil, gateway.E(gateway.CodeInvalid, msgPollOptionEmpty)
		}
		// WhatsApp identifies a vote's options by the SHA-256 of their
		// names: two equal names could not be told apart.
		if seen[o] {
			return nil, gateway.Errorf(gateway.CodeInvalid, msgPollDuplicate, o)
		}
		seen[o] = true
		out.Options = append(out.Options, o)
	}
	if p.SelectableCount < 0 || p.SelectableCount > len(out.Options) {
		return nil, gateway.E(gateway.CodeInvalid, msgPollSelectable)
	}
	return out, nil
}

// vcards makes the vCards of a contact send: one per contact, or the raw
// one.
func vcards(c gateway.ContentSend) ([]gateway.VCard, error) {
	raw := strings.TrimSpace(c.VCard)
	switch {
	case raw != "" && len(c.Contacts) > 0:
		return nil, gateway.E(gateway.CodeInvalid, msgContactsOne)
	case raw != "":
		name := vcardName(raw)
		if name == "" {
			return nil, gateway.E(gateway.CodeInvalid, msgVCardInvalid)
		}
		return []gateway.VCard{{Name: name, VCard: raw}}, nil
	case len(c.Contacts) == 0:
		return nil, gateway.E(gateway.CodeInvalid, msgContactsNone)
	case len(c.Contacts) > maxContacts:
		return nil, gateway.E(gateway.CodeInvalid, msgContactsMany)
	}
	out := make([]gateway.VCard, 0, len(c.Contacts))
	for i, ct := range c.Contacts {
		name := strings.TrimSpace(ct.Name)
		if name == "" {
			return nil, gateway.Errorf(gateway.CodeInvalid, msgContactName, i)
		}
		if len(ct.Phones) == 0 {
			return nil, gateway.Errorf(gateway.CodeInvalid, msgContactPhones, i)
		}
		var b strings.Builder
		b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
		fmt.Fprintf(&b, "N:;%s;;;\r\nFN:%s\r\n", vcardEscape(name), vcardEscape(name))
		for j, p := range ct.Phones {
			digits, err := waid.ParsePhone(fmt.Sprintf("contacts[%d].phones[%d]", i, j), p)
			if err != nil {
				return nil, err
			}
			// waid= lets WhatsApp offer "Message" for the number.
			fmt.Fprintf(&b, "TEL;type=CELL;type=VOICE;waid=%s:+%s\r\n", digits, digits)
		}
		b.WriteString("END:VCARD")
		out = append(out, gateway.VCard{Name: name, VCard: b.String()})
	}
	return out, nil
}

// vcardName is the FN of a raw vCard, "" when it is not one.
func vcardName(v string) string {
	up := strings.ToUpper(v)
	if !strings.HasPrefix(up, "BEGIN:VCARD") || !strings.Contains(up, "END:VCARD") {
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

func vcardEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`, "\r", "").Replace(s)
}

// sniffVideo recognises MP4 and 3GPP (ISO base media files: an ftyp box).
func sniffVideo(b []byte) string {
	brand, ok := ftypBrand(b)
	switch {
	case !ok:
		return ""
	case strings.HasPrefix(brand, "3g"):
		return "video/3gpp"
	case brand == "M4A " || brand == "M4B ":
		return "" // audio only
	}
	return "video/mp4"
}

// sniffAudio recognises Ogg/Opus (only Opus: WhatsApp's voice notes and
// Ogg audio are Opus), MP3, M4A, AAC (ADTS) and AMR.
func sniffAudio(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("OggS")):
		if len(b) >= 36 && bytes.Equal(b[28:36], []byte("OpusHead")) {
			return "audio/ogg"
		}
		return ""
	case bytes.HasPrefix(b, []byte("ID3")), len(b) > 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && b[1]&0x06 != 0:
		return "audio/mpeg" // ID3 tag, or an MPEG audio frame (layer bits set)
	case len(b) > 2 && b[0] == 0xFF && b[1]&0xF6 == 0xF0:
		return "audio/aac" // ADTS (layer bits 00)
	case bytes.HasPrefix(b, []byte("#!AMR")):
		return "audio/amr"
	}
	if brand, ok := ftypBrand(b); ok && (brand == "M4A " || brand == "M4B " || brand == "mp42" || brand == "isom") {
		return "audio/mp4"
	}
	return ""
}

// ftypBrand is the major brand of an ISO base media file.
func ftypBrand(b []byte) (string, bool) {
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		return "", false
	}
	return string(b[8:12]), true
}

// ForwardMessage implements gateway.Forwarder: the stored message must be
// a text, a media message with its file reference, a location or contact
// cards, not revoked (a poll is 422: WhatsApp does not forward polls); the
// recipient goes through the one send path (send policy included).
func (s *Service) ForwardMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, to string) (*gateway.Message, error) {
	_, src, err := s.message(ctx, sid, chatID, messageID)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, sid, to, "", func(context.Context) (outgoing, error) {
		var fc *gateway.OutgoingContent
		switch {
		case src.Revoked:
			return outgoing{}, gateway.E(gateway.CodeInvalid, gateway.MsgForwardRevoked)
		case src.Type == gateway.TypePoll:
			return outgoing{}, gateway.E(gateway.CodeUnprocessable, gateway.MsgForwardPoll)
		case src.Type == gateway.TypeText:
		case src.Media != nil && src.Media.DirectPath != "":
		case src.Type == gateway.TypeLocation && src.Location != nil:
			l := src.Location
			fc = &gateway.OutgoingContent{Kind: gateway.ContentLocation,
				Location: &gateway.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}}
		case src.Type == gateway.TypeContact && len(src.VCards) > 0:
			fc = &gateway.OutgoingContent{Kind: gateway.ContentContact}
			for _, v := range src.VCards {
				name := vcardName(v)
				if len(src.VCards) == 1 && src.Text != nil && *src.Text != "" {
					name = *src.Text
				}
				fc.VCards = append(fc.VCards, gateway.VCard{Name: name, VCard: v})
			}
		default:
			return outgoing{}, gateway.E(gateway.CodeInvalid, gateway.MsgForwardKind)
		}
		content := gateway.Message{Type: src.Type, Text: src.Text, MimeType: src.MimeType, MessageContent: forwardedContent(src)}
		return outgoing{
			content: content,
			deliver: func(ctx context.Context, ref gateway.ChatRef, _ *gateway.Message) (gateway.SentMessage, error) {
				return s.wa.Forward(ctx, sid, gateway.OutgoingForward{Chat: ref, Message: src, Content: fc})
			},
		}, nil
	})
}
