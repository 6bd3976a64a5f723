// Package waid parses and formats the identifiers clients send for chats,
// recipients and contacts: phone numbers ("919988066776", "+919988066776")
// and WhatsApp JIDs ("919988066776@s.whatsapp.net", groups "...@g.us",
// linked ids "...@lid"). It works on strings only and imports nothing of
// whatsmeow, so every layer can use it; internal/whatsapp converts a parsed
// JID to whatsmeow's types.JID with types.ParseJID(j.String()).
package waid

import (
	"strconv"
	"strings"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Servers (the part after "@") that wagate accepts.
const (
	UserServer   = "s.whatsapp.net" // phone-number users
	LegacyServer = "c.us"           // old phone-number form, accepted and normalised to UserServer
	GroupServer  = "g.us"
	LIDServer    = "lid"
)

// Phone-number length limits: E.164 allows at most 15 digits; the shortest
// real numbers with a country code have 7 or 8.
const (
	minPhoneDigits = 7
	maxPhoneDigits = 15
)

// Kind says what a JID addresses.
type Kind int

// JID kinds.
const (
	KindUser  Kind = iota + 1 // a phone-number user (…@s.whatsapp.net)
	KindLID                   // a user addressed by linked id (…@lid)
	KindGroup                 // a group (…@g.us)
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindLID:
		return "lid"
	case KindGroup:
		return "group"
	}
	return "unknown"
}

// JID is a parsed, normalised chat or contact identifier without a device
// part. The zero value is not valid.
type JID struct {
	User   string // phone digits, LID digits, or group id
	Server string // UserServer, LIDServer or GroupServer
}

// Kind returns what j addresses.
func (j JID) Kind() Kind {
	switch j.Server {
	case UserServer:
		return KindUser
	case LIDServer:
		return KindLID
	case GroupServer:
		return KindGroup
	}
	return 0
}

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool { return j.User == "" && j.Server == "" }

// String formats j as a full JID, e.g. "919988066776@s.whatsapp.net".
func (j JID) String() string {
	if j.IsZero() {
		return ""
	}
	return j.User + "@" + j.Server
}

// Phone returns the phone number (digits, no "+") of a phone-number user,
// or "" for groups and LIDs.
func (j JID) Phone() string {
	if j.Server == UserServer {
		return j.User
	}
	return ""
}

// PhoneJID builds the JID of a phone number given as digits.
func PhoneJID(digits string) JID { return JID{User: digits, Server: UserServer} }

// Parse parses a chat id, recipient or contact id. field names the request
// field in error messages (e.g. "chatId", "to", "jid").
//
// Accepted: a phone number with country code, optionally with a leading "+"
// and the usual separators (spaces, "-", ".", parentheses); a phone JID
// (…@s.whatsapp.net, legacy …@c.us); a group JID (…@g.us); a LID (…@lid).
// A device part ("…:7@s.whatsapp.net") or agent part ("….0:7@…") is dropped,
// since chats and contacts are per user. Errors are *gateway.Error with
// CodeInvalid.
func Parse(field, s string) (JID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return JID{}, gateway.Errorf(gateway.CodeInvalid, "%s is required", field)
	}
	at := strings.IndexByte(s, '@')
	if at < 0 {
		digits, ok := phoneDigits(s)
		if !ok {
			return JID{}, invalid(field, s)
		}
		if err := checkPhoneLength(field, digits); err != nil {
			return JID{}, err
		}
		return PhoneJID(digits), nil
	}
	user, server := s[:at], strings.ToLower(s[at+1:])
	if strings.IndexByte(server, '@') >= 0 || user == "" {
		return JID{}, invalid(field, s)
	}
	switch server {
	case UserServer, LegacyServer:
		u, ok := stripDevice(user)
		if !ok || !allDigits(u) {
			return JID{}, invalid(field, s)
		}
		if err := checkPhoneLength(field, u); err != nil {
			return JID{}, err
		}
		return PhoneJID(u), nil
	case LIDServer:
		u, ok := stripDevice(user)
		if !ok || !allDigits(u) || len(u) > 32 {
			return JID{}, invalid(field, s)
		}
		return JID{User: u, Server: LIDServer}, nil
	case GroupServer:
		if !validGroupUser(user) {
			return JID{}, invalid(field, s)
		}
		return JID{User: user, Server: GroupServer}, nil
	}
	return JID{}, gateway.Errorf(gateway.CodeInvalid,
		"Invalid %s: unsupported JID server %q (use a phone number, …@s.whatsapp.net, …@g.us or …@lid)", field, server)
}

// ParsePhone parses a phone number with country code, written as Parse
// accepts one (an optional leading "+" and the usual separators), and
// returns its digits ("+1 (555) 000-1111" -> "15550001111"). JIDs are
// refused; PhoneJID makes the JID of the result. Errors are
// *gateway.Error with CodeInvalid naming field.
func ParsePhone(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", gateway.Errorf(gateway.CodeInvalid, "%s is required", field)
	}
	digits, ok := phoneDigits(s)
	if !ok {
		return "", invalidPhone(field, s)
	}
	if err := checkPhoneLength(field, digits); err != nil {
		return "", err
	}
	return digits, nil
}

