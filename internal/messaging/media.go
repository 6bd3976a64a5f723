package messaging

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig for JPEG
	_ "image/png"  // DecodeConfig for PNG
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/netguard"
)

// Media send limits and texts. The texts name the request field of the
// kind ("image must be …"); %s is that field.
const (
	DefaultMaxImageBytes = 16 << 20
	imageFetchTimeout    = 30 * time.Second
	maxRedirects         = 5

	msgMediaSourceFmt  = "%s must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"
	msgMediaFetchFmt   = "%s could not be downloaded from the URL"
	msgMediaPrivateFmt = "%s URL points to a private or loopback address, which this server does not allow"
	msgMediaTooBigFmt  = "%s is larger than %d bytes"
	msgMediaMimeFmt    = "mimeType %s does not match the %s, which is %s"
	msgImageType       = "image must be a JPEG, PNG or WebP image"
)

// mediaKind is everything the domain knows of a kind of media send: a new
// kind (issue 12: video, audio, document, sticker) is one entry in
// mediaKinds and one case in the WhatsApp adapter's message builder.
type mediaKind struct {
	kind      gateway.MediaKind
	field     string              // request field of the file, in error texts
	msgType   gateway.MessageType // type of the stored message
	maxBytes  int64               // largest file (default; Options.MaxSendBytes overrides)
	mimeTypes []string            // accepted types, as sniffed from the content
	typeError string              // text when the content is of another type
	dims      bool                // read width and height (images)
	// sniffer, when set, replaces http.DetectContentType for the kind
	// (containers it does not know: 3GPP, Ogg/Opus, AAC, AMR).
	sniffer func([]byte) string
	// anyType accepts every content (documents): the client's mimeType,
	// when given, is what the recipient sees.
	anyType bool
}

// mediaKinds are the kinds of media sends.
var mediaKinds = map[gateway.MediaKind]mediaKind{
	gateway.MediaImage: {
		kind: gateway.MediaImage, field: "image", msgType: gateway.TypeImage, maxBytes: DefaultMaxImageBytes,
		mimeTypes: []string{"image/jpeg", "image/png", "image/webp"}, typeError: msgImageType, dims: true,
	},
	gateway.MediaVideo: {
		kind: gateway.MediaVideo, field: "video", msgType: gateway.TypeVideo, maxBytes: DefaultMaxVideoBytes,
		mimeTypes: []string{"video/mp4", "video/3gpp"}, typeError: msgVideoType, sniffer: sniffVideo,
	},
	gateway.MediaAudio: {
		kind: gateway.MediaAudio, field: "audio", msgType: gateway.TypeAudio, maxBytes: DefaultMaxAudioBytes,
		mimeTypes: []string{"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"}, typeError: msgAudioType, sniffer: sniffAudio,
	},
	gateway.MediaDocument: {
		kind: gateway.MediaDocument, field: "document", msgType: gateway.TypeDocument, maxBytes: DefaultMaxDocumentBytes,
		typeError: msgDocumentType, anyType: true,
	},
	gateway.MediaSticker: {
		kind: gateway.MediaSticker, field: "sticker", msgType: gateway.TypeSticker, maxBytes: DefaultMaxStickerBytes,
		mimeTypes: []string{"image/webp"}, typeError: msgStickerType, dims: true,
	},
}

// kind returns the kind of a media send with this service's size limit.
func (s *Service) kind(k gateway.MediaKind) (mediaKind, error) {
	mk, ok := mediaKinds[k]
	if !ok {
		return mk, gateway.Errorf(gateway.CodeInvalid, "media kind %q is not supported", k)
	}
	if n := s.opts.MaxSendBytes[k]; n > 0 {
		mk.maxBytes = n
	} else if k == gateway.MediaImage && s.opts.Images.MaxBytes > 0 {
		mk.maxBytes = s.opts.Images.MaxBytes
	}
	return mk, nil
}

// MaxSendBytes returns the largest file a media send of kind k accepts (0
// for an unknown kind); the HTTP layer sizes request bodies from it.
func (s *Service) MaxSendBytes(k gateway.MediaKind) int64 {
	mk, err := s.kind(k)
	if err != nil {
		return 0
	}
	return mk.maxBytes
}

// loader returns the file loader of media sends.
func (s *Service) loader() *MediaLoader {
	if s.opts.Media == (MediaLoader{}) {
		return &MediaLoader{AllowPrivate: s.opts.Images.AllowPrivate, Client: s.opts.Images.Client}
	}
	return &s.opts.Media
}

