package httpapi

import (
	"context"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// TestUUIDPathOnly: the operations validated by isUUIDText instead of
// kin-openapi are those with nothing but UUID path parameters, and for each
// of them kin-openapi accepts every request whose parameters are UUIDs (so
// skipping it accepts nothing it would refuse; a refusal still goes
// through it for its exact message).
func TestUUIDPathOnly(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newContract(spec, nil, nil, gateway.KeyHash{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]bool{"getSessionStatus": true, "getSession": true, "sendMessage": false, "getQRCode": false,
		"listChats": false, "listSessions": false, "healthz": false} {
		if c.uuidOnly[op] != want {
			t.Errorf("uuidOnly[%s] = %v, want %v", op, c.uuidOnly[op], want)
		}
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if !c.uuidOnly[op.OperationID] {
				continue
			}
			n++
			req := httptest.NewRequest(method, param.ReplaceAllString(path, "0F8FAD5B-D9CB-469F-A165-70867728950E"), nil)
			route, params, err := c.router.FindRoute(req)
			if err != nil || route.Operation != op || !allUUIDs(params) {
				t.Fatalf("%s %s: %v %v", method, req.URL.Path, err, params)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: kin-openapi refuses UUID parameters: %v", op.OperationID, err)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d operations on the fast path", n)
	}
}
