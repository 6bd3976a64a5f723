package httpapi

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wagate-dev/wagate/internal/gateway"
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
		"sendVideo":        {rate: rateSend, body: bodyMediaVideo, idempotent: true, owner: ownerLive},
		"sendAudio":        {rate: rateSend, body: bodyMediaAudio, idempotent: true, owner: ownerLive},
		"sendDocument":     {rate: rateSend, body: bodyMediaDocument, idempotent: true, owner: ownerLive},
		"sendSticker":      {rate: rateSend, body: bodyMediaSticker, idempotent: true, owner: ownerLive},
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

// TestBodyCaps: a media class's cap follows its kind's file limit (base64
// of it plus the slack for JSON, the file plus the slack for multipart),
// never below the default cap; the image override applies to media only.
func TestBodyCaps(t *testing.T) {
	limits := map[gateway.MediaKind]int64{gateway.MediaVideo: 64 << 20, gateway.MediaSticker: 1 << 20, gateway.MediaImage: 16 << 20}
	caps := bodyCaps(1<<20, 0, func(k gateway.MediaKind) int64 { return limits[k] })
	for class, want := range map[bodyClass]bodyCap{
		bodyDefault:      {1 << 20, 1 << 20},
		bodyMediaVideo:   {(64<<20+2)/3*4 + mediaBodySlack, 64<<20 + mediaBodySlack},
		bodyMediaSticker: {(1<<20+2)/3*4 + mediaBodySlack, 1<<20 + mediaBodySlack},
		bodyMedia:        {(16<<20+2)/3*4 + mediaBodySlack, 16<<20 + mediaBodySlack},
		bodyMediaAudio:   {1 << 20, 1 << 20}, // no limit known: the default
	} {
		if got := caps(class); got != want {
			t.Errorf("%s: %+v, want %+v", class, got, want)
		}
	}
	if got := bodyCaps(1<<20, 20<<20, nil)(bodyMedia); got != (bodyCap{1 << 20, 1 << 20}) {
		t.Errorf("without limits: %+v", got)
	}
	if got := bodyCaps(1<<20, 20<<20, func(gateway.MediaKind) int64 { return 1 })(bodyMedia); got != (bodyCap{20 << 20, 20 << 20}) {
		t.Errorf("image override: %+v", got)
	}
}
