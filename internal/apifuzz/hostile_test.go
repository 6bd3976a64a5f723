package apifuzz_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// rowCounts counts the rows of every table a request could write (events
// and deliveries are left out: the contact's receipts of the fixture
// message arrive when they do).
func (h *harness) rowCounts(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"api_keys", "sessions", "session_keys", "chats", "messages", "idempotency_keys", "webhooks"} {
		var n int
		if err := h.srv.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(parts, " ")
}

// TestHostileRequests replays every request of issue 17 (found by a
// third-party OpenAPI fuzzer: 500s from values PostgreSQL refused, and 400
// instead of 405 on list paths): each is answered 400 or 405 with the error
// body, and no table changes. The contract transport also fails the test
// on any 500 or any answer outside openapi.yaml.
func TestHostileRequests(t *testing.T) {
	h := newHarness(t)
	sess := "/sessions/" + h.deep
	msg := sess + "/chats/" + contactJID + "/messages/"
	nulPath := func(name string) string {
		return fmt.Sprintf("Invalid path parameter %q: must not contain NUL characters", name)
	}
	nulBody := func(field string) string {
		return "Invalid request body: " + field + ": must not contain NUL characters"
	}
	tooBig := func(field string) string {
		return "Invalid request body: " + field + ": number must be at most 2147483647"
	}
	const nul = `\u0000`
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		want                     string
	}{
		// A NUL byte in a path parameter (SQLSTATE 22021 before).
		{"GetMessageNUL", "GET", msg + "%00", "", nil, 400, nulPath("messageId")},
		{"EditMessageNUL", "PUT", msg + "%00", `{"text":"x"}`, nil, 400, nulPath("messageId")},
		{"DeleteMessageNUL", "DELETE", msg + "%00", "", nil, 400, nulPath("messageId")},
		{"MediaNUL", "GET", msg + "%00/media", "", nil, 400, nulPath("messageId")},
		{"PinNUL", "POST", msg + "%00/pin", `{}`, nil, 400, nulPath("messageId")},
		{"UnpinNUL", "POST", msg + "%00/unpin", "", nil, 400, nulPath("messageId")},
		{"StarNUL", "POST", msg + "%00/star", `{}`, nil, 400, nulPath("messageId")},
		{"ReactionNUL", "PUT", sess + "/messages/%00/reaction", `{"chatId":"` + contactJID + `","emoji":"👍"}`, nil, 400, nulPath("messageId")},
		{"MessageIDNULInside", "GET", msg + "3EB0%00AB", "", nil, 400, nulPath("messageId")},
		{"ChatIDNUL", "GET", sess + "/chats/%00/messages", "", nil, 400, nulPath("chatId")},
		{"ChatIDNULArchive", "POST", sess + "/chats/" + "1555%00/archive", "", nil, 400, nulPath("chatId")},
		{"MessageIDInvalidUTF8", "GET", msg + "%FF%FE", "", nil, 400, `Invalid path parameter "messageId": must be valid UTF-8`},
		// A NUL byte in body strings (22021 in text, 22P05 in jsonb before).
		{"SendQuotedNUL", "POST", sess + "/send", `{"to":"` + contactPhone + `","text":"hi","quotedMessageId":"a` + nul + `"}`, nil, 400, nulBody("quotedMessageId")},
		{"SendTextNUL", "POST", sess + "/send", `{"to":"` + contactPhone + `","text":"hi` + nul + `"}`, nil, 400, nulBody("text")},
		{"CreateSessionMetadataNUL", "POST", "/sessions/create", `{"name":"hostile-1","metadata":{"note":"a` + nul + `"}}`, nil, 400, nulBody("metadata.note")},
		{"CreateSessionMetadataKeyNUL", "POST", "/sessions/create", `{"name":"hostile-2","metadata":{"a` + nul + `":"x"}}`, nil, 400, "Invalid request body: metadata: property names must not contain NUL characters"},
		{"CreateSessionMetadataInvalidUTF8", "POST", "/sessions/create", "{\"name\":\"hostile-3\",\"metadata\":{\"note\":\"\xff\"}}", nil, 400, "Invalid request body: metadata.note: must be valid UTF-8"},
		{"APIKeyNameNUL", "POST", "/admin/api-keys", `{"name":"k` + nul + `"}`, nil, 400, nulBody("name")},
		{"APIKeyTypeNUL", "POST", "/admin/api-keys", `{"name":"k1","type":"t` + nul + `"}`, nil, 400, nulBody("type")},
		{"APIKeyMetadataNUL", "POST", "/admin/api-keys", `{"name":"k1","metadata":{"m":"` + nul + `"}}`, nil, 400, nulBody("metadata.m")},
		{"TrialNameNUL", "POST", "/admin/api-keys/trial", `{"name":"t` + nul + `","allowedNumbers":["` + contactPhone + `"]}`, nil, 400, nulBody("name")},
		{"WebhookSecretNUL", "POST", sess + "/webhooks", `{"url":"https://example.com/hook","secret":"0123456789abcdef` + nul + `"}`, nil, 400, nulBody("secret")},
		{"WebhookEventsNUL", "POST", sess + "/webhooks", `{"url":"https://example.com/hook","events":["message` + nul + `"]}`, nil, 400, nulBody("events.0")},
		{"IdempotencyKeyInvalidUTF8", "POST", sess + "/send", `{"to":"` + contactPhone + `","text":"hi"}`, []string{"Idempotency-Key", "k\xff"}, 400, `Invalid header parameter "Idempotency-Key": must be valid UTF-8`},
		{"QueryNUL", "GET", sess + "/chats?cursor=%00", "", nil, 400, `Invalid query parameter "cursor": must not contain NUL characters`},
		// Integers past int4 ("greater than maximum value for int4" before).
		{"MaxSessionsInt4", "POST", "/admin/api-keys", `{"name":"k1","maxSessions":2147483648}`, nil, 400, tooBig("maxSessions")},
		{"RateLimitGeneralInt4", "POST", "/admin/api-keys", `{"name":"k1","rateLimitGeneral":2147483648}`, nil, 400, tooBig("rateLimitGeneral")},
		{"RateLimitMessagesInt4", "POST", "/admin/api-keys", `{"name":"k1","rateLimitMessages":2147483648}`, nil, 400, tooBig("rateLimitMessages")},
		{"RateLimitSessionsInt4", "POST", "/admin/api-keys", `{"name":"k1","rateLimitSessions":9223372036854775808}`, nil, 400, tooBig("rateLimitSessions")},
		{"TrialMaxSessionsInt4", "POST", "/admin/api-keys/trial", `{"name":"t1","allowedNumbers":["` + contactPhone + `"],"maxSessions":2147483648}`, nil, 400, tooBig("maxSessions")},
		{"TrialRateLimitInt4", "POST", "/admin/api-keys/trial", `{"name":"t1","allowedNumbers":["` + contactPhone + `"],"rateLimitMessages":1e400}`, nil, 400, tooBig("rateLimitMessages")},
		{"LimitHuge", "GET", sess + "/chats?limit=2147483648", "", nil, 400, `Invalid query parameter "limit": number must be at most 200`},
		// Known list paths with a method they do not have.
		{"DeleteSessions", "DELETE", "/sessions", "", nil, 405, "Method not allowed"},
		{"DeleteAPIKeys", "DELETE", "/admin/api-keys", "", nil, 405, "Method not allowed"},
		{"DeleteChats", "DELETE", sess + "/chats", "", nil, 405, "Method not allowed"},
		{"PutMessages", "PUT", sess + "/chats/" + contactJID + "/messages", `{}`, nil, 405, "Method not allowed"},
		{"DeleteMessages", "DELETE", sess + "/chats/" + contactJID + "/messages", "", nil, 405, "Method not allowed"},
		{"PatchWebhooks", "PATCH", sess + "/webhooks", `{}`, nil, 405, "Method not allowed"},
		{"DeleteWebhooks", "DELETE", sess + "/webhooks", "", nil, 405, "Method not allowed"},
		{"GetCreate", "GET", "/sessions/create", "", nil, 405, "Method not allowed"},
		{"DeleteBatch", "DELETE", sess + "/chats/batch", "", nil, 405, "Method not allowed"},
		{"DeleteTrial", "DELETE", "/admin/api-keys/trial", "", nil, 405, "Method not allowed"},
	}
	before := h.rowCounts(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body *bytes.Reader
			if tc.body != "" {
				body = bytes.NewReader([]byte(tc.body))
			}
			req, err := http.NewRequest(tc.method, h.srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req, _ = http.NewRequest(tc.method, h.srv.URL+tc.path, body)
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("X-API-Key", h.admin)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			status, b := exchange(t, req)
			if status != tc.status || string(bytes.TrimSpace(b)) != testkit.ErrorJSON(tc.want) {
				t.Errorf("got %d %s\nwant %d %s", status, b, tc.status, testkit.ErrorJSON(tc.want))
			}
			if after := h.rowCounts(t); after != before {
				t.Errorf("rows changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// The list endpoints still show every fixture.
	for _, path := range []string{"/sessions", "/admin/api-keys", sess + "/chats", sess + "/webhooks", sess + "/chats/" + contactJID + "/messages"} {
		status, b := h.call(t, http.MethodGet, path, "")
		if status != 200 || bytes.Contains(b, []byte("hostile-")) {
			t.Errorf("GET %s: %d %s", path, status, b)
		}
	}
}
