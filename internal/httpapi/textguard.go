package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The one rule for text that can reach PostgreSQL: it refuses NUL in text
// columns (SQLSTATE 22021) and the \u0000 escape in jsonb (22P05), and
// every column is UTF-8. guardText applies it to every string of a routed
// request before the schema validation: the path parameters (as unescaped
// for the handlers), every query parameter, the header parameters the
// operation declares, and every JSON string and property name of the body
// at any depth. Strict handlers see nothing else of a request, so the rule
// covers every endpoint, present and future.
const (
	reasonNUL  = "must not contain NUL characters"
	reasonUTF8 = "must be valid UTF-8"
)

// textReason returns why s cannot be stored as text ("" when it can).
func textReason(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return reasonNUL
	case !utf8.ValidString(s):
		return reasonUTF8
	}
	return ""
}

// guardText refuses, with 400 naming the field, a request with a string
// PostgreSQL cannot store. The body is read and put back for the validator.
func guardText(req *http.Request, route *routers.Route, params map[string]string, multipart bool) error {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if r := textReason(params[k]); r != "" {
			return paramTextError(openapi3.ParameterInPath, k, r)
		}
	}
	query := req.URL.Query()
	names = names[:0]
	for k := range query {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if r := textReason(k); r != "" {
			return gateway.E(gateway.CodeInvalid, "Invalid query parameter name: "+r)
		}
		for _, v := range query[k] {
			if r := textReason(v); r != "" {
				return paramTextError(openapi3.ParameterInQuery, k, r)
			}
		}
	}
	for _, p := range declaredParams(route) {
		if p.In != openapi3.ParameterInHeader && p.In != openapi3.ParameterInCookie {
			continue
		}
		var values []string
		if p.In == openapi3.ParameterInHeader {
			values = req.Header.Values(p.Name)
		} else if c, err := req.Cookie(p.Name); err == nil {
			values = []string{c.Value}
		}
		for _, v := range values {
			if r := textReason(v); r != "" {
				return paramTextError(p.In, p.Name, r)
			}
		}
	}
	if req.Body == nil || req.Body == http.NoBody || multipart {
		return nil // multipart fields are checked by the handler (multipart.go)
	}
	var body []byte
	if b, ok := req.Body.(*readBody); ok {
		body = b.data // read by limitBody: no second copy
	} else {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return err
		}
	}
	if field, r := jsonTextReason(body); r != "" {
		msg := "Invalid request body: " + r
		if field != "" {
			msg = "Invalid request body: " + field + ": " + r
		}
		return gateway.E(gateway.CodeInvalid, msg)
	}
	return nil
}

func paramTextError(in, name, reason string) error {
	return gateway.E(gateway.CodeInvalid, fmt.Sprintf("Invalid %s parameter %q: %s", in, name, reason))
}

// declaredParams returns the parameters of the route's path item and
// operation.
func declaredParams(route *routers.Route) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	add := func(ps openapi3.Parameters) {
		for _, ref := range ps {
			if ref != nil && ref.Value != nil {
				out = append(out, ref.Value)
			}
		}
	}
	if route.PathItem != nil {
		add(route.PathItem.Parameters)
	}
	if route.Operation != nil {
		add(route.Operation.Parameters)
	}
	return out
}

// jsonFrame is one open object or array of the body being walked.
type jsonFrame struct {
	object    bool
	expectKey bool   // object: the next string is a property name
	key       string // object: the current property
	index     int    // array: the current element
}

// maxFieldName bounds the field name quoted in an error.
const maxFieldName = 200

// jsonTextReason walks body's tokens and returns the first string or
// property name PostgreSQL cannot store, with its dotted path ("" for the
// root), the notation of the validator's messages. A body that is not JSON
// returns "": the validator reports it.
func jsonTextReason(body []byte) (field, reason string) {
	// Fast path, one pass over the bytes: JSON without a NUL byte, a
	// \u0000 escape or invalid UTF-8 has no string to refuse (a decoded
	// lone surrogate becomes U+FFFD). Decoding token by token would copy
	// every large string (a base64 file) and grow its buffer to hold it.
	if bytes.IndexByte(body, 0) < 0 && !bytes.Contains(body, []byte(`\u0000`)) && utf8.Valid(body) {
		return "", ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []jsonFrame
	path := func(withKey bool) string {
		parts := make([]string, 0, len(stack))
		for i, f := range stack {
			switch {
			case !f.object:
				parts = append(parts, strconv.Itoa(f.index))
			case i < len(stack)-1 || withKey:
				parts = append(parts, f.key)
			}
		}
		p := strings.Join(parts, ".")
		if utf8.RuneCountInString(p) > maxFieldName {
			p = string([]rune(p)[:maxFieldName]) + "…"
		}
		return p
	}
	// valueDone advances the innermost container past a complete value.
	valueDone := func() {
		if n := len(stack); n > 0 {
			if f := &stack[n-1]; f.object {
				f.expectKey = true
			} else {
				f.index++
			}
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", ""
		}
		if err != nil {
			return "", ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, jsonFrame{object: t == '{', expectKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			// The decoder replaces invalid UTF-8 with U+FFFD: check the raw
			// bytes of the token (and the separators before it, all ASCII).
			r := textReason(t)
			if r == "" && !utf8.Valid(body[start:dec.InputOffset()]) {
				r = reasonUTF8
			}
			n := len(stack)
			if n > 0 && stack[n-1].object && stack[n-1].expectKey {
				if r != "" {
					return path(false), "property names " + r
				}
				stack[n-1].key, stack[n-1].expectKey = t, false
				continue
			}
			if r != "" {
				return path(true), r
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
