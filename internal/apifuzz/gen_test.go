package apifuzz_test

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// operation is one operation of openapi.yaml as the fuzzer drives it.
type operation struct {
	ID, Method, Path string
	Params           []*openapi3.Parameter // path item's, then the operation's
	Body             *openapi3.Schema      // JSON request body schema, nil when none
}

// operations returns every operation of spec, sorted by operationId.
func operations(spec *openapi3.T) []operation {
	var ops []operation
	for _, path := range spec.Paths.InMatchingOrder() {
		item := spec.Paths.Value(path)
		for method, op := range item.Operations() {
			if streams(op) {
				// An event stream answers until the client leaves: its
				// refusals are tested in internal/httpapi (stream tests).
				continue
			}
			o := operation{ID: op.OperationID, Method: method, Path: path}
			for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range ps {
					o.Params = append(o.Params, ref.Value)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					o.Body = mt.Schema.Value
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops
}

// patternValues are valid values for the patterns of openapi.yaml (the
// generator does not invert regular expressions). TestSpecGeneration fails
// when a pattern has no entry here.
var patternValues = map[string]string{
	`^\+?[0-9]{6,15}$`:                contactPhone,
	`^[A-Za-z0-9][A-Za-z0-9 ._:@-]*$`: "fuzz-name",
	`^key_[0-9a-f]{16,32}$`:           "key_0000000000000000",
	`^[0-9]{1,19}$`:                   "1",
	`^[A-Z0-9]{4}-?[A-Z0-9]{4}$`:      "ABCD-EFGH",
	`^wask_[0-9a-f]{48}$`:             "wask_" + strings.Repeat("0", 48),
}

// generator builds valid values from schemas; named values (property and
// parameter names) bind the fixtures so that requests reach real data.
type generator struct {
	named   map[string]any
	missing map[string]bool // patterns without a value (reported by TestSpecGeneration)
}

func (g *generator) value(name string, s *openapi3.Schema, depth int) any {
	if v, ok := g.named[name]; ok {
		return v
	}
	if s == nil {
		return "fuzz"
	}
	if len(s.AllOf) > 0 {
		merged := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}, Properties: openapi3.Schemas{}}
		for _, ref := range s.AllOf {
			for k, p := range ref.Value.Properties {
				merged.Properties[k] = p
			}
			merged.Required = append(merged.Required, ref.Value.Required...)
		}
		return g.value(name, merged, depth)
	}
	if len(s.OneOf) > 0 {
		return g.value(name, s.OneOf[0].Value, depth)
	}
	if len(s.AnyOf) > 0 {
		return g.value(name, s.AnyOf[0].Value, depth)
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		return g.str(s)
	case s.Type.Is(openapi3.TypeInteger), s.Type.Is(openapi3.TypeNumber):
		n := 1.0
		if s.Min != nil && n < *s.Min {
			n = *s.Min
		}
		if s.Max != nil && n > *s.Max {
			n = *s.Max
		}
		return n
	case s.Type.Is(openapi3.TypeBoolean):
		return true
	case s.Type.Is(openapi3.TypeArray):
		n := max(1, int(s.MinItems))
		out := make([]any, 0, n)
		for range n {
			var item *openapi3.Schema
			if s.Items != nil {
				item = s.Items.Value
			}
			out = append(out, g.value(name, item, depth+1))
		}
		return out
	default: // object
		out := map[string]any{}
		if depth > 6 {
			return out
		}
		for k, p := range s.Properties {
			out[k] = g.value(k, p.Value, depth+1)
		}
		if ap := s.AdditionalProperties.Schema; ap != nil && len(s.Properties) == 0 {
			out["note"] = g.value("note", ap.Value, depth+1)
		}
		return out
	}
}

func (g *generator) str(s *openapi3.Schema) string {
	var v string
	switch {
	case s.Format == "uuid":
		v = "00000000-0000-4000-8000-000000000001"
	case s.Format == "uri":
		v = "https://example.com/hook"
	case s.Format == "date-time":
		v = time.Now().UTC().Format(time.RFC3339)
	case s.Pattern != "":
		var ok bool
		if v, ok = patternValues[s.Pattern]; !ok {
			g.missing[s.Pattern] = true
		}
	case s.Example != nil:
		v, _ = s.Example.(string)
	}
	if v == "" {
		v = "fuzz"
	}
	for uint64(len(v)) < s.MinLength {
		v += "x"
	}
	if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
		v = v[:*s.MaxLength]
	}
	return v
}

