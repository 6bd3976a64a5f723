package apifuzz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// The mutations. Each applies to one slot of a valid request: a path,
// query or header parameter, the API key, or any node of the JSON body.
const (
	mutNULAppend    = iota // value + NUL
	mutNULOnly             // NUL alone
	mutHugeInt             // past int4, int8, float64
	mutNegative            // negative numbers
	mutWrongType           // bool, number, string, array, object, null
	mutUnicode             // emoji, RTL override, combining marks, noncharacters
	mutLongString          // 300 B to 2 MiB
	mutRemove              // drop the field or parameter (missing required)
	mutExtra               // unknown property or query parameter
	mutBadUUID             // malformed and edge UUIDs
	mutTraversal           // ../, encoded and raw
	mutFuzzString          // the fuzzer's own string
	mutEmpty               // ""
	mutBadUTF8             // invalid UTF-8 bytes
	mutInjection           // SQL, format strings, markup, CRLF
	mutNumberEdge          // 0, 1.5, -0, int4 max, tiny exponents
	mutRawBody             // the whole body replaced by the fuzzer's string
	mutRawNumber           // the fuzzer's string as a JSON number literal
	mutContentType         // missing or wrong Content-Type
	mutOtherFixture        // another real id: a fresh session, an unknown UUID
	mutNULKey              // a property name with NUL / invalid UTF-8
	mutDeepNest            // 64 nested arrays
	mutBigArray            // 5,000 elements
	mutSetValid            // set an absent optional parameter to a valid value
	numMutations
)

