package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/mcp"
	"github.com/wagate-dev/wagate/internal/testkit"
)

type mcpKeyTransport struct{ key string }

func (k mcpKeyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPGroupTools drives the MCP group tools with the official SDK's
// client against a sandbox wagate, with session keys, and checks every
// effect in the simulator (GET /sandbox/groups/{id}): create_group (the
// simulated group has the subject and the three members), list_groups,
// get_group, update_group_participants (add, then the simulator has the
// fourth member), get_group_invite_link (the simulator's invite code),
// revoke_group_invite_link (a new code; the old link no longer joins),
// join_group by a second session with the link, and leave_group (the
// simulator no longer lists it). A session key's group tools cannot touch
// the other session. Child process: see TestSandboxMode.
func TestMCPGroupTools(t *testing.T) {
	if os.Getenv("WAGATE_MCP_GROUPS_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestMCPGroupTools$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WAGATE_MCP_GROUPS_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	dbURL := testkit.NewDatabaseURL(t)
	const admin = "wamk_000000000000000000000000000000000000000000000002"
	m, stop := startSandboxMainWith(t, dbURL, admin)
	defer stop()

	newSession := func(name, phone string) (string, string) {
		t.Helper()
		var created struct {
			Session struct{ ID string } `json:"session"`
			APIKey  string              `json:"apiKey"`
		}
		if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"`+name+`"}`, &created); code != http.StatusCreated {
			t.Fatalf("create session %s: %d", name, code)
		}
		if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+created.Session.ID+"/link", admin, `{"phone":"`+phone+`"}`, nil); code != http.StatusOK {
			t.Fatalf("link %s: %d", name, code)
		}
		waitStatus(t, m, admin, created.Session.ID, "connected", phone+"@s.whatsapp.net")
		return created.Session.ID, created.APIKey
	}
	a, keyA := newSession("mcp-groups-a", "15550601111")
	b, keyB := newSession("mcp-groups-b", "15550602222")

	connect := func(key string) *sdk.ClientSession {
		t.Helper()
		c := sdk.NewClient(&sdk.Implementation{Name: "wagate-test", Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{
			Endpoint: "http://" + m.Addr.String() + mcp.Path, HTTPClient: &http.Client{Transport: mcpKeyTransport{key}},
		}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}
	// tool calls a tool and decodes its structured content into out; it
	// fails the test on a tool error.
	tool := func(cs *sdk.ClientSession, name string, args map[string]any, out any) {
		t.Helper()
		r, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.IsError {
			t.Fatalf("%s: tool error %q", name, mcpText(r))
		}
		if out != nil {
			raw, _ := json.Marshal(r.StructuredContent)
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s: %v in %s", name, err, raw)
			}
		}
	}
	toolError := func(cs *sdk.ClientSession, name string, args map[string]any) string {
		t.Helper()
		r, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !r.IsError {
			t.Fatalf("%s: succeeded, want a tool error", name)
		}
		return mcpText(r)
	}
	type sbGroup struct {
		Group struct {
			Subject      string `json:"subject"`
			InviteCode   string `json:"inviteCode"`
			Participants []struct {
				Phone string `json:"phone"`
				Role  string `json:"role"`
			} `json:"participants"`
		} `json:"group"`
	}
	simulated := func(gid string) sbGroup {
		t.Helper()
		var g sbGroup
		if code := call(t, m, http.MethodGet, "/sandbox/groups/"+strings.TrimSuffix(gid, "@g.us"), admin, "", &g); code != http.StatusOK {
			t.Fatalf("sandbox group %s: %d", gid, code)
		}
		return g
	}
	phones := func(g sbGroup) []string {
		var out []string
		for _, p := range g.Group.Participants {
			out = append(out, p.Phone)
		}
		slices.Sort(out)
		return out
	}

	csA := connect(keyA)
	var created struct {
		Group struct {
			ID           string `json:"id"`
			Subject      string `json:"subject"`
			Participants []struct {
				JID  string `json:"jid"`
				Role string `json:"role"`
			} `json:"participants"`
		} `json:"group"`
		Results []struct {
			Participant string `json:"participant"`
			Success     bool   `json:"success"`
		} `json:"results"`
	}
	tool(csA, "create_group", map[string]any{"sessionId": a, "subject": "MCP team", "participants": []string{"15550603333", "15550604444"}}, &created)
	gid := created.Group.ID
	if !strings.HasSuffix(gid, "@g.us") || created.Group.Subject != "MCP team" || len(created.Group.Participants) != 3 ||
		len(created.Results) != 2 || !created.Results[0].Success || !created.Results[1].Success {
		t.Fatalf("create_group: %+v", created)
	}
	if g := simulated(gid); g.Group.Subject != "MCP team" || !slices.Equal(phones(g), []string{"15550601111", "15550603333", "15550604444"}) {
		t.Fatalf("simulator after create_group: %+v", g)
	}

	var listed struct {
		Groups []struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
		} `json:"groups"`
	}
	until(t, "list_groups shows the group", func() bool {
		tool(csA, "list_groups", map[string]any{"sessionId": a}, &listed)
		return slices.ContainsFunc(listed.Groups, func(g struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
		}) bool {
			return g.ID == gid && g.Subject == "MCP team"
		})
	})
	var got struct {
		Group struct {
			ID           string `json:"id"`
			Participants []struct {
				JID  string `json:"jid"`
				Role string `json:"role"`
			} `json:"participants"`
		} `json:"group"`
	}
	tool(csA, "get_group", map[string]any{"sessionId": a, "groupId": gid}, &got)
	if got.Group.ID != gid || len(got.Group.Participants) != 3 {
		t.Fatalf("get_group: %+v", got)
	}

	var changed struct {
		GroupID string `json:"groupId"`
		Action  string `json:"action"`
		Results []struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
		} `json:"results"`
	}
	tool(csA, "update_group_participants", map[string]any{"sessionId": a, "groupId": gid, "action": "add", "participants": []string{"15550605555"}}, &changed)
	if changed.GroupID != gid || changed.Action != "add" || len(changed.Results) != 1 || !changed.Results[0].Success {
		t.Fatalf("update_group_participants add: %+v", changed)
	}
	if g := simulated(gid); !slices.Equal(phones(g), []string{"15550601111", "15550603333", "15550604444", "15550605555"}) {
		t.Fatalf("simulator after add: %+v", g)
	}
	tool(csA, "update_group_participants", map[string]any{"sessionId": a, "groupId": gid, "action": "add", "participants": []string{"15550605555"}}, &changed)
	if len(changed.Results) != 1 || changed.Results[0].Success || changed.Results[0].Error != gateway.MsgAlreadyParticipant {
		t.Fatalf("adding a participant again: %+v", changed)
	}

	var link struct {
		GroupID string `json:"groupId"`
		Link    string `json:"link"`
	}
	tool(csA, "get_group_invite_link", map[string]any{"sessionId": a, "groupId": gid}, &link)
	if code := simulated(gid).Group.InviteCode; link.GroupID != gid || code == "" || link.Link != "https://chat.whatsapp.com/"+code {
		t.Fatalf("get_group_invite_link %+v, simulator's code %q", link, code)
	}
	old := link.Link
	tool(csA, "revoke_group_invite_link", map[string]any{"sessionId": a, "groupId": gid}, &link)
	if code := simulated(gid).Group.InviteCode; link.Link == old || link.Link != "https://chat.whatsapp.com/"+code {
		t.Fatalf("revoke_group_invite_link %+v (old %s), simulator's code %q", link, old, code)
	}

	// Session B: its key reaches only B; it joins with the new link (the
	// revoked one is refused) and leaves again.
	csB := connect(keyB)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"list_groups", map[string]any{"sessionId": a}},
		{"get_group", map[string]any{"sessionId": a, "groupId": gid}},
		{"create_group", map[string]any{"sessionId": a, "subject": "x", "participants": []string{"15550603333"}}},
		{"update_group_participants", map[string]any{"sessionId": a, "groupId": gid, "action": "remove", "participants": []string{"15550603333"}}},
		{"get_group_invite_link", map[string]any{"sessionId": a, "groupId": gid}},
		{"revoke_group_invite_link", map[string]any{"sessionId": a, "groupId": gid}},
		{"leave_group", map[string]any{"sessionId": a, "groupId": gid}},
		{"join_group", map[string]any{"sessionId": a, "link": link.Link}},
	} {
		if msg := toolError(csB, tc.tool, tc.args); msg != gateway.MsgForeignSession {
			t.Errorf("%s on the other session: %q", tc.tool, msg)
		}
	}
	if msg := toolError(csB, "join_group", map[string]any{"sessionId": b, "link": old}); msg != gateway.MsgInvalidInviteLink {
		t.Fatalf("join_group with the revoked link: %q", msg)
	}
	tool(csB, "join_group", map[string]any{"sessionId": b, "link": link.Link}, &got)
	if got.Group.ID != gid {
		t.Fatalf("join_group: %+v", got)
	}
	if g := simulated(gid); !slices.Contains(phones(g), "15550602222") {
		t.Fatalf("simulator after join_group: %+v", g)
	}
	var left struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	tool(csB, "leave_group", map[string]any{"sessionId": b, "groupId": gid}, &left)
	if !left.Success || left.Message != gateway.MsgGroupLeft {
		t.Fatalf("leave_group: %+v", left)
	}
	if g := simulated(gid); slices.Contains(phones(g), "15550602222") || len(g.Group.Participants) != 4 {
		t.Fatalf("simulator after leave_group: %+v", g)
	}
	// Nothing of A changed through B's key: A is still the group's admin.
	if g := simulated(gid); !slices.ContainsFunc(g.Group.Participants, func(p struct {
		Phone string `json:"phone"`
		Role  string `json:"role"`
	}) bool {
		return p.Phone == "15550601111" && p.Role != "member"
	}) {
		t.Fatalf("A is no longer an admin: %+v", g)
	}
}

func mcpText(r *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
