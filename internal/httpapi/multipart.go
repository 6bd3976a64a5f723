package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// multipart/form-data bodies of the media sends are not read by the
// contract middleware: they are capped while the handler reads them
// (streamBody), the spec's body validation is skipped for them, and the
// handler checks the form fields itself (multipartSend).

// isMultipart reports whether req has a multipart/form-data body and op
// accepts one; an error when the body has no boundary.
func isMultipart(req *http.Request, op *openapi3.Operation) (bool, error) {
	if req.Body == nil || req.Body == http.NoBody || op.RequestBody == nil || op.RequestBody.Value == nil ||
		op.RequestBody.Value.Content.Get("multipart/form-data") == nil {
		return false, nil
	}
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return false, nil
	}
	if params["boundary"] == "" {
		return false, gateway.E(gateway.CodeInvalid, "Invalid request body: multipart/form-data needs a boundary")
	}
	return true, nil
}

var errBodyTooLarge = gateway.E(gateway.CodeTooLarge, gateway.MsgBodyTooLarge)

// streamBody caps req's body at limit bytes as it is read: a read past it
// fails with errBodyTooLarge (413). A body announced larger fails at the
// first read.
func streamBody(req *http.Request, limit int64) *http.Request {
	req.Body = &cappedBody{rc: req.Body, left: limit, over: req.ContentLength > limit}
	return req.WithContext(context.WithValue(req.Context(), ctxLengthKey{}, req.ContentLength))
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
	over bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.over = true
		return n + int(b.left), errBodyTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// bodyError returns the gateway error inside a read error of a capped body
// (413), else nil.
func bodyError(err error) error {
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return ge
	}
	return nil
}

// Limits of the multipart form besides the file.
const (
	maxFormField  = 8 << 10 // a form field's value
	maxFormFields = 80      // parts in one form (64 mentions and the rest)
)

// mediaForm is a media send read from a multipart/form-data body.
type mediaForm struct {
	to     string
	fields map[string]string // single fields by name
	multi  map[string][]string
	file   []byte
}

// readMediaForm reads the parts of a media send's form: the file in the
// part named fileField (at most maxFile bytes, read into one buffer sized
// from the request when it is announced), the single fields of names
// (booleans as true/false), and the repeated field "mentions" when
// repeated is set. Unknown fields, a missing to or file, and texts with NUL
// or invalid UTF-8 are 400s as in JSON bodies; a body above the class's
// cap, or a file above maxFile, 413.
func readMediaForm(ctx context.Context, mr *multipart.Reader, fileField string, maxFile int64, names []string, repeated bool) (*mediaForm, error) {
	f := &mediaForm{fields: map[string]string{}, multi: map[string][]string{}}
	known := map[string]bool{"to": true}
	for _, n := range names {
		known[n] = true
	}
	var haveFile bool
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if be := bodyError(err); be != nil {
				return nil, be
			}
			return nil, gateway.Wrap(gateway.CodeInvalid, "Invalid request body: malformed multipart/form-data", err)
		}
		if i >= maxFormFields {
			return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: too many form fields")
		}
		name := p.FormName()
		switch {
		case name == fileField:
			if haveFile {
				return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s appears twice", fileField)
			}
			haveFile = true
			b, err := readAtMost(p, announcedLength(ctx), maxFile)
			if err != nil {
				if be := bodyError(err); be != nil {
					return nil, be
				}
				return nil, gateway.Wrap(gateway.CodeInvalid, "Could not read the request body", err)
			}
			if int64(len(b)) > maxFile {
				return nil, gateway.Errorf(gateway.CodeTooLarge, "%s is larger than %d bytes", fileField, maxFile)
			}
			f.file = b
		case known[name] || (repeated && name == "mentions"):
			b, err := readAtMost(p, -1, maxFormField)
			if err != nil {
				if be := bodyError(err); be != nil {
					return nil, be
				}
				return nil, gateway.Wrap(gateway.CodeInvalid, "Could not read the request body", err)
			}
			if len(b) > maxFormField {
				return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s is longer than %d bytes", name, maxFormField)
			}
			v := string(b)
			if r := textReason(v); r != "" {
				return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s: %s", name, r)
			}
			if name == "mentions" {
				f.multi[name] = append(f.multi[name], v)
				continue
			}
			if _, dup := f.fields[name]; dup {
				return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s appears twice", name)
			}
			f.fields[name] = v
		case name == "":
			return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: a form part has no name")
		default:
			return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: property %q is unsupported", name)
		}
		_ = p.Close()
	}
	f.to = strings.TrimSpace(f.fields["to"])
	if f.to == "" {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid request body: property \"to\" is missing")
	}
	if !haveFile {
		return nil, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: property %q is missing (the file part)", fileField)
	}
	return f, nil
}

// str is a single field's value ("" when absent).
func (f *mediaForm) str(name string) string { return f.fields[name] }

// boolean is a true/false field.
func (f *mediaForm) boolean(name string) (bool, error) {
	switch v := strings.TrimSpace(f.fields[name]); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s must be true or false", name)
	}
}

// maxLen refuses a field longer than n characters (the JSON schema's
// maxLength).
func (f *mediaForm) maxLen(name string, n int) error {
	if utf8.RuneCountInString(f.fields[name]) > n {
		return gateway.Errorf(gateway.CodeInvalid, "Invalid request body: %s: maximum string length is %d", name, n)
	}
	return nil
}

type ctxLengthKey struct{}

// announcedLength is the Content-Length of a multipart request (-1 when
// unknown): the file's buffer is sized from it.
func announcedLength(ctx context.Context) int64 {
	if n, ok := ctx.Value(ctxLengthKey{}).(int64); ok {
		return n
	}
	return -1
}
