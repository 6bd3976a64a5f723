package messaging

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
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

// Image limits and texts.
const (
	DefaultMaxImageBytes = 16 << 20
	imageFetchTimeout    = 30 * time.Second
	maxRedirects         = 5

	msgImageSource  = "image must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"
	msgImageType    = "image must be a JPEG, PNG or WebP image"
	msgImageFetch   = "image could not be downloaded from the URL"
	msgImagePrivate = "image URL points to a private or loopback address, which this server does not allow"
)

// ImageLoader turns the `image` field of a send into bytes.
type ImageLoader struct {
	// MaxBytes caps the decoded image. Defaults to DefaultMaxImageBytes.
	MaxBytes int64
	// AllowPrivate allows URLs that resolve to loopback, private or
	// link-local addresses. Defaults to false.
	AllowPrivate bool
	// Client fetches URLs; nil builds one that enforces AllowPrivate at dial
	// time (so redirects and DNS rebinding cannot bypass it).
	Client *http.Client
}

// Image is a loaded image.
type Image struct {
	Data     []byte
	MimeType string
	Width    int
	Height   int
}

// Load reads src (URL, data: URL or base64) and checks it is an image.
// mimeHint, when set, must agree with the detected type.
func (l *ImageLoader) Load(ctx context.Context, src, mimeHint string) (*Image, error) {
	src = strings.TrimSpace(src)
	max := l.MaxBytes
	if max <= 0 {
		max = DefaultMaxImageBytes
	}
	var data []byte
	var err error
	lower := strings.ToLower(src)
	switch {
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		data, err = l.fetch(ctx, src, max)
	case strings.HasPrefix(lower, "data:"):
		comma := strings.IndexByte(src, ',')
		if comma < 0 || !strings.Contains(strings.ToLower(src[:comma]), ";base64") {
			return nil, gateway.E(gateway.CodeInvalid, msgImageSource)
		}
		data, err = decodeBase64(src[comma+1:], max)
	case looksLikePath(src):
		return nil, gateway.E(gateway.CodeInvalid, msgImageSource)
	default:
		data, err = decodeBase64(src, max)
	}
	if err != nil {
		return nil, err
	}
	img := &Image{Data: data, MimeType: detectImageType(data)}
	if img.MimeType == "" {
		return nil, gateway.E(gateway.CodeInvalid, msgImageType)
	}
	if mimeHint != "" && mimeHint != img.MimeType {
		return nil, gateway.Errorf(gateway.CodeInvalid, "mimeType %s does not match the image, which is %s", mimeHint, img.MimeType)
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		img.Width, img.Height = cfg.Width, cfg.Height
	}
	return img, nil
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

func detectImageType(data []byte) string {
	switch ct := http.DetectContentType(data); ct {
	case "image/jpeg", "image/png", "image/webp":
		return ct
	}
	return ""
}

func decodeBase64(s string, max int64) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, gateway.E(gateway.CodeInvalid, msgImageSource)
	}
	if int64(base64.StdEncoding.DecodedLen(len(s))) > max+3 {
		return nil, gateway.Errorf(gateway.CodeTooLarge, "image is larger than %d bytes", max)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if int64(len(b)) > max {
				return nil, gateway.Errorf(gateway.CodeTooLarge, "image is larger than %d bytes", max)
			}
			return b, nil
		}
	}
	return nil, gateway.E(gateway.CodeInvalid, msgImageSource)
}

func (l *ImageLoader) client() *http.Client {
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

func (l *ImageLoader) fetch(ctx context.Context, url string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, msgImageSource, err)
	}
	req.Header.Set("Accept", "image/*")
	c := l.client()
	if l.Client == nil {
		// The client (and its transport) was built for this fetch: close its
		// kept-alive connection instead of leaving it idle until timeout.
		defer c.CloseIdleConnections()
	}
	resp, err := c.Do(req)
	if err != nil {
		if refused := (*netguard.RefusedError)(nil); errors.As(err, &refused) {
			return nil, gateway.Wrap(gateway.CodeInvalid, msgImagePrivate, err)
		}
		return nil, gateway.Wrap(gateway.CodeInvalid, msgImageFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, gateway.Errorf(gateway.CodeInvalid, "%s (HTTP %d)", msgImageFetch, resp.StatusCode)
	}
	if resp.ContentLength > max {
		return nil, gateway.Errorf(gateway.CodeTooLarge, "image is larger than %d bytes", max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, gateway.Wrap(gateway.CodeInvalid, msgImageFetch, err)
	}
	if int64(len(data)) > max {
		return nil, gateway.Errorf(gateway.CodeTooLarge, "image is larger than %d bytes", max)
	}
	return data, nil
}
