package messaging_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// Exact error texts of POST /sessions/{id}/send/image (internal/messaging/media.go).
const (
	errImageSource  = "image must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"
	errImageType    = "image must be a JPEG, PNG or WebP image"
	errImageFetch   = "image could not be downloaded from the URL"
	errImagePrivate = "image URL points to a private or loopback address, which this server does not allow"
)

// testImage draws a w×h picture whose pixels depend on seed, so every
// test image has different bytes.
func testImage(w, h int, seed uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x*7) + seed, G: uint8(y*13) ^ seed, B: uint8(x*y) + seed*3, A: 255})
		}
	}
	return img
}

func pngOf(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h, seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifOf(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(4, 4, 1), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// imageServer is an httptest server with images and failure cases; it
// counts requests and tracks open connections.
type imageServer struct {
	*httptest.Server
	hits atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func newImageServer(t *testing.T, files map[string][]byte) *imageServer {
	t.Helper()
	s := &imageServer{conns: map[net.Conn]http.ConnState{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		w.Header().Set("Content-Type", http.DetectContentType(data))
		for len(data) > 0 { // several writes: without Content-Length this is chunked
			n := min(len(data), 4096)
			_, _ = w.Write(data[:n])
			data = data[n:]
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	}))
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if st == http.StateClosed || st == http.StateHijacked {
			delete(s.conns, c)
		} else {
			s.conns[c] = st
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// open returns how many client connections the server still has.
func (s *imageServer) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// closedURL returns an http URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/photo.png"
}

// sendImage posts an image through the generated (contract-validating)
// client.
func (e *e2e) sendImage(body client.SendImageJSONRequestBody) *client.SendImageHTTPResponse {
	e.t.Helper()
	r, err := e.c.SendImageWithResponse(e.ctx, e.sid, nil, body)
	if err != nil {
		e.t.Fatalf("send image: %v", err)
	}
	return r
}

// storedMessages counts the session's stored messages.
func (e *e2e) storedMessages() int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM messages WHERE session_id = $1`, e.sid).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestSendImageEndToEnd sends images by base64, data: URL and http URL
// through the HTTP API; whatsmeow encrypts and uploads each to the
// simulator's media server and the simulated contact downloads, verifies
// and decrypts exactly the bytes that were sent, with the caption. URL
// failures (unreachable, HTTP error, too large, not an image) send nothing.
func TestSendImageEndToEnd(t *testing.T) {
	t.Parallel()
	const max = 256 << 10
	e := newE2E(t, "15550111000", messaging.Options{Images: messaging.ImageLoader{AllowPrivate: true, MaxBytes: max}})
	contact := e.sim.Contact("15550111001")
	const chatPN = "15550111001@s.whatsapp.net"

	jpg := jpegOf(t, 40, 30, 1)
	pngData := pngOf(t, 32, 24, 2)
	urlPNG := pngOf(t, 20, 20, 3)
	big := append(pngOf(t, 4, 4, 4), make([]byte, max)...) // PNG signature, over the limit
	srv := newImageServer(t, map[string][]byte{
		"/photo.png": urlPNG,
		"/big.png":   big,
		"/note.txt":  []byte("this is not an image, it is plain text\n"),
	})

	cases := []struct {
		name, image, caption, mime string
		want                       []byte
	}{
		// JPEG base64 starts with "/9j/": it must not be taken for a path.
		{"base64", base64.StdEncoding.EncodeToString(jpg), "by base64", "image/jpeg", jpg},
		{"data URL", "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngData), "by data: URL", "image/png", pngData},
		{"http URL", srv.URL + "/photo.png", "by URL 🌅", "image/png", urlPNG},
	}
	for i, c := range cases {
		body := client.SendImageJSONRequestBody{To: "+15550111001", Image: c.image, Caption: &c.caption}
		if i == 0 {
			mt := client.SendImageRequestMimeType(c.mime) // a hint that agrees is accepted
			body.MimeType = &mt
		}
		r := e.sendImage(body)
		if r.JSON200 == nil {
			t.Fatalf("%s: status %d: %s", c.name, r.StatusCode(), r.Body)
		}
		s := r.JSON200
		if !s.Success || s.To != chatPN || s.Type != "image" || s.Status != "sent" || s.MessageId == "" || s.Timestamp.IsZero() {
			t.Fatalf("%s: response %s", c.name, r.Body)
		}
		got := e.received(contact, c.name, func(r wasim.Received) bool { return r.ID == s.MessageId })
		if got.Kind != wasim.KindImage || got.MediaError != "" || got.MimeType != c.mime || got.Text != c.caption {
			t.Fatalf("%s: contact got kind=%s mime=%q caption=%q mediaError=%q", c.name, got.Kind, got.MimeType, got.Text, got.MediaError)
		}
		if !bytes.Equal(got.Media, c.want) {
			t.Fatalf("%s: contact decrypted %d bytes, sent %d, not identical", c.name, len(got.Media), len(c.want))
		}
		if img := got.Message.GetImageMessage(); img.GetFileLength() != uint64(len(c.want)) {
			t.Fatalf("%s: FileLength %d, want %d", c.name, img.GetFileLength(), len(c.want))
		}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(c.want)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		} else if img := got.Message.GetImageMessage(); img.GetWidth() != uint32(cfg.Width) || img.GetHeight() != uint32(cfg.Height) {
			t.Fatalf("%s: width×height %d×%d, want %d×%d", c.name, img.GetWidth(), img.GetHeight(), cfg.Width, cfg.Height)
		}
		m := e.message(chatPN, s.MessageId)
		if m.Type != "image" || m.Text == nil || *m.Text != c.caption || !m.FromMe || m.ChatJid != chatPN {
			t.Fatalf("%s: stored %s", c.name, bodyOf(m))
		}
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("image server got %d requests, want 1", srv.hits.Load())
	}
	// whatsmeow's media client reached the simulator (MediaHost does not
	// resolve, so any other client would have failed the sends above).
	if n := e.sim.Counter("http:upload"); n != len(cases) {
		t.Fatalf("simulator saw %d uploads, want %d", n, len(cases))
	}
	// An image without caption has no text.
	r := e.sendImage(client.SendImageJSONRequestBody{To: chatPN, Image: base64.StdEncoding.EncodeToString(pngData)})
	if r.JSON200 == nil {
		t.Fatalf("no caption: %d %s", r.StatusCode(), r.Body)
	}
	got := e.received(contact, "the uncaptioned image", func(x wasim.Received) bool { return x.ID == r.JSON200.MessageId })
	if got.Text != "" || !bytes.Equal(got.Media, pngData) {
		t.Fatalf("uncaptioned: caption %q, %d bytes", got.Text, len(got.Media))
	}
	if m := e.message(chatPN, r.JSON200.MessageId); m.Type != "image" || m.Text != nil {
		t.Fatalf("uncaptioned stored %s", bodyOf(m))
	}
	// The fetch does not keep connections to the image server open.
	eventually(t, "the image fetch's connection closed", func() bool { return srv.open() == 0 })

	// URL failures: nothing is uploaded, sent or stored.
	uploads, received, stored, events := e.sim.Counter("http:upload"), len(contact.Received()), e.storedMessages(), len(e.eventsExceptReceipts())
	for _, c := range []struct {
		name, url string
		status    int
		text      string
	}{
		{"unreachable", closedURL(t), http.StatusBadRequest, errImageFetch},
		{"HTTP 404", srv.URL + "/missing.png", http.StatusBadRequest, errImageFetch + " (HTTP 404)"},
		{"too large", srv.URL + "/big.png", http.StatusRequestEntityTooLarge, sfmt("image is larger than %d bytes", max)},
		{"too large, chunked", srv.URL + "/big.png?chunked=1", http.StatusRequestEntityTooLarge, sfmt("image is larger than %d bytes", max)},
		{"not an image", srv.URL + "/note.txt", http.StatusBadRequest, errImageType},
	} {
		r := e.sendImage(client.SendImageJSONRequestBody{To: chatPN, Image: c.url, Caption: ptr("no")})
		wantErr(t, c.name, r.StatusCode(), r.Body, nil, c.status, c.text)
	}
	if n := e.sim.Counter("http:upload"); n != uploads {
		t.Fatalf("refused sends uploaded %d blobs", n-uploads)
	}
	if n := len(contact.Received()); n != received {
		t.Fatalf("refused sends delivered %d messages", n-received)
	}
	if n := e.storedMessages(); n != stored {
		t.Fatalf("refused sends stored %d messages", n-stored)
	}
	if ev := e.eventsExceptReceipts(); len(ev) != events {
		t.Fatalf("refused sends recorded events %v", ev[events:])
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	if n := e.countEvents(gateway.EventMessageSent); n != len(cases)+1 {
		t.Fatalf("%d message.sent events, want %d: %v", n, len(cases)+1, e.events())
	}
}

// TestSendImageErrors: with the default loader (no private URLs) every
// refused image gets its exact status and error and nothing reaches
// WhatsApp, the media server, the store or the events.
func TestSendImageErrors(t *testing.T) {
	t.Parallel()
	const max = 64 << 10
	e := newE2E(t, "15550112000", messaging.Options{Images: messaging.ImageLoader{MaxBytes: max}})
	contact := e.sim.Contact("15550112001")
	const chatPN = "15550112001@s.whatsapp.net"
	pngData := pngOf(t, 16, 16, 5)
	srv := newImageServer(t, map[string][]byte{"/photo.png": pngData})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tooLarge := append(pngOf(t, 4, 4, 6), make([]byte, max)...)
	jpegMime := client.SendImageRequestMimeType("image/jpeg")
	cases := []struct {
		name   string
		body   client.SendImageJSONRequestBody
		status int
		text   string
	}{
		{"not an image", client.SendImageJSONRequestBody{Image: base64.StdEncoding.EncodeToString([]byte("plain text, not a picture"))}, 400, errImageType},
		{"GIF", client.SendImageJSONRequestBody{Image: base64.StdEncoding.EncodeToString(gifOf(t))}, 400, errImageType},
		{"too large", client.SendImageJSONRequestBody{Image: base64.StdEncoding.EncodeToString(tooLarge)}, 413, sfmt("image is larger than %d bytes", max)},
		{"too large data URL", client.SendImageJSONRequestBody{Image: "data:image/png;base64," + base64.StdEncoding.EncodeToString(tooLarge)}, 413, sfmt("image is larger than %d bytes", max)},
		{"/etc/passwd", client.SendImageJSONRequestBody{Image: "/etc/passwd"}, 400, errImageSource},
		{"file URL", client.SendImageJSONRequestBody{Image: "file:///etc/passwd"}, 400, errImageSource},
		{"relative path", client.SendImageJSONRequestBody{Image: "../../etc/passwd"}, 400, errImageSource},
		{"home path", client.SendImageJSONRequestBody{Image: "~/photo.png"}, 400, errImageSource},
		{"windows path", client.SendImageJSONRequestBody{Image: `C:\Windows\win.ini`}, 400, errImageSource},
		{"ftp URL", client.SendImageJSONRequestBody{Image: "ftp://example.com/photo.png"}, 400, errImageSource},
		{"data URL without base64", client.SendImageJSONRequestBody{Image: "data:image/png,abc"}, 400, errImageSource},
		{"invalid base64", client.SendImageJSONRequestBody{Image: "not base64!!"}, 400, errImageSource},
		{"private URL", client.SendImageJSONRequestBody{Image: srv.URL + "/photo.png"}, 400, errImagePrivate},
		{"localhost URL", client.SendImageJSONRequestBody{Image: "http://localhost:" + port + "/photo.png"}, 400, errImagePrivate},
		{"IPv6 loopback URL", client.SendImageJSONRequestBody{Image: "http://[::1]:" + port + "/photo.png"}, 400, errImagePrivate},
		{"unreachable private URL", client.SendImageJSONRequestBody{Image: closedURL(t)}, 400, errImagePrivate},
		{"mime hint disagrees", client.SendImageJSONRequestBody{Image: base64.StdEncoding.EncodeToString(pngData), MimeType: &jpegMime}, 400,
			"mimeType image/jpeg does not match the image, which is image/png"},
	}
	for _, c := range cases {
		c.body.To = chatPN
		c.body.Caption = ptr("must not be sent")
		r := e.sendImage(c.body)
		wantErr(t, c.name, r.StatusCode(), r.Body, nil, c.status, c.text)
	}
	// A mime type outside the documented enum is refused by validation.
	raw := e.srv.Do(http.MethodPost, "/sessions/"+e.sid.String()+"/send/image", e.key,
		[]byte(`{"to":"`+chatPN+`","image":"`+base64.StdEncoding.EncodeToString(gifOf(t))+`","mimeType":"image/gif"}`))
	wantErr(t, "mime type outside the enum", raw.Status, raw.Body, nil, http.StatusBadRequest, "")

	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("the private image server was contacted %d times", n)
	}
	if n := e.sim.Counter("http:upload"); n != 0 {
		t.Fatalf("refused sends uploaded %d blobs", n)
	}
	if n := len(contact.Received()); n != 0 {
		t.Fatalf("refused sends delivered %+v", contact.Received())
	}
	if n := e.storedMessages(); n != 0 {
		t.Fatalf("refused sends stored %d messages", n)
	}
	if ev := e.events(); len(ev) != 0 {
		t.Fatalf("refused sends recorded events %v", ev)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}

// TestReceiveImageEndToEnd: a contact uploads and sends images the way
// WhatsApp does; the gateway stores them as images with the caption as
// text and records a message event for each.
func TestReceiveImageEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550113000", messaging.Options{})
	contact := e.sim.Contact("15550113001")
	const chatPN = "15550113001@s.whatsapp.net"

	captioned, err := contact.SendImage(e.ctx, e.own, jpegOf(t, 24, 24, 7), "image/jpeg", "from the beach 🏖")
	if err != nil {
		t.Fatal(err)
	}
	bare, err := contact.SendImage(e.ctx, e.own, pngOf(t, 8, 8, 8), "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, captioned)
	e.stored(chatPN, bare)
	m := e.message("15550113001", captioned)
	if m.Type != "image" || m.Text == nil || *m.Text != "from the beach 🏖" || m.FromMe || m.Sender != chatPN || m.ChatJid != chatPN {
		t.Fatalf("stored captioned image %s", bodyOf(m))
	}
	if m := e.message(chatPN, bare); m.Type != "image" || m.Text != nil || m.FromMe {
		t.Fatalf("stored bare image %s", bodyOf(m))
	}
	if n := e.countEvents(gateway.EventMessage); n != 2 {
		t.Fatalf("%d message events, want 2: %v", n, e.events())
	}
	// The event carries the stored message.
	var payload struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
		ID   string  `json:"id"`
	}
	if err := e.pool.QueryRow(e.ctx, `SELECT data FROM events WHERE session_id = $1 AND type = 'message' AND data->>'id' = $2`,
		e.sid, captioned).Scan(&payload); err != nil {
		t.Fatalf("message event of %s: %v", captioned, err)
	}
	if payload.Type != "image" || payload.Text == nil || *payload.Text != "from the beach 🏖" {
		t.Fatalf("message event payload %+v", payload)
	}
	// A reply to the contact's image quotes it as an image with its caption.
	reply, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: chatPN, Text: "nice", QuotedMessageId: &captioned})
	if err != nil || reply.JSON200 == nil {
		t.Fatalf("reply: %v %s", err, reply.Body)
	}
	got := e.received(contact, "the reply", func(r wasim.Received) bool { return r.ID == reply.JSON200.MessageId })
	ci := got.Message.GetExtendedTextMessage().GetContextInfo()
	if ci.GetStanzaID() != captioned || ci.GetQuotedMessage().GetImageMessage().GetCaption() != "from the beach 🏖" {
		t.Fatalf("reply context %v", ci)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}
