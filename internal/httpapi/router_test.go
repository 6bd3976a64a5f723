package httpapi_test

import (
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/wagate-dev/wagate/internal/httpapi"
)

// TestRouterAgreesWithMatchRoute: the compiled router answers every request
// as kin-openapi's legacy router with MatchRoute's rules does (the contract
// tests' own matcher), for every path of the spec with its parameters bound
// to ordinary values and to every literal segment of the spec (the
// "concrete path wins" cases), with every method, and for malformed paths.
func TestRouterAgreesWithMatchRoute(t *testing.T) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	old, err := legacy.NewRouter(spec, openapi3.EnableSchemaFormatValidation())
	if err != nil {
		t.Fatal(err)
	}
	compiled := httpapi.NewRouter(spec)
	literals := map[string]bool{"x1": true, "2c1f6bd4-7f1e-4f0e-9d53-0a7f7c3e9a11": true}
	for _, p := range spec.Paths.InMatchingOrder() {
		for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
			if !strings.HasPrefix(seg, "{") {
				literals[seg] = true
			}
		}
	}
	sorted := make([]string, 0, len(literals))
	for l := range literals {
		sorted = append(sorted, l)
	}
	sort.Strings(sorted)
	paths := map[string]bool{"/": true, "//sessions": true, "/sessions/": true, "/sessions//status": true, "/nope": true}
	for _, p := range spec.Paths.InMatchingOrder() {
		variants := []string{""}
		for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
			var next []string
			for _, v := range variants {
				if !strings.HasPrefix(seg, "{") {
					next = append(next, v+"/"+seg)
					continue
				}
				for _, l := range sorted {
					next = append(next, v+"/"+l)
				}
			}
			if len(next) > 150 {
				next = next[:150]
			}
			variants = next
		}
		for _, v := range variants {
			paths[v] = true
			paths[v+"/"] = true
			paths[v+"/extra"] = true
		}
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	n := 0
	for p := range paths {
		for _, m := range methods {
			req := httptest.NewRequest(m, "http://x"+strings.ReplaceAll(p, "//", "/%2F"), nil)
			req.URL.Path = p
			wantRoute, wantParams, wantErr := httpapi.MatchRoute(old, req)
			gotRoute, gotParams, gotErr := compiled.FindRoute(req)
			n++
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%s %s: compiled err %v, legacy err %v", m, p, gotErr, wantErr)
			}
			if wantErr != nil {
				continue
			}
			if gotRoute.Operation.OperationID != wantRoute.Operation.OperationID || gotRoute.Path != wantRoute.Path {
				t.Fatalf("%s %s: compiled %s (%s), legacy %s (%s)", m, p, gotRoute.Operation.OperationID, gotRoute.Path,
					wantRoute.Operation.OperationID, wantRoute.Path)
			}
			if len(gotParams) != len(wantParams) {
				t.Fatalf("%s %s: params %v, legacy %v", m, p, gotParams, wantParams)
			}
			for k, v := range wantParams {
				if gotParams[k] != v {
					t.Fatalf("%s %s: params %v, legacy %v", m, p, gotParams, wantParams)
				}
			}
		}
	}
	t.Logf("%d requests compared", n)
}
