package main

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// until polls cond every 20 ms for at most 20 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sandboxReceived struct {
	ID       string  `json:"id"`
	From     string  `json:"from"`
	Chat     *string `json:"chat"`
	Kind     string  `json:"kind"`
	Text     *string `json:"text"`
	TargetID *string `json:"targetId"`
	Emoji    *string `json:"emoji"`
}

// TestSandboxGroups is the acceptance of groups in sandbox mode, over HTTP
// only: the session creates a group with two simulated contacts, sends to
// it and both members decrypt it (GET /sandbox/contacts/{phone}/messages,
// with the group as chat); a member's message (POST
// /sandbox/groups/{id}/inbound) arrives with its sender; archive, pin,
// react, edit and delete on the group chat, each seen by the simulator;
// the simulator's view of the group and its refusals. Child process: see
// TestSandboxMode.
func TestSandboxGroups(t *testing.T) {
	if os.Getenv("WAGATE_SANDBOX_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestSandboxGroups$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WAGATE_SANDBOX_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("sandbox child: %v\n%s", err, out)
		}
		return
	}
	dbURL := testkit.NewDatabaseURL(t)
	const admin = "wamk_000000000000000000000000000000000000000000000002"
	m, stop := startSandboxMain(t, dbURL, admin)
	defer stop()
	var created struct {
		Session struct{ ID string } `json:"session"`
	}
	if code := call(t, m, http.MethodPost, "/sessions/create", admin, `{"name":"groups"}`, &created); code != http.StatusCreated {
		t.Fatalf("create session: %d", code)
	}
	id := created.Session.ID
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"15550401111"}`, nil); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	waitStatus(t, m, admin, id, "connected", "15550401111@s.whatsapp.net")
	base := "/sessions/" + id

	var grp struct {
		Group struct {
			ID           string `json:"id"`
			Participants []struct {
				Jid  string `json:"jid"`
				Role string `json:"role"`
			} `json:"participants"`
		} `json:"group"`
	}
	if code := call(t, m, http.MethodPost, base+"/groups", admin, `{"subject":"Sandbox team","participants":["15550402222","15550403333"]}`, &grp); code != http.StatusOK || len(grp.Group.Participants) != 3 {
		t.Fatalf("create group: %d %+v", code, grp)
	}
	gid := grp.Group.ID

	received := func(phone string, pred func(sandboxReceived) bool) sandboxReceived {
		t.Helper()
		var found sandboxReceived
		until(t, "a message on "+phone, func() bool {
			var out struct {
				Messages []sandboxReceived `json:"messages"`
			}
			if call(t, m, http.MethodGet, "/sandbox/contacts/"+phone+"/messages", admin, "", &out) != http.StatusOK {
				return false
			}
			for _, r := range out.Messages {
				if pred(r) {
					found = r
					return true
				}
			}
			return false
		})
		if found.Chat == nil || *found.Chat != gid {
			t.Fatalf("%s received %+v outside the group %s", phone, found, gid)
		}
		return found
	}
	both := func(what string, pred func(sandboxReceived) bool) {
		t.Helper()
		received("15550402222", pred)
		received("15550403333", pred)
	}

	var sent struct {
		MessageID string `json:"messageId"`
	}
	if code := call(t, m, http.MethodPost, base+"/send", admin, `{"to":"`+gid+`","text":"hello group"}`, &sent); code != http.StatusOK {
		t.Fatalf("send: %d", code)
	}
	own := sent.MessageID
	both("the message", func(r sandboxReceived) bool { return r.ID == own && r.Text != nil && *r.Text == "hello group" })

	// A member's message arrives with its sender.
	var in struct {
		MessageID string `json:"messageId"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/groups/"+gid+"/inbound", admin, `{"from":"15550402222","text":"hi from 2222"}`, &in); code != http.StatusOK {
		t.Fatalf("group inbound: %d", code)
	}
	var msg struct {
		Message struct {
			Sender  string `json:"sender"`
			ChatJid string `json:"chatJid"`
		} `json:"message"`
	}
	until(t, "the member's message stored", func() bool {
		return call(t, m, http.MethodGet, base+"/chats/"+gid+"/messages/"+in.MessageID, admin, "", &msg) == http.StatusOK
	})
	if msg.Message.Sender != "15550402222@s.whatsapp.net" || msg.Message.ChatJid != gid {
		t.Fatalf("member message %+v", msg)
	}

	// Archive: the phone's app state shows it.
	until(t, "archive accepted", func() bool {
		return call(t, m, http.MethodPost, base+"/chats/"+gid+"/archive", admin, "", nil) == http.StatusOK
	})
	until(t, "the phone shows the group archived", func() bool {
		var view struct {
			Chats []struct {
				Jid      string `json:"jid"`
				Archived bool   `json:"archived"`
			} `json:"chats"`
		}
		call(t, m, http.MethodGet, "/sandbox/sessions/"+id+"/phone", admin, "", &view)
		for _, c := range view.Chats {
			if c.Jid == gid {
				return c.Archived
			}
		}
		return false
	})
	// Pin, react, edit, delete: every member decrypts each.
	if code := call(t, m, http.MethodPost, base+"/chats/"+gid+"/messages/"+own+"/pin", admin, `{}`, nil); code != http.StatusOK {
		t.Fatalf("pin: %d", code)
	}
	both("the pin", func(r sandboxReceived) bool { return r.Kind == "pin" && r.TargetID != nil && *r.TargetID == own })
	if code := call(t, m, http.MethodPut, base+"/messages/"+in.MessageID+"/reaction", admin, `{"chatId":"`+gid+`","emoji":"🎉"}`, nil); code != http.StatusOK {
		t.Fatalf("react: %d", code)
	}
	both("the reaction", func(r sandboxReceived) bool {
		return r.Kind == "reaction" && r.TargetID != nil && *r.TargetID == in.MessageID && r.Emoji != nil && *r.Emoji == "🎉"
	})
	if code := call(t, m, http.MethodPut, base+"/chats/"+gid+"/messages/"+own, admin, `{"text":"hello group, edited"}`, nil); code != http.StatusOK {
		t.Fatalf("edit: %d", code)
	}
	both("the edit", func(r sandboxReceived) bool {
		return r.Kind == "edit" && r.TargetID != nil && *r.TargetID == own && r.Text != nil && *r.Text == "hello group, edited"
	})
	if code := call(t, m, http.MethodDelete, base+"/chats/"+gid+"/messages/"+own, admin, "", nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	both("the revoke", func(r sandboxReceived) bool { return r.Kind == "revoke" && r.TargetID != nil && *r.TargetID == own })

	// The simulator's truth, and its refusals.
	var view struct {
		Group struct {
			Subject      string `json:"subject"`
			Participants []struct {
				Phone string `json:"phone"`
				Role  string `json:"role"`
			} `json:"participants"`
		} `json:"group"`
	}
	if code := call(t, m, http.MethodGet, "/sandbox/groups/"+strings.TrimSuffix(gid, "@g.us"), admin, "", &view); code != http.StatusOK ||
		view.Group.Subject != "Sandbox team" || len(view.Group.Participants) != 3 {
		t.Fatalf("sandbox group: %d %+v", code, view)
	}
	if code := call(t, m, http.MethodPost, "/sandbox/groups/"+gid+"/participants", admin, `{"action":"remove","participants":["15550403333"],"by":"15550402222"}`, nil); code != http.StatusForbidden {
		t.Fatalf("a plain member removing: %d, want 403", code)
	}
	if code := call(t, m, http.MethodPost, "/sandbox/groups/"+gid+"/inbound", admin, `{"from":"15550409999","text":"x"}`, nil); code != http.StatusForbidden {
		t.Fatalf("a non-member sending: %d, want 403", code)
	}
	if code := call(t, m, http.MethodGet, "/sandbox/groups/120363000000000001@g.us", admin, "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown group: %d, want 404", code)
	}
	// A simulated admin adds a member; the session sees the change.
	var sbGroup struct {
		GroupID string `json:"groupId"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/groups", admin, `{"subject":"Theirs","owner":"15550402222","participants":["15550401111"],"lid":true}`, &sbGroup); code != http.StatusOK {
		t.Fatalf("sandbox create group: %d", code)
	}
	var res struct {
		Results []struct {
			Success bool `json:"success"`
		} `json:"results"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/groups/"+sbGroup.GroupID+"/participants", admin, `{"action":"add","participants":["15550403333"],"by":"15550402222"}`, &res); code != http.StatusOK || len(res.Results) != 1 || !res.Results[0].Success {
		t.Fatalf("sandbox add: %d %+v", code, res)
	}
	until(t, "the session sees the LID group with 3 members", func() bool {
		var g struct {
			Group struct {
				AddressingMode string `json:"addressingMode"`
				Participants   []any  `json:"participants"`
			} `json:"group"`
		}
		return call(t, m, http.MethodGet, base+"/groups/"+sbGroup.GroupID, admin, "", &g) == http.StatusOK &&
			g.Group.AddressingMode == "lid" && len(g.Group.Participants) == 3
	})
}
