package httpapi

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestPolicies: every operation of openapi.yaml declares a known policy
// that fits it, and the table holds what the rate limiter and the body cap
// relied on before it existed.
func TestPolicies(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	pols, err := loadPolicies(spec)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range spec.Paths.Map() {
		n += len(item.Operations())
	}
	if len(pols) != n {
		t.Fatalf("%d policies for %d operations", len(pols), n)
	}
	for op, want := range map[string]policy{
		"sendText":         {rate: rateSend, body: bodyDefault, idempotent: true, owner: ownerLive},
		"sendImage":        {rate: rateSend, body: bodyMedia, idempotent: true, owner: ownerLive},
		"createSession":    {rate: rateSessionCreate, body: bodyDefault, owner: ownerPlace},
		"getSessionQR":     {rate: rateQR, body: bodyDefault, owner: ownerLive},
		"getHealth":        {rate: rateNone, body: bodyDefault},
		"archiveChat":      {rate: rateGeneral, body: bodyDefault, idempotent: true, owner: ownerLive},
		"blockContact":     {rate: rateGeneral, body: bodyDefault, owner: ownerLive},
		"getSession":       {rate: rateGeneral, body: bodyDefault, owner: ownerLocal},
		"getSessionStatus": {rate: rateGeneral, body: bodyDefault, owner: ownerLocal},
		"listMessages":     {rate: rateGeneral, body: bodyDefault, owner: ownerLocal},
	} {
		if got := pols[op]; got != want {
			t.Errorf("%s: policy %+v, want %+v", op, got, want)
		}
	}
}

// TestPolicyErrors: a missing or unknown policy, or one that does not fit
// its operation, fails at start-up with the operation named.
func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   string
		edit func(op *openapi3.Operation)
		want string
	}{
		{"MissingRate", "listChats", func(op *openapi3.Operation) { delete(op.Extensions, extRateLimit) }, "x-wagate-rate-limit is missing"},
		{"UnknownRate", "listChats", func(op *openapi3.Operation) { op.Extensions[extRateLimit] = "burst" }, `unknown class "burst"`},
		{"RateNotAString", "listChats", func(op *openapi3.Operation) { op.Extensions[extRateLimit] = true }, "x-wagate-rate-limit is missing"},
		{"NoneOnKeyedOp", "listChats", func(op *openapi3.Operation) { op.Extensions[extRateLimit] = "none" }, "open operations (security: []) take none"},
		{"GeneralOnOpenOp", "getHealth", func(op *openapi3.Operation) { op.Extensions[extRateLimit] = "general" }, "open operations (security: []) take none"},
		{"SendWithoutSession", "listApiKeys", func(op *openapi3.Operation) { op.Extensions[extRateLimit] = "send" }, "counts per session"},
		{"MissingOwner", "sendText", func(op *openapi3.Operation) { delete(op.Extensions, extOwner) }, "x-wagate-owner is missing"},
		{"UnknownOwner", "sendText", func(op *openapi3.Operation) { op.Extensions[extOwner] = "anywhere" }, `unknown class "anywhere"`},
		{"OwnerWithoutSession", "listApiKeys", func(op *openapi3.Operation) { op.Extensions[extOwner] = "live" }, "x-wagate-owner on an operation without a session"},
		{"PlacedElsewhere", "listApiKeys", func(op *openapi3.Operation) { op.Extensions[extOwner] = "placed" }, "only createSession takes it"},
		{"PlacedOnSessionOp", "sendText", func(op *openapi3.Operation) { op.Extensions[extOwner] = "placed" }, `unknown class "placed"`},
		{"MissingBody", "sendText", func(op *openapi3.Operation) { delete(op.Extensions, extBodyLimit) }, "x-wagate-body-limit is missing"},
		{"UnknownBody", "sendText", func(op *openapi3.Operation) { op.Extensions[extBodyLimit] = "huge" }, `unknown class "huge"`},
		{"BodyWithoutRequestBody", "listChats", func(op *openapi3.Operation) { op.Extensions[extBodyLimit] = "media" }, "without a requestBody"},
		{"IdempotencyKeyUndeclared", "sendText", func(op *openapi3.Operation) { delete(op.Extensions, extIdempotent) }, "declares the Idempotency-Key parameter without"},
		{"IdempotentWithoutHeader", "listChats", func(op *openapi3.Operation) { op.Extensions[extIdempotent] = true }, "without the Idempotency-Key parameter"},
		{"IdempotentNotBool", "sendText", func(op *openapi3.Operation) { op.Extensions[extIdempotent] = "yes" }, "must be true or absent"},
		{"UnknownExtension", "sendText", func(op *openapi3.Operation) { op.Extensions["x-wagate-cache"] = "1m" }, "unknown extension x-wagate-cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := LoadSpec() // a fresh copy each time
			if err != nil {
				t.Fatal(err)
			}
			op := findOperation(t, spec, tc.op)
			tc.edit(op)
			_, err = loadPolicies(spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "("+tc.op+")") {
				t.Fatalf("error %v, want one about %s containing %q", err, tc.op, tc.want)
			}
			if _, err := newContract(spec, nil, nil, [32]byte{}, nil, nil, nil); err == nil {
				t.Fatal("the contract was built with a broken policy")
			}
		})
	}
}

func findOperation(t *testing.T, spec *openapi3.T, id string) *openapi3.Operation {
	t.Helper()
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				return op
			}
		}
	}
	t.Fatalf("no operation %s", id)
	return nil
}
