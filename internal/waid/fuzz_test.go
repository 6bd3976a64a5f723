package waid_test

import (
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// FuzzParse: any input is either refused with a CodeInvalid error or parsed
// into a JID whose string form parses back to the same JID (normalisation is
// idempotent), ParsePhone agrees with Parse on phone numbers, and
// FromJIDString never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"919988066776", "+919988066776", "919988066776@s.whatsapp.net", "919988066776:7@s.whatsapp.net",
		"120363000000000001@g.us", "123456789@lid", "+1 555 000 2222", "", "@", "@g.us", "abc",
		"9999999999999999999999", "1555\x00000", "919988066776@c.us", "status@broadcast",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = waid.FromJIDString(s)
		j, err := waid.Parse("chatId", s)
		if _, perr := waid.ParsePhone("phone", s); perr != nil && gateway.ErrorCode(perr) != gateway.CodeInvalid {
			t.Fatalf("ParsePhone(%q): error %v has code %q, want invalid", s, perr, gateway.ErrorCode(perr))
		} else if perr == nil && err != nil {
			t.Fatalf("ParsePhone(%q) accepts what Parse refuses: %v", s, err)
		}
		if err != nil {
			if gateway.ErrorCode(err) != gateway.CodeInvalid {
				t.Fatalf("Parse(%q): error %v has code %q, want invalid", s, err, gateway.ErrorCode(err))
			}
			return
		}
		again, err := waid.Parse("chatId", j.String())
		if err != nil || again != j {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", s, j, j.String(), again, err)
		}
		// ParsePhone accepts exactly the phone numbers among Parse's inputs,
		// as the same user.
		if !strings.Contains(s, "@") {
			digits, err := waid.ParsePhone("phone", s)
			if err != nil || waid.PhoneJID(digits) != j {
				t.Fatalf("Parse(%q) = %q, but ParsePhone = %q, %v", s, j, digits, err)
			}
		}
	})
}
