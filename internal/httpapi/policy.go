package httpapi

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The operation-policy table: every operation in openapi.yaml declares, as
// x-wagate-* extensions next to its operationId, how the HTTP layer treats
// it. They are read once at start-up (New fails on a missing or unknown
// policy), so adding an endpoint means declaring its policy in the spec and
// nothing here:
//
//	x-wagate-rate-limit: general | send | session-create | qr | none   (every operation)
//	x-wagate-body-limit: default | media | media-video | media-audio | media-document | media-sticker
//	                                                                    (every operation with a requestBody)
//	x-wagate-idempotent: true                                          (exactly the operations with the Idempotency-Key parameter)
//	x-wagate-owner: live | local                                       (exactly the operations of one session: path {id})
//	x-wagate-owner: placed                                             (createSession only)
//
// x-wagate-owner says whether the operation needs the session's live
// WhatsApp client (live: in a cluster it is forwarded to the node that
// owns the session, forward.go) or is answered from the database on any
// node (local); placed: it creates a session, and in a cluster it is
// forwarded to the least-loaded node, which then owns the session.
const (
	extRateLimit  = "x-wagate-rate-limit"
	extBodyLimit  = "x-wagate-body-limit"
	extIdempotent = "x-wagate-idempotent"
	extOwner      = "x-wagate-owner"
)

// ownerClass is where a session operation runs in a cluster.
type ownerClass string

// Owner classes.
const (
	ownerNone  ownerClass = ""       // not a session operation
	ownerLive  ownerClass = "live"   // needs the live client: runs on the session's owner
	ownerLocal ownerClass = "local"  // reads or writes the database: any node
	ownerPlace ownerClass = "placed" // creates a session: runs on the least-loaded node
)

// rateClass is the rate limit an operation counts against besides the
// general per-key limit.
type rateClass string

// Rate-limit classes.
const (
	rateNone          rateClass = "none"           // open operations (no key, no limit)
	rateGeneral       rateClass = "general"        // the per-key request limit only
	rateSend          rateClass = "send"           // + sends per minute per session
	rateSessionCreate rateClass = "session-create" // + session creations per hour per key
	rateQR            rateClass = "qr"             // + one QR poll per QRSeconds per session
)

// bodyClass chooses the request body cap.
type bodyClass string

// Body-limit classes. A media class caps the body from its kind's file
// limit (gateway.MessagingService.MaxSendBytes): a JSON body may hold the
// file in base64 (4/3 of it) plus mediaBodySlack for the other fields, a
// multipart/form-data body the file itself plus mediaBodySlack.
const (
	bodyDefault       bodyClass = "default"        // Deps.MaxBodyBytes (1 MiB)
	bodyMedia         bodyClass = "media"          // images (Deps.MaxImageBodyBytes overrides)
	bodyMediaVideo    bodyClass = "media-video"    // videos
	bodyMediaAudio    bodyClass = "media-audio"    // audio and voice notes
	bodyMediaDocument bodyClass = "media-document" // documents
	bodyMediaSticker  bodyClass = "media-sticker"  // stickers
)

// mediaBodySlack is what a media body may hold besides the file: the other
// fields, JSON or multipart framing.
const mediaBodySlack = 64 << 10

// mediaClasses maps each media body class to its kind.
var mediaClasses = map[bodyClass]gateway.MediaKind{
	bodyMedia: gateway.MediaImage, bodyMediaVideo: gateway.MediaVideo, bodyMediaAudio: gateway.MediaAudio,
	bodyMediaDocument: gateway.MediaDocument, bodyMediaSticker: gateway.MediaSticker,
}

// bodyCap is the body cap of a class: of JSON (and other) bodies, and of
// multipart/form-data bodies (the file in binary).
type bodyCap struct{ json, multipart int64 }

// base64Len is the length of n bytes in padded base64.
func base64Len(n int64) int64 { return (n + 2) / 3 * 4 }

// bodyCaps returns the cap of every class: default from maxBody, the
// media classes from their kind's file limit (maxFile, asked at each
// request: the service owns the limits), the image class imageBody when it
// is set.
func bodyCaps(maxBody, imageBody int64, maxFile func(gateway.MediaKind) int64) func(bodyClass) bodyCap {
	return func(class bodyClass) bodyCap {
		kind, media := mediaClasses[class]
		switch {
		case !media || maxFile == nil:
			return bodyCap{maxBody, maxBody}
		case class == bodyMedia && imageBody > 0:
			return bodyCap{imageBody, imageBody}
		}
		n := maxFile(kind)
		return bodyCap{json: max(base64Len(n)+mediaBodySlack, maxBody), multipart: max(n+mediaBodySlack, maxBody)}
	}
}

// policy is how the HTTP layer treats one operation.
type policy struct {
	rate rateClass
	body bodyClass
	// idempotent: the Idempotency-Key header applies. The request is
	// fingerprinted by its operation, path parameters, query and validated
	// body (see idempotency.go), the same rule for every operation.
	idempotent bool
	// owner: where the operation runs in a cluster.
	owner ownerClass
}

