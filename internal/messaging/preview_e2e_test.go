package messaging_test

import (
	"bytes"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestSendTextLinkPreviewEndToEnd: linkPreview fetches the first URL of
// the text (a local page: the service allows private addresses), and the
// contact decodes its og:title and og:description and a JPEG thumbnail of
// the og:image scaled to 192 px; a page with only <title> previews with
// it; a page that fails (404, not HTML) sends the plain text, 200 all the
// same.
func TestSendTextLinkPreviewEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118200", messaging.Options{Media: messaging.MediaLoader{AllowPrivate: true}})
	contact := e.sim.Contact("15550118201")
	const to = "15550118201"
	photo := pngOf(t, 400, 300, 7)
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>ignored</title>
<meta property="og:title" content="Release 2.0 is out">
<meta property="og:description" content="Everything new in wagate 2.0, in one page.">
<meta property="og:image" content="/img/cover.png"></head><body>hello</body></html>`))
	})
	mux.HandleFunc("/plain-title", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<html><head><title> Only a title </title></head><body></body></html>`))
	})
	mux.HandleFunc("/img/cover.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(photo)
	})
	mux.HandleFunc("/data.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"title":"no"}`))
	})
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)

	send := func(text string) wasim.Received {
		t.Helper()
		r, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: to, Text: text, LinkPreview: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode() != http.StatusOK || r.JSON200 == nil {
			t.Fatalf("send %q: status %d %s", text, r.StatusCode(), r.Body)
		}
		id := r.JSON200.MessageId
		return e.received(contact, id, func(x wasim.Received) bool { return x.ID == id })
	}

	u := site.URL + "/article"
	got := send("Read this: " + u + ". Thoughts?")
	if got.Kind != wasim.KindText || got.Text != "Read this: "+u+". Thoughts?" {
		t.Fatalf("received %s %q", got.Kind, got.Text)
	}
	if got.LinkURL != u || got.LinkTitle != "Release 2.0 is out" || got.LinkDescription != "Everything new in wagate 2.0, in one page." || !got.LinkThumbnail {
		t.Fatalf("preview received as url %q title %q description %q thumbnail %v", got.LinkURL, got.LinkTitle, got.LinkDescription, got.LinkThumbnail)
	}
	et := got.Message.GetExtendedTextMessage()
	thumb, err := jpeg.DecodeConfig(bytes.NewReader(et.GetJPEGThumbnail()))
	if err != nil || thumb.Width != 192 || thumb.Height != 144 || et.GetThumbnailWidth() != 192 || et.GetThumbnailHeight() != 144 {
		t.Fatalf("thumbnail: %v %dx%d (declared %dx%d)", err, thumb.Width, thumb.Height, et.GetThumbnailWidth(), et.GetThumbnailHeight())
	}

	got = send(site.URL + "/plain-title")
	if got.LinkTitle != "Only a title" || got.LinkDescription != "" || got.LinkThumbnail {
		t.Fatalf("title-only preview received as %q %q %v", got.LinkTitle, got.LinkDescription, got.LinkThumbnail)
	}

	// Fail soft: the text goes out without a preview.
	for _, path := range []string{"/missing", "/data.json"} {
		text := "see " + site.URL + path
		got = send(text)
		if got.Kind != wasim.KindText || got.Text != text || got.LinkTitle != "" || got.LinkURL != "" {
			t.Fatalf("%s: received %s %q with preview %q %q", path, got.Kind, got.Text, got.LinkURL, got.LinkTitle)
		}
	}
	got = send("no link here")
	if got.Text != "no link here" || got.LinkURL != "" {
		t.Fatalf("received %q %q", got.Text, got.LinkURL)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
