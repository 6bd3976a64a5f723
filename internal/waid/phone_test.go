package waid_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

func TestParsePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // "" = refused
		text string // substring of the error
	}{
		{"919988066776", "919988066776", ""},
		{"+919988066776", "919988066776", ""},
		{" +1 555 000-1111 ", "15550001111", ""},
		{"+1 (555) 000.1111", "15550001111", ""},
		{"(49) 30.1234", "49301234", ""},
		{"1555000", "1555000", ""},                 // 7 digits, the shortest
		{"123456789012345", "123456789012345", ""}, // 15 digits, the longest
		{"", "", "phone is required"},
		{"  ", "", "phone is required"},
		{"123456", "", "7 to 15 digits"},
		{"1234567890123456", "", "7 to 15 digits"},
		{"0919988066776", "", "country code, not 0"},
		{"not a phone", "", `Invalid phone "not a phone"`},
		{"1@2", "", "Invalid phone"},
		{"919988066776@s.whatsapp.net", "", "Invalid phone"}, // a JID is not a phone number
		{"+", "", "Invalid phone"},
		{"1+5550001111", "", "Invalid phone"},
		{"١٢٣٤٥٦٧٨", "", "Invalid phone"}, // non-ASCII digits
	} {
		got, err := waid.ParsePhone("phone", tc.in)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("ParsePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// The same number is accepted by Parse, as the same user.
			if j, err := waid.Parse("to", tc.in); err != nil || j != waid.PhoneJID(got) {
				t.Errorf("Parse(%q) = %s, %v; want %s", tc.in, j, err, waid.PhoneJID(got))
			}
			continue
		}
		if err == nil {
			t.Errorf("ParsePhone(%q) = %q, want an error containing %q", tc.in, got, tc.text)
			continue
		}
		if gateway.ErrorCode(err) != gateway.CodeInvalid || !strings.Contains(gateway.ErrorMessage(err), tc.text) {
			t.Errorf("ParsePhone(%q) = %s %q, want invalid containing %q", tc.in, gateway.ErrorCode(err), gateway.ErrorMessage(err), tc.text)
		}
	}
}

func TestParseUser(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"15550002222":                  "15550002222@s.whatsapp.net",
		"+1 555 000 2222":              "15550002222@s.whatsapp.net",
		"15550002222@s.whatsapp.net":   "15550002222@s.whatsapp.net",
		"15550002222:3@s.whatsapp.net": "15550002222@s.whatsapp.net",
		"15550002222@c.us":             "15550002222@s.whatsapp.net",
		"120363025246125486@g.us":      "",
		"123456789@lid":                "",
		"hello":                        "",
		"":                             "",
	} {
		j, err := waid.ParseUser("from", in)
		if want == "" {
			if err == nil || gateway.ErrorCode(err) != gateway.CodeInvalid {
				t.Errorf("ParseUser(%q) = %s, %v; want invalid", in, j, err)
			}
			continue
		}
		if err != nil || j.String() != want {
			t.Errorf("ParseUser(%q) = %s, %v; want %s", in, j, err, want)
		}
	}
	_, err := waid.ParseUser("from", "120363025246125486@g.us")
	if msg := gateway.ErrorMessage(err); !strings.Contains(msg, "not a group") {
		t.Errorf("group refused with %q", msg)
	}
}

func TestPhoneOfIsGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		jid   string
		phone string
		group bool
	}{
		{"15550001111@s.whatsapp.net", "15550001111", false},
		{"15550001111:7@s.whatsapp.net", "15550001111", false},
		{"1234@lid", "", false},
		{"120363025246125486@g.us", "", true},
		{"919988066776-1612345678@g.us", "", true},
		{"status@broadcast", "", false},
		{"15550001111", "", false}, // a phone number is not a JID
		{"", "", false},
	} {
		if got := waid.PhoneOf(tc.jid); got != tc.phone {
			t.Errorf("PhoneOf(%q) = %q, want %q", tc.jid, got, tc.phone)
		}
		if got := waid.IsGroup(tc.jid); got != tc.group {
			t.Errorf("IsGroup(%q) = %v, want %v", tc.jid, got, tc.group)
		}
	}
}

// lidMap is a session's LID map as a table.
type lidMap map[waid.JID]waid.JID // both directions

func (m lidMap) PhoneForLID(_ context.Context, lid waid.JID) (waid.JID, bool) {
	j, ok := m[lid]
	return j, ok
}

func (m lidMap) LIDForPhone(_ context.Context, pn waid.JID) (waid.JID, bool) {
	j, ok := m[pn]
	return j, ok
}

func TestCanonicalChat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pn, lid := waid.MustParse("15550001111"), waid.MustParse("987654321@lid")
	unknownLID := waid.MustParse("111222333@lid")
	group := waid.MustParse("120363025246125486@g.us")
	known := lidMap{lid: pn, pn: lid}
	for _, tc := range []struct {
		name      string
		chat, alt waid.JID
		lids      waid.LIDMap
		want      string
		alts      []string
	}{
		{"LID with the event's phone alt", lid, pn, nil, pn.String(), []string{lid.String()}},
		{"LID the map knows", lid, waid.JID{}, known, pn.String(), []string{lid.String()}},
		{"the event's alt wins over the map", lid, waid.MustParse("15550009999"), known, "15550009999@s.whatsapp.net", []string{lid.String()}},
		{"LID nobody knows yet", unknownLID, waid.JID{}, known, unknownLID.String(), nil},
		{"LID with a LID alt", unknownLID, lid, nil, unknownLID.String(), nil},
		{"phone with its LID known", pn, waid.JID{}, known, pn.String(), []string{lid.String()}},
		{"phone, map unknown", waid.MustParse("15550002222"), waid.JID{}, known, "15550002222@s.whatsapp.net", nil},
		{"phone, no map", pn, lid, nil, pn.String(), nil},
		{"group", group, pn, known, group.String(), nil},
	} {
		ref := waid.CanonicalChat(ctx, tc.chat, tc.alt, tc.lids)
		if ref.JID != tc.want || strings.Join(ref.Alts, ",") != strings.Join(tc.alts, ",") {
			t.Errorf("%s: CanonicalChat = %+v, want %s %v", tc.name, ref, tc.want, tc.alts)
		}
	}
}

func TestCanonicalUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pn, lid := waid.MustParse("15550001111"), waid.MustParse("987654321@lid")
	known := lidMap{lid: pn, pn: lid}
	for _, tc := range []struct {
		name      string
		user, alt waid.JID
		lids      waid.LIDMap
		want      waid.JID
	}{
		{"LID with phone alt", lid, pn, nil, pn},
		{"LID the map knows", lid, waid.JID{}, known, pn},
		{"LID unknown", waid.MustParse("5@lid"), waid.JID{}, known, waid.MustParse("5@lid")},
		{"phone stays", pn, lid, known, pn},
	} {
		if got := waid.CanonicalUser(ctx, tc.user, tc.alt, tc.lids); got != tc.want {
			t.Errorf("%s: CanonicalUser = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestMayBeAlias(t *testing.T) {
	t.Parallel()
	for jid, want := range map[string]bool{
		"987654321@lid": true, "15550001111@s.whatsapp.net": false, "120363025246125486@g.us": false, "": false, "x@lid": false,
	} {
		if got := waid.MayBeAlias(jid); got != want {
			t.Errorf("MayBeAlias(%q) = %v", jid, got)
		}
	}
}