// policies maps operationId to policy.
type policies map[string]policy

// loadPolicies reads the policy of every operation of spec and checks it
// against the operation (open operations take rate limit none and no
// other; x-wagate-idempotent exactly where the Idempotency-Key parameter is
// declared, on session operations). Every problem is reported.
func loadPolicies(spec *openapi3.T) (policies, error) {
	out := policies{}
	var errs []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			p, err := operationPolicy(spec, path, item, op)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s %s (%s): %v", method, path, op.OperationID, err))
				continue
			}
			out[op.OperationID] = p
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errors.New("openapi.yaml operation policies:\n  " + strings.Join(errs, "\n  "))
	}
	return out, nil
}

func operationPolicy(spec *openapi3.T, path string, item *openapi3.PathItem, op *openapi3.Operation) (policy, error) {
	var p policy
	var errs []string
	for k := range op.Extensions {
		if strings.HasPrefix(k, "x-wagate-") && k != extRateLimit && k != extBodyLimit && k != extIdempotent && k != extOwner {
			errs = append(errs, "unknown extension "+k)
		}
	}

	switch rate, ok := op.Extensions[extRateLimit].(string); {
	case !ok:
		errs = append(errs, extRateLimit+" is missing (general, send, session-create, qr or none)")
	default:
		p.rate = rateClass(rate)
		switch p.rate {
		case rateNone, rateGeneral, rateSend, rateSessionCreate, rateQR:
		default:
			errs = append(errs, fmt.Sprintf("%s: unknown class %q", extRateLimit, rate))
		}
		open := kindOf(spec, op) == opOpen
		if open != (p.rate == rateNone) {
			errs = append(errs, fmt.Sprintf("%s: %q, but open operations (security: []) take none and only they do", extRateLimit, rate))
		}
		if (p.rate == rateSend || p.rate == rateQR) && !strings.Contains(path, "{id}") {
			errs = append(errs, fmt.Sprintf("%s: %q counts per session: the path needs {id}", extRateLimit, rate))
		}
	}

	p.body = bodyDefault
	raw, has := op.Extensions[extBodyLimit]
	switch body, ok := raw.(string); {
	case op.RequestBody == nil && has:
		errs = append(errs, extBodyLimit+" on an operation without a requestBody")
	case op.RequestBody != nil && !ok:
		errs = append(errs, extBodyLimit+" is missing (default, media or media-<kind>)")
	case ok:
		p.body = bodyClass(body)
		if _, media := mediaClasses[p.body]; p.body != bodyDefault && !media {
			errs = append(errs, fmt.Sprintf("%s: unknown class %q", extBodyLimit, body))
		}
	}

	if raw, has := op.Extensions[extIdempotent]; has {
		b, ok := raw.(bool)
		if !ok {
			errs = append(errs, extIdempotent+" must be true or absent")
		}
		p.idempotent = b
	}
	declared := hasHeaderParam(item.Parameters, "Idempotency-Key") || hasHeaderParam(op.Parameters, "Idempotency-Key")
	switch {
	case declared && !p.idempotent:
		errs = append(errs, "declares the Idempotency-Key parameter without "+extIdempotent+": true")
	case p.idempotent && !declared:
		errs = append(errs, extIdempotent+" without the Idempotency-Key parameter")
	case p.idempotent && (!strings.Contains(path, "{id}") || kindOf(spec, op) != opSession):
		errs = append(errs, extIdempotent+": keys are kept per session: only session operations (path {id}) may be idempotent")
	}

	raw, has = op.Extensions[extOwner]
	sessionOp := strings.Contains(path, "{id}")
	switch owner, ok := raw.(string); {
	case !sessionOp && has && (owner != string(ownerPlace) || op.OperationID != "createSession"):
		errs = append(errs, extOwner+" on an operation without a session (path {id}): only createSession takes it, as placed")
	case !sessionOp && has:
		p.owner = ownerPlace
	case sessionOp && !ok:
		errs = append(errs, extOwner+" is missing (live or local)")
	case ok:
		p.owner = ownerClass(owner)
		if p.owner != ownerLive && p.owner != ownerLocal {
			errs = append(errs, fmt.Sprintf("%s: unknown class %q", extOwner, owner))
		}
		if p.owner == ownerLive && (op.Responses == nil || op.Responses.Value("503") == nil) {
			errs = append(errs, extOwner+": live operations answer 503 while the session moves between nodes: declare it")
		}
	}
	if len(errs) > 0 {
		return p, errors.New(strings.Join(errs, "; "))
	}
	return p, nil
}

func hasHeaderParam(params openapi3.Parameters, name string) bool {
	for _, ref := range params {
		if ref != nil && ref.Value != nil && ref.Value.In == openapi3.ParameterInHeader && strings.EqualFold(ref.Value.Name, name) {
			return true
		}
	}
	return false
}
