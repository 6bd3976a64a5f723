package testkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestContractTransportCatchesDrift proves the harness can fail: it serves
// answers that break openapi.yaml and expects the transport to report them.
func TestContractTransportCatchesDrift(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path string
		status     int
		body       string
		wantErr    string // "" means the exchange is valid
	}{
		{"Valid", "/healthz", 200, `{"success":true,"status":"ok"}`, ""},
		{"MissingField", "/healthz", 200, `{"success":true}`, "status"},
		{"UndocumentedStatus", "/healthz", 418, `{"success":false,"error":"teapot"}`, "status is not supported"},
		{"ServerError", "/healthz", 500, `{"success":false,"error":"Internal server error"}`, "server error"},
		{"WrongErrorShape", "/sessions/create", 400, `{"message":"bad"}`, "error schema"},
		{"SuccessTrueOnError", "/sessions/create", 400, `{"success":true,"error":"bad"}`, `"success": false`},
		{"UnknownRouteNot404", "/nope", 200, `{}`, "not 404/405"},
		{"UnknownRoute404", "/nope", 404, `{"success":false,"error":"Not found"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			method := http.MethodGet
			if tc.path == "/sessions/create" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, srv.URL+tc.path, strings.NewReader(`{"name":"a"}`))
			resp, err := (&http.Client{Transport: &testkit.ContractTransport{TB: rec}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			joined := strings.Join(rec.errs, "\n")
			if tc.wantErr == "" && joined != "" {
				t.Errorf("unexpected violation: %s", joined)
			}
			if tc.wantErr != "" && !strings.Contains(joined, tc.wantErr) {
				t.Errorf("want a violation containing %q, got %q", tc.wantErr, joined)
			}
		})
	}
}