var (
	hugeInts  = []string{"2147483648", "9223372036854775808", "1e400", "99999999999999999999999999", "4294967296", "18446744073709551616"}
	negatives = []string{"-1", "-2147483649", "-9223372036854775809", "-1e308", "-0"}
	unicodes  = []string{"héllo wörld", "😀👍🏽🇩🇪", "\u202eevil\u202c", "Z̴̧͌a̷l̵g̶o̵", "\uffff\ufffe\U0010ffff", "日本語テキスト", "\u200b\u200d\ufeff", "\U0001F600" + strings.Repeat("\u0301", 50)}
	badUUIDs  = []string{"not-a-uuid", "00000000-0000-0000-0000-00000000000g", "{00000000-0000-0000-0000-000000000000}", "00000000000000000000000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000", "urn:uuid:00000000-0000-0000-0000-000000000001"}
	traversal = []string{"../../../../etc/passwd", "..%2f..%2fadmin", "..", ".", "%2e%2e%2f", "..\\..\\windows\\win.ini", "/etc/passwd", "....//....//"}
	badUTF8s  = []string{"\xff\xfe\xfd", "a\xc3(", "\xed\xa0\x80", "\xc0\xaf", "ok\x80"}
	injects   = []string{"' OR '1'='1", "%s%s%s%n", "<script>alert(1)</script>", "${jndi:ldap://x/a}", "\r\nX-Injected: 1", "\\u0000", "'; DROP TABLE sessions; --", "{{7*7}}"}
	numEdges  = []string{"0", "1.5", "-0.0", "2147483647", "1e-400", "0.0000001", "1E2", "-2147483648"}
	longSizes = []int{300, 5000, 70000, 2 << 20}
	ctypes    = []string{"", "text/plain", "application/json; charset=latin1", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"}
)

func pick[T any](xs []T, b byte) T { return xs[int(b)%len(xs)] }

// slot is what a mutation applies to.
type slot struct {
	param *openapi3.Parameter // a parameter, or
	key   bool                // the API key, or
	body  []any               // a body node (nil path: the root)
}

func (r *request) slots() []slot {
	var out []slot
	for _, p := range r.Op.Params {
		out = append(out, slot{param: p})
	}
	out = append(out, slot{key: true})
	if r.HasBody {
		var paths [][]any
		nodes(r.Body, []any{}, &paths)
		for _, p := range paths {
			out = append(out, slot{body: p})
		}
	}
	return out
}

// mutationValue is the value kind puts in place of orig.
func mutationValue(kind int, variant byte, orig any, str string) any {
	s, _ := orig.(string)
	switch kind {
	case mutNULAppend:
		return s + "\x00"
	case mutNULOnly:
		return "\x00"
	case mutHugeInt:
		return rawNumber(pick(hugeInts, variant))
	case mutNegative:
		return rawNumber(pick(negatives, variant))
	case mutWrongType:
		types := []any{true, 42.0, "str", []any{}, map[string]any{}, nil, []any{"a", 1.0}}
		return types[int(variant)%len(types)]
	case mutUnicode:
		return pick(unicodes, variant)
	case mutLongString:
		return strings.Repeat(string(rune('a'+variant%26)), pick(longSizes, variant))
	case mutBadUUID:
		return pick(badUUIDs, variant)
	case mutTraversal:
		return pick(traversal, variant)
	case mutFuzzString:
		return str
	case mutEmpty:
		return ""
	case mutBadUTF8:
		return s + pick(badUTF8s, variant)
	case mutInjection:
		return pick(injects, variant)
	case mutNumberEdge:
		return rawNumber(pick(numEdges, variant))
	case mutRawNumber:
		return rawNumber(str)
	case mutDeepNest:
		var v any = "x"
		for range 64 {
			v = []any{v}
		}
		return v
	case mutBigArray:
		var e any = 1.0
		if len(s) > 0 && len(s) <= 64 {
			e = s
		}
		out := make([]any, 5000)
		for i := range out {
			out[i] = e
		}
		return out
	}
	return orig
}

// mutate applies plan (triples: slot, kind, variant; at most 4) to r.
func (h *harness) mutate(r *request, g *generator, plan []byte, str string) {
	for i := 0; i+2 < len(plan) && i < 12; i += 3 {
		slots := r.slots()
		sl := slots[int(plan[i])%len(slots)]
		kind, variant := int(plan[i+1])%numMutations, plan[i+2]
		switch kind {
		case mutRawBody:
			r.RawBody, r.HasBody = []byte(str), true
			continue
		case mutContentType:
			r.ContentType = pick(ctypes, variant)
			continue
		}
		switch {
		case sl.key:
			switch kind {
			case mutRemove:
				r.Key = ""
			case mutOtherFixture:
				r.Key = h.sessionKey(variant)
			default:
				r.Key = validHeaderValue(text(mutationValue(kind, variant, r.Key, str)))
			}
		case sl.param != nil:
			h.mutateParam(r, g, sl.param, kind, variant, str)
		default:
			h.mutateBody(r, g, sl.body, kind, variant, str)
		}
	}
}

func (h *harness) mutateParam(r *request, g *generator, p *openapi3.Parameter, kind int, variant byte, str string) {
	var orig string
	switch p.In {
	case openapi3.ParameterInPath:
		orig = r.Path[p.Name]
	case openapi3.ParameterInQuery:
		if vs := r.Query[p.Name]; len(vs) > 0 {
			orig = vs[0]
		}
	case openapi3.ParameterInHeader:
		orig = r.Header[p.Name]
	}
	var v string
	switch kind {
	case mutRemove:
		switch p.In {
		case openapi3.ParameterInPath:
			r.Path[p.Name] = ""
		case openapi3.ParameterInQuery:
			delete(r.Query, p.Name)
		case openapi3.ParameterInHeader:
			delete(r.Header, p.Name)
		}
		return
	case mutExtra:
		r.Query["zz_extra"] = append(r.Query["zz_extra"], str)
		return
	case mutOtherFixture:
		v = h.otherFixture(r.Op, p.Name, variant)
	case mutSetValid:
		var s *openapi3.Schema
		if p.Schema != nil {
			s = p.Schema.Value
		}
		v = text(g.value(p.Name, s, 0))
	case mutTraversal:
		v = text(mutationValue(kind, variant, orig, str))
		if p.In == openapi3.ParameterInPath && variant%2 == 0 {
			r.RawPath[p.Name] = true
		}
	default:
		v = text(mutationValue(kind, variant, orig, str))
	}
	switch p.In {
	case openapi3.ParameterInPath:
		r.Path[p.Name] = v
	case openapi3.ParameterInQuery:
		r.Query[p.Name] = []string{v}
	case openapi3.ParameterInHeader:
		r.Header[p.Name] = validHeaderValue(v)
	}
}

func (h *harness) mutateBody(r *request, g *generator, path []any, kind int, variant byte, str string) {
	if r.RawBody != nil {
		return
	}
	cur, set := at(&r.Body, path)
	if set == nil {
		return
	}
	switch kind {
	case mutRemove:
		if len(path) == 0 {
			r.HasBody = false
		}
		set(nil, true)
	case mutExtra, mutNULKey:
		obj, ok := cur.(map[string]any)
		if !ok {
			obj, ok = r.Body.(map[string]any)
			if !ok {
				return
			}
		}
		k := "zz_extra"
		if kind == mutNULKey {
			k = pick([]string{"a\x00b", "\x00", "k\xff"}, variant)
		}
		obj[k] = str
	case mutOtherFixture:
		name := ""
		if len(path) > 0 {
			name, _ = path[len(path)-1].(string)
		}
		set(h.otherFixture(r.Op, name, variant), false)
	case mutSetValid:
		// Fill every optional property of the schema at this node again.
		if len(path) == 0 && r.Op.Body != nil {
			r.Body = g.value("", r.Op.Body, 0)
		}
	default:
		set(mutationValue(kind, variant, cur, str), false)
	}
}

// otherFixture is another real or plausible value for a named field
// (only plausible ones for destructive operations).
func (h *harness) otherFixture(op operation, name string, variant byte) string {
	if destructive(op) { // never the shared fixtures: later inputs need them
		return pick([]string{"00000000-0000-4000-8000-000000000000", "3EB0000000000000000000", "9995550100@s.whatsapp.net", "key_ffffffffffffffff", "1"}, variant)
	}
	switch name {
	case "id", "sessionId":
		return pick([]string{h.deep, "00000000-0000-4000-8000-000000000000", h.idle}, variant)
	case "chatId", "jid", "to":
		return pick([]string{contactJID, contactPhone, "120363000000000001@g.us", "status@broadcast", "9995550100", "+" + contactPhone, ownPhone + "@s.whatsapp.net", "15550002222:1@s.whatsapp.net", "@s.whatsapp.net", "15550002222@lid"}, variant)
	case "messageId", "quotedMessageId":
		return pick([]string{h.messageID, "3EB0000000000000000000", "0"}, variant)
	}
	return pick([]string{h.deep, h.messageID, contactJID, h.webhookID, h.keyID, "1"}, variant)
}

// sessionKey returns a key of another kind: the idle session's, a revoked
// one, a managed key.
func (h *harness) sessionKey(variant byte) string {
	return pick([]string{h.idleKey, "wask_" + strings.Repeat("0", 48), h.admin, "wamk_" + strings.Repeat("f", 48)}, variant)
}

// destructive operations get fresh resources, so that the fixtures stay.
func destructive(op operation) bool {
	switch op.ID {
	case "logoutSession", "stopSession", "sandboxLink", "restartSession", "sandboxFault", "leaveGroup":
		return true
	}
	return op.Method == http.MethodDelete
}

// base returns op's valid request on the fixtures (fresh ones for
// destructive operations); cleanup removes what it created.
func (h *harness) base(t *testing.T, op operation) (*request, *generator) {
	named := map[string]any{
		"id": h.deep, "chatId": contactJID, "messageId": h.messageID, "jid": contactJID,
		"webhookId": h.webhookID, "deliveryId": "1", "keyId": h.keyID, "phone": contactPhone,
		"to": contactPhone, "from": contactPhone, "quotedMessageId": h.messageID,
		"image": "https://example.com/photo.jpg", "name": "fuzz-name", "emoji": "👍", "mimeType": "image/png",
	}
	if op.ID == "editMessage" || op.ID == "deleteMessage" {
		named["messageId"] = h.sentID // only own messages can be edited or revoked
	}
	if op.ID == "sandboxExpireMedia" {
		named["messageId"] = h.mediaID // a media message a simulated contact sent
	}
	if destructive(op) {
		last := ""
		for _, p := range op.Params {
			if p.In == openapi3.ParameterInPath {
				last = p.Name
			}
		}
		switch last {
		case "id":
			id := h.newSession(t, "fuzz-fresh")
			named["id"] = id
			t.Cleanup(func() { h.call(t, http.MethodDelete, "/sessions/"+id, "") })
		case "webhookId":
			id := h.newWebhook(t)
			named["webhookId"] = id
			t.Cleanup(func() { h.call(t, http.MethodDelete, "/sessions/"+h.deep+"/webhooks/"+id, "") })
		case "keyId":
			named["keyId"] = h.newKey(t)
		case "chatId":
			named["chatId"], named["messageId"] = h.inbound(t, h.freshPhone())
		case "messageId":
			named["messageId"] = h.send(t)
		}
	}
	g := &generator{named: named, missing: map[string]bool{}}
	r := &request{Op: op, Path: map[string]string{}, RawPath: map[string]bool{}, Query: map[string][]string{},
		Header: map[string]string{}, Key: h.admin, ContentType: "application/json"}
	for _, p := range op.Params {
		if p.In == openapi3.ParameterInPath || p.Required {
			var s *openapi3.Schema
			if p.Schema != nil {
				s = p.Schema.Value
			}
			v := text(g.value(p.Name, s, 0))
			switch p.In {
			case openapi3.ParameterInPath:
				r.Path[p.Name] = v
			case openapi3.ParameterInQuery:
				r.Query[p.Name] = []string{v}
			case openapi3.ParameterInHeader:
				r.Header[p.Name] = v
			}
		}
	}
	if op.Body != nil {
		r.Body, r.HasBody = g.value("", op.Body, 0), true
	}
	return r, g
}

func (h *harness) freshPhone() string { return fmt.Sprintf("1555%07d", h.seq.Add(1)%10000000) }

// maxBody bounds the bodies sent: past the server's limits (1 MiB, 16 MiB
// for images) only the 413 is left to test.
const maxBody = 17 << 20

// maxHeaderSize keeps requests under net/http's header limit.
const maxHeaderSize = http.DefaultMaxHeaderBytes - 16<<10

// httpRequest encodes r; nil when the mutated URL cannot be sent at all.
func (h *harness) httpRequest(r *request) *http.Request {
	path := r.Op.Path
	for name, v := range r.Path {
		if !r.RawPath[name] {
			v = url.PathEscape(v)
		}
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	u := h.srv.URL + path
	if q := url.Values(r.Query).Encode(); q != "" {
		u += "?" + q
	}
	var body io.Reader
	if r.HasBody {
		b := r.RawBody
		if b == nil {
			var buf bytes.Buffer
			encodeJSON(&buf, r.Body)
			b = buf.Bytes()
		}
		if len(b) > maxBody {
			return nil
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(r.Op.Method, u, body)
	if err != nil {
		return nil
	}
	if r.HasBody && r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Key != "" {
		req.Header.Set("X-API-Key", r.Key)
	}
	size := len(u)
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	// net/http answers a request line and headers past MaxHeaderBytes (1
	// MiB) itself, 431 in plain text, before any handler: not the API's.
	if size > maxHeaderSize {
		return nil
	}
	return req
}

// exchange sends req through the contract transport (which fails t on a
// 500, 502 or 504, on any status the operation does not document, and on
// any body outside its schema, error bodies included) and returns the
// status and body.
func exchange(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	c := &http.Client{Transport: &testkit.ContractTransport{TB: t}, Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout") {
			t.Fatalf("%s %s: no answer: %v", req.Method, req.URL, err)
		}
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	return resp.StatusCode, b
}

// opByName finds the operation named op, or (for the fuzzer's mutated
// names) the one its hash selects.
func opByName(ops []operation, op string) operation {
	for _, o := range ops {
		if o.ID == op {
			return o
		}
	}
	f := fnv.New32a()
	_, _ = f.Write([]byte(op))
	return ops[int(f.Sum32()%uint32(len(ops)))]
}

// run drives one input: the operation's valid request, mutated by plan.
func (h *harness) run(t *testing.T, ops []operation, opName string, plan []byte, str string) {
	op := opByName(ops, opName)
	start := time.Now()
	r, g := h.base(t, op)
	t.Logf("%s: fixtures in %v", op.ID, time.Since(start).Round(time.Millisecond))
	h.mutate(r, g, plan, str)
	req := h.httpRequest(r)
	if req == nil {
		t.Logf("%s: the mutated request cannot be sent", op.ID)
		return
	}
	start = time.Now()
	status, body := exchange(t, req)
	t.Logf("%s %s %s -> %d in %v: %.300s", op.ID, req.Method, truncate(req.URL.String(), 300), status, time.Since(start).Round(time.Millisecond), body)
	h.cleanupCreated(t, op, status, body)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// cleanupCreated removes sessions and webhooks the input created, so that a
// long run does not accumulate connecting clients and deliveries.
func (h *harness) cleanupCreated(t testing.TB, op operation, status int, body []byte) {
	if status != http.StatusCreated {
		return
	}
	switch op.ID {
	case "createSession":
		var r struct{ Session struct{ ID string } }
		if json.Unmarshal(body, &r) == nil && r.Session.ID != "" {
			h.call(t, http.MethodDelete, "/sessions/"+r.Session.ID, "")
		}
	case "createWebhook":
		var r struct {
			Webhook struct{ ID, SessionID string }
		}
		if json.Unmarshal(body, &r) == nil && r.Webhook.ID != "" {
			for _, sid := range []string{h.deep, h.idle} {
				h.call(t, http.MethodDelete, "/sessions/"+sid+"/webhooks/"+r.Webhook.ID, "")
			}
		}
	}
}

// seeds returns the seed corpus: per operation, its valid request, then
// every mutation once (on rotating slots), then NUL in every body node.
// seed is one entry of the seed corpus.
type seed struct {
	op   string
	plan []byte
	str  string
}

func (h *harness) seeds(ops []operation) []seed {
	var out []seed
	strs := []string{"\x00", "../..", "%00", "\xff", `{"a":`, "99999999999999999999", "😀", strings.Repeat("x", 300)}
	for _, op := range ops {
		out = append(out, seed{op.ID, []byte{}, ""})
		r, _ := h.baseNoFresh(op)
		n := len(r.slots())
		for k := range numMutations {
			out = append(out, seed{op.ID, []byte{byte(k % n), byte(k), byte(k)}, strs[k%len(strs)]})
		}
		for i, s := range r.slots() {
			if s.body != nil {
				if _, isStr := func() (any, bool) { v, _ := at(&r.Body, s.body); _, ok := v.(string); return v, ok }(); isStr {
					out = append(out, seed{op.ID, []byte{byte(i), mutNULAppend, 0}, ""})
				}
			}
		}
	}
	return out
}

// baseNoFresh is base without fresh resources (the slots only).
func (h *harness) baseNoFresh(op operation) (*request, *generator) {
	g := &generator{named: map[string]any{}, missing: map[string]bool{}}
	r := &request{Op: op}
	if op.Body != nil {
		r.Body, r.HasBody = g.value("", op.Body, 0), true
	}
	return r, g
}

// FuzzAPI drives every operation of openapi.yaml with mutated requests. The
// seed corpus (every operation, every mutation, NUL in every body string)
// runs in `go test`; `make fuzz FUZZTIME=10m` runs the fuzzer.
func FuzzAPI(f *testing.F) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		f.Fatal(err)
	}
	ops := operations(spec)
	h := newHarness(f)
	for _, s := range h.seeds(ops) {
		f.Add(s.op, s.plan, s.str)
	}
	f.Fuzz(func(t *testing.T, op string, plan []byte, str string) {
		h.run(t, ops, op, plan, str)
	})
}

// notDeepYet are the operations of the second wave whose valid request the
// generator cannot build yet (a group fixture, media bytes of each kind, a
// ringing call, a cluster node, a contact's media message): FuzzAPI still drives them and fails on any
// 500 or undocumented status, but TestSpecGeneration does not demand that
// their unmutated request goes deep. Shrink this list as fixtures are added.
var notDeepYet = map[string]bool{
	"getGroup": true, "getGroupInviteLink": true, "groupParticipants": true, "leaveGroup": true,
	"revokeGroupInviteLink": true, "setGroupPicture": true, "updateGroup": true,
	"sandboxCreateGroup": true, "sandboxGetGroup": true, "sandboxGroupInbound": true, "sandboxGroupParticipants": true,
	"sandboxCallState": true, "listClusterNodes": true,
	"sendAudio": true, "sendContact": true, "sendPoll": true, "sendSticker": true, "sendVideo": true,
}

// TestSpecGeneration checks the generator covers the spec: every pattern
// has a value, and every operation's unmutated request is answered with a
// documented status that is not a 4xx of the request's own making (so the
// fuzzer starts from requests that go deep).
func TestSpecGeneration(t *testing.T) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	ops := operations(spec)
	if len(ops) < 50 {
		t.Fatalf("only %d operations", len(ops))
	}
	h := newHarness(t)
	var missing []string
	statuses := map[string]int{}
	for _, op := range ops {
		t.Run(op.ID, func(t *testing.T) {
			r, g := h.base(t, op)
			for p := range g.missing {
				missing = append(missing, p)
			}
			req := h.httpRequest(r)
			status, body := exchange(t, req)
			statuses[op.ID] = status
			h.cleanupCreated(t, op, status, body)
			if notDeepYet[op.ID] {
				return // still fuzzed; its valid request is not generated yet
			}
			if status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound && op.ID != "redeliverWebhook" && op.ID != "getMessageMedia" {
				t.Errorf("valid request answered %d %s", status, body)
			}
		})
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("patterns without a value in patternValues: %q", missing)
	}
	t.Logf("statuses of the valid requests: %v", statuses)
}
