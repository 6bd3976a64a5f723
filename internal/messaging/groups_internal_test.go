package messaging

import (
	"encoding/base64"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
)

func TestInviteCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://chat.whatsapp.com/AbC123": "AbC123",
		" chat.whatsapp.com/AbC123 ":       "AbC123",
		"AbC123":                           "AbC123",
	} {
		if got, err := inviteCode(in); err != nil || got != want {
			t.Errorf("inviteCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":                              gateway.MsgInviteLinkRequired,
		"https://chat.whatsapp.com/":    gateway.MsgInvalidInviteLink,
		"https://example.com/AbC123":    gateway.MsgInvalidInviteLink,
		"AbC 123":                       gateway.MsgInvalidInviteLink,
		"https://chat.whatsapp.com/a/b": gateway.MsgInvalidInviteLink,
	} {
		if _, err := inviteCode(in); gateway.ErrorCode(err) != gateway.CodeInvalid || gateway.ErrorMessage(err) != msg {
			t.Errorf("inviteCode(%q) error %v, want %q", in, err, msg)
		}
	}
}

func TestDecodeJPEG(t *testing.T) {
	t.Parallel()
	jpeg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3}
	b64 := base64.StdEncoding.EncodeToString(jpeg)
	for _, in := range []string{b64, "data:image/jpeg;base64," + b64, base64.RawStdEncoding.EncodeToString(jpeg)} {
		if got, err := decodeJPEG(in); err != nil || string(got) != string(jpeg) {
			t.Errorf("decodeJPEG(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("GIF89a...")), "data:image/jpeg," + b64} {
		if _, err := decodeJPEG(in); gateway.ErrorMessage(err) != gateway.MsgGroupPictureNotJPEG {
			t.Errorf("decodeJPEG(%q) error %v, want not-JPEG", in, err)
		}
	}
}

func TestParseParticipantsAndSubject(t *testing.T) {
	t.Parallel()
	got, err := parseParticipants([]string{"+1 555 000 1111", "15550001111@s.whatsapp.net", "123456789@lid"})
	if err != nil || len(got) != 2 || got[0] != "15550001111@s.whatsapp.net" || got[1] != "123456789@lid" {
		t.Fatalf("parseParticipants = %v, %v", got, err)
	}
	if _, err := parseParticipants([]string{"120363025246125486@g.us"}); gateway.ErrorCode(err) != gateway.CodeInvalid {
		t.Fatalf("a group as participant: %v", err)
	}
	if _, err := checkSubject("  "); gateway.ErrorMessage(err) != gateway.MsgGroupSubjectRequired {
		t.Fatalf("blank subject: %v", err)
	}
	long := ""
	for i := 0; i < 101; i++ {
		long += "é"
	}
	if _, err := checkSubject(long); gateway.ErrorMessage(err) != gateway.MsgGroupSubjectTooLong {
		t.Fatalf("101-character subject: %v", err)
	}
	if s, err := checkSubject(long[:200]); err != nil || s != long[:200] {
		t.Fatalf("100-character subject: %q %v", s, err)
	}
}
