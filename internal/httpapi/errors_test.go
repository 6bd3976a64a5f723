package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestBadInput asserts status and exact body of every kind of bad request.
// The contract transport also checks each answer against openapi.yaml and
// fails on any 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	id, key := ts.CreateSession(uniq("bad"))
	other, otherKey := ts.CreateSession(uniq("bad-other"))
	mk, err := ts.Admin().CreateApiKeyWithResponse(context.Background(), client.CreateApiKeyJSONRequestBody{Name: "managed"})
	if err != nil || mk.JSON201 == nil {
		t.Fatalf("create managed key: %v", err)
	}
	managed := *mk.JSON201.ApiKey.Key
	sess := "/sessions/" + id.String()
	admin := ts.AdminKey
	huge := []byte(`{"name":"` + strings.Repeat("a", 1<<20+10) + `"}`)
	bigImage := []byte(`{"to":"919988066776","image":"` + strings.Repeat("A", 2<<20) + `"}`)

	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   []byte
		header []string
		status int
		want   string
	}{
		{"MalformedJSON", "POST", "/sessions/create", admin, []byte(`{"name":`), nil, 400, "Invalid request body: malformed JSON"},
		{"NotJSONAtAll", "POST", "/sessions/create", admin, []byte(`name=a`), nil, 400, "Invalid request body: malformed JSON"},
		{"EmptyBody", "POST", "/sessions/create", admin, []byte(``), nil, 400, "Request body is required"},
		{"WrongType", "POST", "/sessions/create", admin, []byte(`{"name":1}`), nil, 400, "Invalid request body: name: value must be a string"},
		{"WrongTypeNested", "POST", "/sessions/create", admin, []byte(`{"name":"x","metadata":[1]}`), nil, 400, "Invalid request body: metadata: value must be an object"},
		{"UnknownField", "POST", "/sessions/create", admin, []byte(`{"name":"x","foo":1}`), nil, 400, `Invalid request body: property "foo" is unsupported`},
		{"MissingField", "POST", "/sessions/create", admin, []byte(`{}`), nil, 400, `Invalid request body: property "name" is missing`},
		{"BadName", "POST", "/sessions/create", admin, []byte(`{"name":"-x"}`), nil, 400, `Invalid request body: name: string doesn't match the regular expression "^[A-Za-z0-9][A-Za-z0-9 ._:@-]*$"`},
		{"BadWebhookURL", "POST", "/sessions/create", admin, []byte(`{"name":"x","webhookUrl":"nope"}`), nil, 400, `Invalid request body: webhookUrl: string doesn't match the format "uri" (must be an absolute URI)`},
		{"NonHTTPWebhookURL", "POST", "/sessions/create", admin, []byte(`{"name":"x","webhookUrl":"ftp://example.com/x"}`), nil, 400, "Invalid request body: webhookUrl: must be an http or https URL"},
		{"WrongContentType", "POST", "/sessions/create", admin, []byte(`{"name":"x"}`), []string{"Content-Type", "text/plain"}, 400, `Invalid request body: header Content-Type has unexpected value "text/plain"`},
		{"OversizedBody", "POST", "/sessions/create", admin, huge, nil, 413, "Request body too large"},
		// Past the 1 MiB default (x-wagate-body-limit: media): the image reaches the service.
		{"ImageLimitIsLarger", "POST", sess + "/send/image", key, bigImage, nil, 400, "image must be a JPEG, PNG or WebP image"},
		{"BadUUID", "GET", "/sessions/not-a-uuid", admin, nil, nil, 400, `Invalid path parameter "id": string doesn't match the format "uuid" (must be a UUID)`},
		{"BadQuery", "GET", sess + "/chats?limit=abc", key, nil, nil, 400, `Invalid query parameter "limit": an invalid integer`},
		{"QueryOutOfRange", "GET", sess + "/chats?limit=1000", key, nil, nil, 400, `Invalid query parameter "limit": number must be at most 200`},
		{"BadPhone", "POST", sess + "/pair-code", key, []byte(`{"phone":"abc"}`), nil, 400, `Invalid request body: phone: string doesn't match the regular expression "^\+?[0-9]{6,15}$"`},
		{"MissingKey", "GET", sess, "", nil, nil, 401, gateway.MsgAPIKeyRequired},
		{"InvalidKey", "GET", sess, "wask_" + strings.Repeat("0", 48), nil, nil, 401, "Invalid API key"},
		{"GarbageKey", "GET", sess, "hello", nil, nil, 401, "Invalid API key"},
		{"InvalidBearer", "GET", sess, "", nil, []string{"Authorization", "Bearer wamk_nope"}, 401, "Invalid API key"},
		{"ForeignSessionKey", "GET", "/sessions/" + other.String(), key, nil, nil, 403, "This API key can only access its own session"},
		{"ForeignSessionKeyDelete", "DELETE", sess, otherKey, nil, nil, 403, "This API key can only access its own session"},
		{"SessionKeyOnAdminOp", "POST", "/sessions/create", key, []byte(`{"name":"x"}`), nil, 403, gateway.MsgAdminKeyRequired},
		{"SessionKeyListsSessions", "GET", "/sessions", key, nil, nil, 403, gateway.MsgAdminKeyRequired},
		{"SessionKeyOnAPIKeys", "GET", "/admin/api-keys", key, nil, nil, 403, gateway.MsgAdminKeyRequired},
		{"ManagedKeyOnAPIKeys", "GET", "/admin/api-keys", managed, nil, nil, 403, gateway.MsgAdminKeyRequired},
		{"ManagedKeyForeignSession", "GET", sess, managed, nil, nil, 403, "This API key can only access its own session"},
		{"UnknownSession", "GET", "/sessions/" + uuid.NewString(), admin, nil, nil, 404, "Session not found"},
		{"UnknownSessionWithSessionKey", "GET", "/sessions/" + uuid.NewString(), key, nil, nil, 403, "This API key can only access its own session"},
		{"UnknownRoute", "GET", "/nope", admin, nil, nil, 404, "Not found"},
		{"UnknownRouteNoKey", "GET", "/sessions/" + id.String() + "/nope", "", nil, nil, 404, "Not found"},
		{"MethodNotAllowed", "PUT", sess, key, nil, nil, 405, "Method not allowed"},
		{"UnknownAPIKey", "DELETE", "/admin/api-keys/key_0000000000000000", admin, nil, nil, 404, gateway.MsgAPIKeyNotFound},
		{"BadAPIKeyID", "DELETE", "/admin/api-keys/nope", admin, nil, nil, 400, `Invalid path parameter "keyId": string doesn't match the regular expression "^key_[0-9a-f]{16,32}$"`},
		{"UnlinkedSession", "POST", sess + "/contacts/block", key, []byte(`{"jid":"919988066776"}`), nil, 409, gateway.MsgNotAuthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.Do(tc.method, tc.path, tc.key, tc.body, tc.header...)
			if r.Status != tc.status || string(bytes.TrimSpace(r.Body)) != testkit.ErrorJSON(tc.want) {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, tc.status, testkit.ErrorJSON(tc.want))
			}
		})
	}
}

