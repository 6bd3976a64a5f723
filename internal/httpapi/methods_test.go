package httpapi_test

import (
	"bytes"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestMethodNotAllowed sends every method each path of openapi.yaml lacks
// and requires 405 with the error body: list paths included (DELETE
// /sessions once matched DELETE /sessions/{id} with an empty id and
// answered 400).
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	id, _ := ts.CreateSession(uniq("methods"))
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		"id": id.String(), "chatId": "15550002222@s.whatsapp.net", "messageId": "3EB0ABCDEF",
		"jid": "15550002222@s.whatsapp.net", "webhookId": "00000000-0000-0000-0000-000000000001",
		"deliveryId": "1", "keyId": "key_0000000000000000", "phone": "15550002222",
		"groupId": "120363025246125486@g.us",
		"callId":  "CALL1",
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	checked := 0
	for _, p := range paths {
		item := spec.Paths.Value(p)
		concrete := param.ReplaceAllStringFunc(p, func(m string) string {
			v, ok := values[strings.Trim(m, "{}")]
			if !ok {
				t.Fatalf("no test value for %s in %s", m, p)
			}
			return v
		})
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if item.GetOperation(method) != nil {
				continue
			}
			checked++
			for _, key := range []string{ts.AdminKey, ""} {
				r := ts.Do(method, concrete, key, nil)
				if r.Status != http.StatusMethodNotAllowed || string(bytes.TrimSpace(r.Body)) != testkit.ErrorJSON("Method not allowed") {
					t.Errorf("%s %s (key %t): %d %s, want 405 Method not allowed", method, p, key != "", r.Status, r.Body)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d path/method pairs checked", checked)
	}
	// A path with an empty segment (where a parameter belongs, or a trailing
	// slash) is no path.
	for _, p := range []string{"/sessions//status", "/admin/api-keys/", "/sessions/", "/sessions/" + id.String() + "/chats//archive"} {
		if r := ts.Do(http.MethodPost, p, ts.AdminKey, nil); r.Status != http.StatusNotFound || string(bytes.TrimSpace(r.Body)) != testkit.ErrorJSON("Not found") {
			t.Errorf("POST %s: %d %s, want 404", p, r.Status, r.Body)
		}
	}
}