// MediaLoader turns the file field of a media send (URL, data: URL or
// base64) into bytes, for every kind.
type MediaLoader struct {
	// AllowPrivate allows URLs that resolve to loopback, private or
	// link-local addresses. Defaults to false.
	AllowPrivate bool
	// Client fetches URLs; nil builds one that enforces AllowPrivate at dial
	// time (so redirects and DNS rebinding cannot bypass it).
	Client *http.Client
}

// ImageLoader loads images: the image-only loader of the options before
// MediaLoader, still accepted (Options.Images).
type ImageLoader struct {
	// MaxBytes caps the decoded image. Defaults to DefaultMaxImageBytes.
	MaxBytes     int64
	AllowPrivate bool
	Client       *http.Client
}

// Image is a loaded image (a loaded media file).
type Image = MediaFile

// MediaFile is a loaded media file.
type MediaFile struct {
	Data     []byte
	MimeType string
	Width    int // images; 0 when unknown
	Height   int
}

// Load reads src (URL, data: URL or base64) and checks it is an image.
// mimeHint, when set, must agree with the detected type.
func (l *ImageLoader) Load(ctx context.Context, src, mimeHint string) (*Image, error) {
	k := mediaKinds[gateway.MediaImage]
	if l.MaxBytes > 0 {
		k.maxBytes = l.MaxBytes
	}
	return (&MediaLoader{AllowPrivate: l.AllowPrivate, Client: l.Client}).load(ctx, k, src, mimeHint)
}

// loadSend loads the file of a media send: uploaded (r.Data) or r.Source.
func (l *MediaLoader) loadSend(ctx context.Context, k mediaKind, r gateway.MediaSend) (*MediaFile, error) {
	if r.Data != nil {
		if int64(len(r.Data)) > k.maxBytes {
			return nil, tooLarge(k, k.maxBytes)
		}
		return checkFile(k, r.Data, r.MimeType)
	}
	return l.load(ctx, k, r.Source, r.MimeType)
}

// load reads src and checks it is of kind k: within its size, of one of
// its types (sniffed from the content; mimeHint, when set, must agree).
func (l *MediaLoader) load(ctx context.Context, k mediaKind, src, mimeHint string) (*MediaFile, error) {
	src = strings.TrimSpace(src)
	max := k.maxBytes
	invalidSource := gateway.Errorf(gateway.CodeInvalid, msgMediaSourceFmt, k.field)
	var data []byte
	var err error
	lower := strings.ToLower(src[:min(len(src), 8)])
	switch {
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		data, err = l.fetch(ctx, k, src, max)
	case strings.HasPrefix(lower, "data:"):
		comma := strings.IndexByte(src, ',')
		if comma < 0 || !strings.Contains(strings.ToLower(src[:comma]), ";base64") {
			return nil, invalidSource
		}
		data, err = decodeBase64(k, src[comma+1:], max)
	case looksLikePath(src):
		return nil, invalidSource
	default:
		data, err = decodeBase64(k, src, max)
	}
	if err != nil {
		return nil, err
	}
	return checkFile(k, data, mimeHint)
}

// checkFile checks a loaded file is of kind k: not empty, of one of its
// types (sniffed; mimeHint, when set, must agree).
func checkFile(k mediaKind, data []byte, mimeHint string) (*MediaFile, error) {
	if len(data) == 0 {
		return nil, gateway.Errorf(gateway.CodeInvalid, msgMediaEmptyFmt, k.field)
	}
	f := &MediaFile{Data: data, MimeType: sniff(k, data)}
	if f.MimeType == "" {
		return nil, gateway.E(gateway.CodeInvalid, k.typeError)
	}
	if k.anyType && mimeHint != "" {
		f.MimeType = mimeHint
	} else if mimeHint != "" && mimeHint != f.MimeType {
		return nil, gateway.Errorf(gateway.CodeInvalid, msgMediaMimeFmt, mimeHint, k.field, f.MimeType)
	}
	if k.dims {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			f.Width, f.Height = cfg.Width, cfg.Height
		}
	}
	return f, nil
}

// looksLikePath reports whether src is a file path or a non-http URL rather
// than base64 ("/etc/passwd" is valid base64 too, so this is checked first).
func looksLikePath(src string) bool {
	switch {
	case strings.Contains(src, "://"), strings.HasPrefix(src, "~"), strings.HasPrefix(src, "."),
		strings.ContainsAny(src, `\:`):
		return true
	case strings.HasPrefix(src, "/") && len(src) < 4096 && strings.Count(src, "/") > 1:
		// Base64 of an image has far more than a few characters and
		// rarely starts with "/" followed by further "/" within a short
		// string; JPEG base64 starts with "/9j/", which is handled below.
		return !strings.HasPrefix(src, "/9j/")
	}
	return false
}

