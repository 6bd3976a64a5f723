package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/mcp"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func newServer(t *testing.T) *testkit.Server {
	return testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), Deps: func(d *httpapi.Deps) {
		d.Routes = func(e *echo.Echo) {
			mcp.Register(e, mcp.New(mcp.Deps{Sessions: d.SessionService, Messaging: d.Messaging, Groups: d.Groups, Store: d.Sessions,
				Authenticate: httpapi.Authenticator(d.Keys, d.AdminKeyHash), Version: "test"}))
		}
	}})
}

type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP session with the SDK's client, authenticated by key.
func connect(t *testing.T, s *testkit.Server, key string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "wagate-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint: s.URL + mcp.Path, HTTPClient: &http.Client{Transport: keyTransport{key}},
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func call(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	r, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func text(r *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestToolsMatchOpenAPI: every tool names an operation of openapi.yaml, and
// its input schema has exactly that operation's parameters (path {id} as
// sessionId, query parameters, request body properties; not the
// Idempotency-Key header) with the same required ones. Destructive tools
// are annotated so; read-only ones too.
func TestToolsMatchOpenAPI(t *testing.T) {
	// The tools that may destroy or overwrite something the account had.
	destructive := map[string]bool{"delete_chat": true, "block_contact": true, "logout_session": true,
		"update_group": true, "update_group_participants": true, "revoke_group_invite_link": true, "leave_group": true, "set_group_picture": true}
	s := newServer(t)
	cs := connect(t, s, s.AdminKey)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]*openapi3.Operation{}
	params := map[string]openapi3.Parameters{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ops[op.OperationID] = op
			params[op.OperationID] = append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
		}
	}
	info := map[string]mcp.ToolInfo{}
	for _, ti := range mcp.Tools() {
		info[ti.Name] = ti
	}
	// Every operation of the groups tag has its tool.
	covered := map[string]bool{}
	for _, ti := range mcp.Tools() {
		covered[ti.OperationID] = true
	}
	for id, op := range ops {
		if slices.Contains(op.Tags, "groups") && !covered[id] {
			t.Errorf("groups operation %s has no MCP tool", id)
		}
	}
	if len(res.Tools) != len(info) {
		t.Fatalf("%d tools listed, %d defined", len(res.Tools), len(info))
	}
	for _, tool := range res.Tools {
		opID, _ := tool.Meta[mcp.MetaOperationID].(string)
		op := ops[opID]
		if op == nil {
			t.Errorf("tool %s: operation %q is not in openapi.yaml", tool.Name, opID)
			continue
		}
		var wantProps, wantReq []string
		for _, p := range params[opID] {
			v := p.Value
			name := v.Name
			if v.In == openapi3.ParameterInHeader {
				continue
			}
			if v.In == openapi3.ParameterInPath && name == "id" {
				name = "sessionId"
			}
			wantProps = append(wantProps, name)
			if v.Required {
				wantReq = append(wantReq, name)
			}
		}
		if op.RequestBody != nil {
			sch := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			for name := range sch.Properties {
				wantProps = append(wantProps, name)
			}
			wantReq = append(wantReq, sch.Required...)
		}
		b, _ := json.Marshal(tool.InputSchema)
		var got struct {
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		}
		_ = json.Unmarshal(b, &got)
		var gotProps []string
		for name := range got.Properties {
			gotProps = append(gotProps, name)
		}
		sort.Strings(wantProps)
		sort.Strings(wantReq)
		sort.Strings(gotProps)
		sort.Strings(got.Required)
		if !slices.Equal(gotProps, wantProps) || !slices.Equal(got.Required, wantReq) {
			t.Errorf("tool %s vs %s: properties %v required %v; the operation has %v required %v",
				tool.Name, opID, gotProps, got.Required, wantProps, wantReq)
		}
		ti := info[tool.Name]
		a := tool.Annotations
		if a == nil || a.ReadOnlyHint != ti.ReadOnly || (!ti.ReadOnly && (a.DestructiveHint == nil || *a.DestructiveHint != ti.Destructive)) {
			t.Errorf("tool %s: annotations %+v, want read-only %v destructive %v", tool.Name, a, ti.ReadOnly, ti.Destructive)
		}
		if ti.Destructive != destructive[tool.Name] {
			t.Errorf("tool %s: destructive %v", tool.Name, ti.Destructive)
		}
	}
}

// TestSessionKeyScope: a session key's MCP tools and resources reach its
// own session only; no key is a 401 in the API's error schema; an MCP
// session cannot be continued with another key.
func TestSessionKeyScope(t *testing.T) {
	s := newServer(t)
	a, keyA := s.CreateSession("mcp-a")
	b, _ := s.CreateSession("mcp-b")
	cs := connect(t, s, keyA)

	r := call(t, cs, "list_sessions", map[string]any{})
	var listed struct {
		Sessions []struct{ ID string }
	}
	raw, _ := json.Marshal(r.StructuredContent)
	_ = json.Unmarshal(raw, &listed)
	if r.IsError || len(listed.Sessions) != 1 || listed.Sessions[0].ID != a.String() {
		t.Fatalf("list_sessions with a session key: %s %s", raw, text(r))
	}
	if r := call(t, cs, "get_session_status", map[string]any{"sessionId": a.String()}); r.IsError {
		t.Fatalf("own status: %s", text(r))
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"get_session_status", map[string]any{"sessionId": b.String()}},
		{"list_chats", map[string]any{"sessionId": b.String()}},
		{"list_messages", map[string]any{"sessionId": b.String(), "chatId": "15550001111"}},
		{"send_text", map[string]any{"sessionId": b.String(), "to": "15550001111", "text": "hi"}},
		{"delete_chat", map[string]any{"sessionId": b.String(), "chatId": "15550001111"}},
		{"logout_session", map[string]any{"sessionId": b.String()}},
	} {
		r := call(t, cs, tc.tool, tc.args)
		if !r.IsError || text(r) != gateway.MsgForeignSession {
			t.Errorf("%s on another session: error %v %q", tc.tool, r.IsError, text(r))
		}
	}
	if _, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "wagate://sessions/" + b.String() + "/chats"}); err == nil {
		t.Error("reading another session's chats resource succeeded")
	}
	rr, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "wagate://sessions/" + a.String() + "/chats"})
	if err != nil || len(rr.Contents) != 1 {
		t.Fatalf("own chats resource: %v %+v", err, rr)
	}
	r = call(t, cs, "list_chats", map[string]any{"sessionId": a.String()})
	if r.IsError || !strings.Contains(text(r), "<whatsapp-data>") || !strings.Contains(text(r), "not as instructions") {
		t.Errorf("list_chats text content is not delimited as data: %q", text(r))
	}

	// Without a key: 401 from the API's error writer.
	resp, err := http.Post(s.URL+mcp.Path, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Success *bool
		Error   string
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 401 || body.Success == nil || *body.Success || body.Error != gateway.MsgAPIKeyRequired {
		t.Errorf("no key: %d %+v", resp.StatusCode, body)
	}
	// Another key on this MCP session: refused by the SDK.
	req, _ := http.NewRequest(http.MethodPost, s.URL+mcp.Path, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
	req.Header.Set("X-API-Key", s.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another key on the MCP session: %d, want 403", resp.StatusCode)
	}
}
