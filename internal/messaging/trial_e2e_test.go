package messaging_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestTrialRecipientsEndToEnd: a session created by a trial key sends to
// the key's allowed numbers and to nobody else, whichever key makes the
// request (the session's own key, the trial key, the admin key): text,
// image, reply and reaction to another number answer 403 with the exact
// text and the contact receives nothing. Once the trial key expired, the
// trial key and the session key are refused at authentication (401) and
// the admin key's sends on the session with 403.
//
// "Received nothing" is proved with a fence: the session's device sends
// every stanza on one connection and the simulator handles a connection's
// stanzas in order, so once the allowed contact has a message sent after
// the refused ones, anything sent before it would have been delivered.
func TestTrialRecipientsEndToEnd(t *testing.T) {
	t.Parallel()
	const own, allowed, other = "15550121000", "15550121001", "15550121002"
	const otherChat = other + "@s.whatsapp.net"
	var trialKey, trialID string
	e := newE2EWith(t, own, messaging.Options{}, func(srv *testkit.Server) (uuid.UUID, string) {
		k, err := srv.Admin().CreateTrialApiKeyWithResponse(t.Context(), client.CreateTrialApiKeyJSONRequestBody{
			Name: "Trial: Jane", TrialDays: 7, AllowedNumbers: []string{"+" + allowed}, RateLimitMessages: ptr(1000),
		})
		if err != nil || k.JSON201 == nil || k.JSON201.ApiKey.Key == nil {
			t.Fatalf("create trial key: %v %d %s", err, statusOf(k), k.Body)
		}
		trialKey, trialID = *k.JSON201.ApiKey.Key, k.JSON201.ApiKey.Id
		s, err := srv.Client(trialKey).CreateSessionWithResponse(t.Context(), client.CreateSessionJSONRequestBody{Name: "trial-session"})
		if err != nil || s.JSON201 == nil {
			t.Fatalf("create session with the trial key: %v %d %s", err, statusOf(s), s.Body)
		}
		return s.JSON201.Session.Id, s.JSON201.ApiKey
	})
	allowedContact, otherContact := e.sim.Contact(allowed), e.sim.Contact(other)
	refused := testkit.ErrorJSON(gateway.MsgRecipientNotAllowed)
	wantRefused := func(what string, r testkit.Response, body string) {
		t.Helper()
		if r.Status != http.StatusForbidden || strings.TrimSpace(string(r.Body)) != body {
			t.Fatalf("%s: %d %s, want 403 %s", what, r.Status, r.Body, body)
		}
	}
	sendText := func(key, to, text string, quoted *string) testkit.Response {
		body := sfmt(`{"to":%q,"text":%q}`, to, text)
		if quoted != nil {
			body = sfmt(`{"to":%q,"text":%q,"quotedMessageId":%q}`, to, text, *quoted)
		}
		return e.srv.Do(http.MethodPost, "/sessions/"+e.sid.String()+"/send", key, []byte(body))
	}
	// fence sends an allowed message and waits until the allowed contact
	// has it: every stanza the session sent before has been handled.
	fence := func(key, text string) {
		t.Helper()
		r := sendText(key, allowed, text, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("fence %q: %d %s", text, r.Status, r.Body)
		}
		e.received(allowedContact, text, func(r wasim.Received) bool { return r.Kind == wasim.KindText && r.Text == text })
	}
	img := base64.StdEncoding.EncodeToString(pngOf(t, 4, 4, 1))

	// The contact outside the list writes first: replying to or reacting
	// on its message is messaging it too.
	theirs, err := otherContact.SendText(e.ctx, own, "hello trial")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(otherChat, theirs)

	for _, k := range []struct{ name, key string }{{"session key", e.key}, {"trial key", trialKey}, {"admin key", e.srv.AdminKey}} {
		fence(k.key, "allowed via "+k.name)
		wantRefused(k.name+": text", sendText(k.key, "+"+other, "not allowed via "+k.name, nil), refused)
		wantRefused(k.name+": text to the JID", sendText(k.key, otherChat, "not allowed via "+k.name, nil), refused)
		wantRefused(k.name+": reply", sendText(k.key, other, "reply via "+k.name, &theirs), refused)
		wantRefused(k.name+": image", e.srv.Do(http.MethodPost, "/sessions/"+e.sid.String()+"/send/image", k.key,
			[]byte(sfmt(`{"to":%q,"image":%q}`, other, img))), refused)
		wantRefused(k.name+": reaction", e.srv.Do(http.MethodPut, "/sessions/"+e.sid.String()+"/messages/"+theirs+"/reaction", k.key,
			[]byte(sfmt(`{"chatId":%q,"emoji":"👍"}`, other))), refused)
	}
	// Sends to the allowed number work in every form, replies included.
	fence(e.key, "one more")
	mine := e.received(allowedContact, "one more", func(r wasim.Received) bool { return r.Text == "one more" })
	if r := sendText(e.key, allowed+"@s.whatsapp.net", "a reply", &mine.ID); r.Status != http.StatusOK {
		t.Fatalf("reply to the allowed number: %d %s", r.Status, r.Body)
	}
	fence(e.key, "fence after the refusals")
	if got := otherContact.Received(); len(got) != 0 {
		t.Fatalf("the contact outside the list received %d messages: %+v", len(got), got)
	}
	if _, msgs, _, err := e.svc.ListMessages(e.ctx, e.sid, other, gateway.Page{}); err != nil || len(msgs) != 1 || msgs[0].ID != theirs {
		t.Fatalf("messages stored in the other chat: %+v %v", msgs, err)
	}

	// The trial key expires.
	if _, err := e.pool.Exec(e.ctx, `UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, trialID); err != nil {
		t.Fatal(err)
	}
	invalid := testkit.ErrorJSON(gateway.MsgInvalidAPIKey)
	if r := sendText(trialKey, allowed, "expired trial key", nil); r.Status != http.StatusUnauthorized || strings.TrimSpace(string(r.Body)) != invalid {
		t.Fatalf("expired trial key: %d %s", r.Status, r.Body)
	}
	if r := sendText(e.key, allowed, "expired session key", nil); r.Status != http.StatusUnauthorized || strings.TrimSpace(string(r.Body)) != invalid {
		t.Fatalf("session key of an expired trial: %d %s", r.Status, r.Body)
	}
	expired := testkit.ErrorJSON(gateway.MsgTrialExpired)
	wantRefused("admin key, expired trial", sendText(e.srv.AdminKey, allowed, "expired via admin", nil), expired)
	wantRefused("admin key, expired trial, other", sendText(e.srv.AdminKey, other, "expired via admin", nil), expired)
	wantRefused("admin key, expired trial, reaction", e.srv.Do(http.MethodPut, "/sessions/"+e.sid.String()+"/messages/"+theirs+"/reaction",
		e.srv.AdminKey, []byte(sfmt(`{"chatId":%q,"emoji":"👍"}`, other))), expired)

	// Extend the trial again to fence: the refused sends sent nothing.
	if _, err := e.pool.Exec(e.ctx, `UPDATE api_keys SET expires_at = now() + interval '1 day' WHERE id = $1`, trialID); err != nil {
		t.Fatal(err)
	}
	fence(e.srv.AdminKey, "fence after the expiry")
	for _, r := range allowedContact.Received() {
		if r.Text == "expired via admin" || r.Text == "expired trial key" || r.Text == "expired session key" {
			t.Fatalf("a refused send arrived: %+v", r)
		}
	}
	if got := otherContact.Received(); len(got) != 0 {
		t.Fatalf("the contact outside the list received %+v", got)
	}
}
