package waid_test

import (
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

func TestParse(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		want string
		kind waid.Kind
	}{
		{"919988066776", "919988066776@s.whatsapp.net", waid.KindUser},
		{"+919988066776", "919988066776@s.whatsapp.net", waid.KindUser},
		{" +91 99880-66776 ", "919988066776@s.whatsapp.net", waid.KindUser},
		{"+1 (555) 000.1111", "15550001111@s.whatsapp.net", waid.KindUser},
		{"919988066776@s.whatsapp.net", "919988066776@s.whatsapp.net", waid.KindUser},
		{"919988066776@S.WhatsApp.Net", "919988066776@s.whatsapp.net", waid.KindUser},
		{"919988066776@c.us", "919988066776@s.whatsapp.net", waid.KindUser},
		{"919988066776:7@s.whatsapp.net", "919988066776@s.whatsapp.net", waid.KindUser},
		{"919988066776.0:7@s.whatsapp.net", "919988066776@s.whatsapp.net", waid.KindUser},
		{"120363025246125486@g.us", "120363025246125486@g.us", waid.KindGroup},
		{"919988066776-1612345678@g.us", "919988066776-1612345678@g.us", waid.KindGroup},
		{"123456789012345@lid", "123456789012345@lid", waid.KindLID},
		{"123456789012345:3@lid", "123456789012345@lid", waid.KindLID},
	}
	for _, tc := range ok {
		t.Run("OK/"+tc.in, func(t *testing.T) {
			t.Parallel()
			j, err := waid.Parse("chatId", tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if j.String() != tc.want || j.Kind() != tc.kind {
				t.Fatalf("Parse(%q) = %s (%s), want %s (%s)", tc.in, j, j.Kind(), tc.want, tc.kind)
			}
		})
	}

	bad := []struct {
		in      string
		message string // substring of the client-facing text
	}{
		{"", "chatId is required"},
		{"   ", "chatId is required"},
		{"hello", `Invalid chatId "hello"`},
		{"+", `Invalid chatId "+"`},
		{"12345", "7 to 15 digits"},
		{"1234567890123456", "7 to 15 digits"},
		{"0919988066776", "country code, not 0"},
		{"91998806677a", "Invalid chatId"},
		{"@s.whatsapp.net", "Invalid chatId"},
		{"abc@s.whatsapp.net", "Invalid chatId"},
		{"919988066776@s.whatsapp.net@x", "Invalid chatId"},
		{"919988066776:x@s.whatsapp.net", "Invalid chatId"},
		{"12a@g.us", "Invalid chatId"},
		{"1-2-3@g.us", "Invalid chatId"},
		{"abc@lid", "Invalid chatId"},
		{"status@broadcast", "unsupported JID server"},
		{"123@newsletter", "unsupported JID server"},
	}
	for _, tc := range bad {
		t.Run("Err/"+tc.in, func(t *testing.T) {
			t.Parallel()
			_, err := waid.Parse("chatId", tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tc.in)
			}
			if gateway.ErrorCode(err) != gateway.CodeInvalid {
				t.Fatalf("Parse(%q) code = %s, want invalid", tc.in, gateway.ErrorCode(err))
			}
			if msg := gateway.ErrorMessage(err); !strings.Contains(msg, tc.message) {
				t.Fatalf("Parse(%q) message = %q, want it to contain %q", tc.in, msg, tc.message)
			}
		})
	}
}

func TestFromJIDString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"919988066776:7@s.whatsapp.net", "919988066776@s.whatsapp.net", true},
		{"1234@lid", "1234@lid", true},
		{"120363025246125486@g.us", "120363025246125486@g.us", true},
		{"status@broadcast", "", false},
		{"", "", false},
		{"x@s.whatsapp.net", "", false},
	}
	for _, tc := range cases {
		j, ok := waid.FromJIDString(tc.in)
		if ok != tc.ok || j.String() != tc.want {
			t.Errorf("FromJIDString(%q) = %q, %v; want %q, %v", tc.in, j, ok, tc.want, tc.ok)
		}
	}
}

func TestPhone(t *testing.T) {
	t.Parallel()
	if p := waid.MustParse("+919988066776").Phone(); p != "919988066776" {
		t.Fatalf("Phone = %q", p)
	}
	if p := waid.MustParse("120363025246125486@g.us").Phone(); p != "" {
		t.Fatalf("group Phone = %q", p)
	}
	if !(waid.JID{}).IsZero() || (waid.JID{}).String() != "" {
		t.Fatal("zero JID")
	}
}

func TestParseGroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"120363025246125486@g.us":      "120363025246125486@g.us",
		" 120363025246125486 ":         "120363025246125486@g.us",
		"120363025246125486@G.US":      "120363025246125486@g.us",
		"919988066776-1612345678":      "919988066776-1612345678@g.us",
		"919988066776-1612345678@g.us": "919988066776-1612345678@g.us",
	} {
		j, err := waid.ParseGroup("groupId", in)
		if err != nil || j.String() != want || j.Kind() != waid.KindGroup {
			t.Errorf("ParseGroup(%q) = %v, %v; want %s", in, j, err, want)
		}
	}
	for _, in := range []string{"", "abc", "919988066776@s.whatsapp.net", "123@lid", "1-2-3", "@g.us", "12a@g.us", "1@g.us@g.us"} {
		_, err := waid.ParseGroup("groupId", in)
		if gateway.ErrorCode(err) != gateway.CodeInvalid {
			t.Errorf("ParseGroup(%q) error %v, want invalid", in, err)
		}
	}
}