func TestKeyLocations(t *testing.T) {
	t.Parallel()
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	id, key := ts.CreateSession(uniq("keyloc"))
	path := "/sessions/" + id.String() + "/status"
	for name, r := range map[string]testkit.Response{
		"Header": ts.Do("GET", path, key, nil),
		"Bearer": ts.Do("GET", path, "", nil, "Authorization", "Bearer "+key),
		"Query":  ts.Do("GET", path+"?api_key="+key, "", nil),
	} {
		if r.Status != http.StatusOK {
			t.Errorf("%s: status %d: %s", name, r.Status, r.Body)
		}
	}
}

func TestErrorStatusTable(t *testing.T) {
	t.Parallel()
	want := map[gateway.Code]int{
		gateway.CodeInvalid: 400, gateway.CodeUnauthorized: 401, gateway.CodeForbidden: 403,
		gateway.CodeNotFound: 404, gateway.CodeConflict: 409, gateway.CodeTooLarge: 413,
		gateway.CodeUnprocessable: 422, gateway.CodeRateLimited: 429, gateway.CodeInternal: 500,
		gateway.CodeUnavailable: 503, gateway.Code("bogus"): 500,
	}
	for code, status := range want {
		if got := httpapi.StatusOf(code); got != status {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, status)
		}
	}
}