// request is a request before encoding: parameters as strings, the body as
// a tree of any (strings keep their exact bytes).
type request struct {
	Op          operation
	Path        map[string]string
	RawPath     map[string]bool // insert the value unescaped (path traversal)
	Query       map[string][]string
	Header      map[string]string
	Body        any  // nil with HasBody false: no body
	HasBody     bool //
	RawBody     []byte
	ContentType string
	Key         string
}

// rawNumber is a number literal written as is (huge, malformed).
type rawNumber string

// encodeJSON writes v with every string's bytes as they are (invalid UTF-8
// included) and control characters escaped, so that NUL arrives as \u0000.
func encodeJSON(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			buf.WriteString(strconv.FormatInt(int64(t), 10))
		} else {
			buf.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
		}
	case rawNumber:
		buf.WriteString(string(t))
	case string:
		buf.WriteByte('"')
		for i := 0; i < len(t); i++ {
			c := t[i]
			switch {
			case c == '"' || c == '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case c < 0x20:
				fmt.Fprintf(buf, `\u%04x`, c)
			default:
				buf.WriteByte(c)
			}
		}
		buf.WriteByte('"')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeJSON(buf, e)
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeJSON(buf, k)
			buf.WriteByte(':')
			encodeJSON(buf, t[k])
		}
		buf.WriteByte('}')
	default:
		encodeJSON(buf, fmt.Sprint(t))
	}
}

// text renders a mutated value as a parameter string.
func text(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case rawNumber:
		return string(t)
	}
	var b bytes.Buffer
	encodeJSON(&b, v)
	return b.String()
}

// nodes lists the paths of every node of a body tree (the root first).
func nodes(v any, prefix []any, out *[][]any) {
	*out = append(*out, prefix)
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			nodes(e, append(append([]any(nil), prefix...), i), out)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			nodes(t[k], append(append([]any(nil), prefix...), k), out)
		}
	}
}

// at returns the node at path and a setter (nil when the path is gone).
func at(root *any, path []any) (any, func(v any, remove bool)) {
	if len(path) == 0 {
		return *root, func(v any, remove bool) {
			if remove {
				*root = nil
			} else {
				*root = v
			}
		}
	}
	parent, _ := at(root, path[:len(path)-1])
	switch p := parent.(type) {
	case map[string]any:
		k, ok := path[len(path)-1].(string)
		if !ok {
			return nil, nil
		}
		cur, ok := p[k]
		if !ok {
			return nil, nil
		}
		return cur, func(v any, remove bool) {
			if remove {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
	case []any:
		i, ok := path[len(path)-1].(int)
		if !ok || i >= len(p) {
			return nil, nil
		}
		return p[i], func(v any, remove bool) {
			if remove {
				p[i] = nil
			} else {
				p[i] = v
			}
		}
	}
	return nil, nil
}

// validHeaderValue drops what net/http's client refuses to send (control
// characters); bytes >= 0x80 (invalid UTF-8 included) stay.
func validHeaderValue(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c >= 0x20 || c == '\t') && c != 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// streams reports whether op answers with an open-ended event stream.
func streams(op *openapi3.Operation) bool {
	for _, r := range op.Responses.Map() {
		if r.Value != nil && r.Value.Content.Get("text/event-stream") != nil {
			return true
		}
	}
	return false
}
