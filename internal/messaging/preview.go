package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Link previews (linkPreview on text sends): the first http(s) URL of the
// text is fetched through the media loader's guarded client (private
// addresses only when allowed), its page's og: tags read, its image made a
// small JPEG. Every step is bounded, and any failure sends the text
// without a preview: a preview is never a reason not to send.
const (
	previewTimeout    = 3 * time.Second // the page and its image together
	previewMaxHTML    = 512 << 10
	previewMaxImage   = 256 << 10
	previewMaxPixels  = 4096 * 4096 // decoded size of the image, checked before decoding
	previewThumbSide  = 192         // longest side of the thumbnail
	previewMaxTitle   = 256
	previewMaxDescrip = 1024
)

var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"']+`)

// firstURL is the first http(s) URL of text, without trailing punctuation.
func firstURL(text string) string {
	u := urlInText.FindString(text)
	return strings.TrimRight(u, ".,;:!?)]}'\"")
}

// linkPreview makes the preview of text's first URL, nil when there is
// none or it cannot be made (logged).
func (s *Service) linkPreview(ctx context.Context, text string) *gateway.LinkPreview {
	raw := firstURL(text)
	if raw == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, previewTimeout)
	defer cancel()
	lp, err := s.loader().preview(ctx, raw)
	if err != nil {
		s.log.Debug().Err(err).Str("url", raw).Msg("link preview failed; sending plain text")
		return nil
	}
	return lp
}

func (l *MediaLoader) preview(ctx context.Context, raw string) (*gateway.LinkPreview, error) {
	page, err := url.Parse(raw)
	if err != nil || (page.Scheme != "http" && page.Scheme != "https") || page.Host == "" {
		return nil, fmt.Errorf("not an http(s) URL: %q", raw)
	}
	c := l.client()
	if l.Client == nil {
		defer c.CloseIdleConnections()
	}
	body, ctype, err := get(ctx, c, page.String(), "text/html, application/xhtml+xml", previewMaxHTML)
	if err != nil {
		return nil, err
	}
	if ctype != "text/html" && ctype != "application/xhtml+xml" {
		return nil, fmt.Errorf("the page is %s, not HTML", ctype)
	}
	meta := pageMeta(body)
	lp := &gateway.LinkPreview{URL: raw, Title: clip(meta.title, previewMaxTitle), Description: clip(meta.description, previewMaxDescrip)}
	if lp.Title == "" && lp.Description == "" {
		return nil, errors.New("the page has no title or description")
	}
	if meta.image != "" {
		if ref, err := page.Parse(meta.image); err == nil && (ref.Scheme == "http" || ref.Scheme == "https") {
			// A missing thumbnail still leaves a preview.
			lp.Thumbnail, lp.ThumbWidth, lp.ThumbHeight, _ = thumbnail(ctx, c, ref.String())
		}
	}
	return lp, nil
}

// get fetches u, at most max bytes; it returns the body and its media type.
func get(ctx context.Context, c *http.Client, u, accept string, max int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "wagate-link-preview/1 (like WhatsApp)")
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	b, err := readLimited(resp.Body, resp.ContentLength, max)
	if err != nil {
		return nil, "", err
	}
	if int64(len(b)) > max {
		if mt == "text/html" || mt == "application/xhtml+xml" {
			return b[:max], mt, nil // the head is at the start: enough of a long page
		}
		return nil, "", fmt.Errorf("larger than %d bytes", max)
	}
	return b, mt, nil
}

type meta struct{ title, description, image string }

// pageMeta reads the head of an HTML page: og:title, og:description,
// og:image (twitter: and description as fallbacks), else <title>.
func pageMeta(b []byte) meta {
	var m, fallback meta
	z := html.NewTokenizer(bytes.NewReader(b))
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return m.or(fallback)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch atom.Lookup(name) {
			case atom.Body:
				return m.or(fallback)
			case atom.Title:
				inTitle = true
			case atom.Meta:
				var key, content string
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					switch strings.ToLower(string(k)) {
					case "property", "name":
						key = strings.ToLower(string(v))
					case "content":
						content = strings.TrimSpace(string(v))
					}
				}
				switch key {
				case "og:title":
					m.title = content
				case "og:description":
					m.description = content
				case "og:image", "og:image:url", "og:image:secure_url":
					if m.image == "" {
						m.image = content
					}
				case "twitter:title":
					fallback.title = content
				case "twitter:description", "description":
					if fallback.description == "" {
						fallback.description = content
					}
				case "twitter:image":
					fallback.image = content
				}
			}
		case html.TextToken:
			if inTitle && fallback.title == "" {
				fallback.title = strings.TrimSpace(string(z.Text()))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Title:
				inTitle = false
			case atom.Head:
				return m.or(fallback)
			}
		}
	}
}

func (m meta) or(f meta) meta {
	if m.title == "" {
		m.title = f.title
	}
	if m.description == "" {
		m.description = f.description
	}
	if m.image == "" {
		m.image = f.image
	}
	return m
}

// clip cuts s to n characters, whitespace collapsed.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// thumbnail fetches a page image and makes it a JPEG of at most
// previewThumbSide on its longest side.
func thumbnail(ctx context.Context, c *http.Client, u string) ([]byte, int, int, error) {
	b, _, err := get(ctx, c, u, "image/jpeg, image/png", previewMaxImage)
	if err != nil {
		return nil, 0, 0, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > previewMaxPixels {
		return nil, 0, 0, fmt.Errorf("image of %dx%d", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, err
	}
	small := scale(img, previewThumbSide)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, small, &jpeg.Options{Quality: 70}); err != nil {
		return nil, 0, 0, err
	}
	return out.Bytes(), small.Bounds().Dx(), small.Bounds().Dy(), nil
}

// scale shrinks img to at most side pixels on its longest side (box
// average; never enlarges).
func scale(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	nw, nh := side, h*side/w
	if h > w {
		nw, nh = w*side/h, side
	}
	nw, nh = max(nw, 1), max(nh, 1)
	out := image.NewRGBA(image.Rect(0, 0, nw, nh))
	for y := 0; y < nh; y++ {
		y0, y1 := b.Min.Y+y*h/nh, b.Min.Y+max((y+1)*h/nh, y*h/nh+1)
		for x := 0; x < nw; x++ {
			x0, x1 := b.Min.X+x*w/nw, b.Min.X+max((x+1)*w/nw, x*w/nw+1)
			var r, g, bl, n uint32
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					cr, cg, cb, _ := img.At(xx, yy).RGBA()
					r, g, bl, n = r+cr>>8, g+cg>>8, bl+cb>>8, n+1
				}
			}
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(r/n), uint8(g/n), uint8(bl/n), 255
		}
	}
	return out
}
