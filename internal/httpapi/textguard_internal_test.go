package httpapi

import "testing"

func TestJSONTextReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, field, reason string }{
		{`{"a":"ok","b":[1,"x",{"c":null}]}`, "", ""},
		{`{"a":"x\u0000"}`, "a", reasonNUL},
		{`{"a":{"b":[{"c":"ok"},{"c":"\u0000"}]}}`, "a.b.1.c", reasonNUL},
		{`{"a":[["ok"],["ok","\u0000"]]}`, "a.1.1", reasonNUL},
		{`{"a":{"b\u0000":1}}`, "a", "property names " + reasonNUL},
		{`{"k\u0000":1}`, "", "property names " + reasonNUL},
		{"{\"a\":\"\xff\"}", "a", reasonUTF8},
		{"{\"a\":{\"\xc3(\":1}}", "a", "property names " + reasonUTF8},
		{`"\u0000"`, "", reasonNUL},
		{`["ok",{"x":1},"\u0000"]`, "2", reasonNUL},
		{`{"a":1,"b":true,"c":"\u0000"}`, "c", reasonNUL},
		{`{"a":"\\u0000"}`, "", ""},   // an escaped backslash: no NUL
		{`{"a":"\ud800"}`, "", ""},    // a lone surrogate decodes to U+FFFD
		{`{"a":`, "", ""},             // malformed: the validator reports it
		{"{\"a\":\"x\x00\"}", "", ""}, // a raw NUL is malformed JSON
		{`{"a":"é😀"}`, "", ""},        // valid UTF-8
	} {
		field, reason := jsonTextReason([]byte(tc.body))
		if field != tc.field || reason != tc.reason {
			t.Errorf("%q: got (%q, %q), want (%q, %q)", tc.body, field, reason, tc.field, tc.reason)
		}
	}
}