// ParseUser parses a user given as a phone number or a phone-number JID
// (anything Parse accepts that is KindUser); groups and LIDs are refused.
func ParseUser(field, s string) (JID, error) {
	j, err := Parse(field, s)
	if err != nil {
		return JID{}, err
	}
	if j.Kind() != KindUser {
		return JID{}, gateway.Errorf(gateway.CodeInvalid,
			"Invalid %s: must be a phone number or a user JID (…@s.whatsapp.net), not a %s", field, j.Kind())
	}
	return j, nil
}

// ParseGroup parses a group id given as its full JID ("120363025246125486@g.us")
// or its number part ("120363025246125486", also the legacy
// "creator-timestamp" form). Anything else, phone-number and LID JIDs
// included, is CodeInvalid naming field.
func ParseGroup(field, s string) (JID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return JID{}, gateway.Errorf(gateway.CodeInvalid, "%s is required", field)
	}
	user := s
	if at := strings.IndexByte(s, '@'); at >= 0 {
		if strings.ToLower(s[at+1:]) != GroupServer {
			return JID{}, invalidGroup(field, s)
		}
		user = s[:at]
	}
	if user == "" || !validGroupUser(user) {
		return JID{}, invalidGroup(field, s)
	}
	return JID{User: user, Server: GroupServer}, nil
}

func invalidGroup(field, s string) error {
	const maxShown = 64
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return gateway.Errorf(gateway.CodeInvalid,
		"Invalid %s %q: use a group JID (e.g. 120363025246125486@g.us) or its number part", field, s)
}

// PhoneOf returns the phone number of a phone-number JID string as
// WhatsApp or the store writes it ("15550001111@s.whatsapp.net", a device
// part allowed), or "" for anything else.
func PhoneOf(jid string) string {
	j, _ := FromJIDString(jid)
	return j.Phone()
}

// IsGroup reports whether a JID string is a group JID (…@g.us).
func IsGroup(jid string) bool {
	j, ok := FromJIDString(jid)
	return ok && j.Kind() == KindGroup
}

// MustParse is Parse for tests and constants; it panics on error.
func MustParse(s string) JID {
	j, err := Parse("jid", s)
	if err != nil {
		panic(err)
	}
	return j
}

// FromJIDString parses a JID that came from WhatsApp (whatsmeow's
// types.JID.String(), possibly with a device part). It reports false for
// servers wagate does not model (broadcast, newsletter, …).
func FromJIDString(s string) (JID, bool) {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return JID{}, false
	}
	user, server := s[:at], s[at+1:]
	switch server {
	case UserServer, LIDServer:
		u, ok := stripDevice(user)
		if !ok || !allDigits(u) {
			return JID{}, false
		}
		return JID{User: u, Server: server}, true
	case GroupServer:
		if !validGroupUser(user) {
			return JID{}, false
		}
		return JID{User: user, Server: server}, true
	}
	return JID{}, false
}

func invalid(field, s string) error {
	const maxShown = 64
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return gateway.Errorf(gateway.CodeInvalid,
		"Invalid %s %q: use a phone number with country code (e.g. 919988066776), +919988066776, or a full JID (e.g. 919988066776@s.whatsapp.net, …@g.us)",
		field, s)
}

func invalidPhone(field, s string) error {
	const maxShown = 64
	if len(s) > maxShown {
		s = s[:maxShown] + "…"
	}
	return gateway.Errorf(gateway.CodeInvalid,
		"Invalid %s %q: use a phone number with country code (e.g. 919988066776 or +919988066776)", field, s)
}

func checkPhoneLength(field, digits string) error {
	if len(digits) < minPhoneDigits || len(digits) > maxPhoneDigits {
		return gateway.Errorf(gateway.CodeInvalid,
			"Invalid %s: a phone number has %d to %d digits including the country code, got %d",
			field, minPhoneDigits, maxPhoneDigits, len(digits))
	}
	if digits[0] == '0' {
		return gateway.Errorf(gateway.CodeInvalid,
			"Invalid %s: the phone number must start with the country code, not 0", field)
	}
	return nil
}

// phoneDigits returns the digits of a phone number written with an optional
// leading "+" and separators. It reports false on any other character.
func phoneDigits(s string) (string, bool) {
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// stripDevice removes a ":device" suffix and a ".agent" suffix from the user
// part of a JID ("123.0:7" -> "123").
func stripDevice(user string) (string, bool) {
	if i := strings.IndexByte(user, ':'); i >= 0 {
		if _, err := strconv.ParseUint(user[i+1:], 10, 16); err != nil {
			return "", false
		}
		user = user[:i]
	}
	if i := strings.IndexByte(user, '.'); i >= 0 {
		if _, err := strconv.ParseUint(user[i+1:], 10, 8); err != nil {
			return "", false
		}
		user = user[:i]
	}
	return user, user != ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validGroupUser accepts current group ids ("120363025246125486") and the
// legacy "creator-timestamp" form ("919988066776-1612345678").
func validGroupUser(u string) bool {
	if len(u) > 64 {
		return false
	}
	parts := strings.Split(u, "-")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return false
		}
	}
	return true
}