// sniff returns the type of data when it is one of k's types, else "".
func sniff(k mediaKind, data []byte) string {
	if k.sniffer != nil {
		return k.sniffer(data)
	}
	ct := http.DetectContentType(data)
	if k.anyType {
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		return ct
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	for _, t := range k.mimeTypes {
		if ct == t {
			return ct
		}
	}
	return ""
}

func tooLarge(k mediaKind, max int64) error {
	return gateway.Errorf(gateway.CodeTooLarge, msgMediaTooBigFmt, k.field, max)
}

func decodeBase64(k mediaKind, s string, max int64) ([]byte, error) {
	if strings.ContainsAny(s, "\n\r \t") { // a copy only when there is whitespace to drop
		s = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return nil, gateway.Errorf(gateway.CodeInvalid, msgMediaSourceFmt, k.field)
	}
	if int64(base64.StdEncoding.DecodedLen(len(s))) > max+3 {
		return nil, tooLarge(k, max)
	}
	// Streamed from the string into one output buffer for every alphabet
	// tried: DecodeString would copy the string and make a buffer each time.
	buf := make([]byte, base64.RawStdEncoding.DecodedLen(len(s))+1) // the largest of the four
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		dec := base64.NewDecoder(enc, strings.NewReader(s))
		n, err := 0, error(nil)
		for err == nil && n < len(buf) {
			var m int
			m, err = dec.Read(buf[n:])
			n += m
		}
		if err == io.EOF { // the decoder's clean end; a bad or cut input is another error

			if int64(n) > max {
				return nil, tooLarge(k, max)
			}
			return buf[:n:n], nil
		}
	}
	return nil, gateway.Errorf(gateway.CodeInvalid, msgMediaSourceFmt, k.field)
}

func (l *MediaLoader) client() *http.Client {
	if l.Client != nil {
		return l.Client
	}
	tr := netguard.Guard{AllowPrivate: l.AllowPrivate}.Transport(10 * time.Second) // no proxy: it would hide the destination
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 15 * time.Second
	tr.MaxIdleConns = 4
	tr.IdleConnTimeout = 30 * time.Second
	return &http.Client{
		Timeout:   imageFetchTimeout,
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errors.New("redirect to a non-http URL")
			}
			return nil
		},
	}
}

// PublicAddr reports whether ip is a public unicast address: not in any
// range internal/netguard refuses (loopback, private, link-local, CGNAT,
// unspecified, multicast, documentation, …).
func PublicAddr(ip netip.Addr) bool { return netguard.Public(ip) }

func (l *MediaLoader) fetch(ctx context.Context, k mediaKind, url string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, fmt.Sprintf(msgMediaSourceFmt, k.field), err)
	}
	req.Header.Set("Accept", acceptOf(k))
	c := l.client()
	if l.Client == nil {
		// The client (and its transport) was built for this fetch: close its
		// kept-alive connection instead of leaving it idle until timeout.
		defer c.CloseIdleConnections()
	}
	fetchFailed := fmt.Sprintf(msgMediaFetchFmt, k.field)
	resp, err := c.Do(req)
	if err != nil {
		if refused := (*netguard.RefusedError)(nil); errors.As(err, &refused) {
			return nil, gateway.Wrap(gateway.CodeInvalid, fmt.Sprintf(msgMediaPrivateFmt, k.field), err)
		}
		return nil, gateway.Wrap(gateway.CodeInvalid, fetchFailed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, gateway.Errorf(gateway.CodeInvalid, "%s (HTTP %d)", fetchFailed, resp.StatusCode)
	}
	if resp.ContentLength > max {
		return nil, tooLarge(k, max)
	}
	data, err := readLimited(resp.Body, resp.ContentLength, max)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, fetchFailed, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(k, max)
	}
	return data, nil
}

// acceptOf is the Accept header of a fetch for kind k ("image/*").
func acceptOf(k mediaKind) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range k.mimeTypes {
		if major, _, ok := strings.Cut(t, "/"); ok && !seen[major] {
			seen[major] = true
			out = append(out, major+"/*")
		}
	}
	if len(out) == 0 {
		return "*/*"
	}
	return strings.Join(out, ", ")
}

// readLimited reads r up to max+1 bytes, streamed into one buffer of the
// announced size when it is known (not ReadAll's doublings).
func readLimited(r io.Reader, announced, max int64) ([]byte, error) {
	if announced < 0 || announced > max {
		return io.ReadAll(io.LimitReader(r, max+1))
	}
	b := make([]byte, announced+1)
	n, err := io.ReadFull(r, b)
	switch {
	case err == nil: // longer than announced
		rest, err := io.ReadAll(io.LimitReader(r, max+1-int64(n)))
		return append(b[:n], rest...), err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return b[:n], nil
	}
	return nil, err
}
