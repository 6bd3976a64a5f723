package messaging_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// form is a multipart/form-data body: fields (repeated names allowed, in
// order) and one file part.
func form(t *testing.T, fileField string, file []byte, fields ...string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := w.CreateFormFile(fileField, "upload.bin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), &b
}

// TestSendMultipartEndToEnd: each media endpoint accepts the file as a
// multipart/form-data upload with the JSON body's fields as form fields;
// the contact decrypts exactly the uploaded bytes (SHA-256) with the
// fields, and the file is sniffed against the kind like a JSON body's.
func TestSendMultipartEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118000", messaging.Options{})
	contact := e.sim.Contact("15550118001")
	const to = "15550118001"
	got := func(id string) wasim.Received {
		return e.received(contact, id, func(r wasim.Received) bool { return r.ID == id })
	}
	kindOf := func(status int, body []byte, typ string, what string) string {
		t.Helper()
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", what, status, body)
		}
		var id string
		if _, err := fmt.Sscanf(string(body)[strings.Index(string(body), `"messageId":"`)+len(`"messageId":"`):], "%s", &id); err != nil {
			t.Fatal(err)
		}
		return strings.SplitN(id, `"`, 2)[0]
	}

	video := mp4Of(300 << 10)
	ct, body := form(t, "video", video, "to", to, "caption", "uploaded clip", "gif", "true", "mentions", "15550118001", "mentions", "15550118002")
	r1, err := e.c.SendVideoWithBodyWithResponse(e.ctx, e.sid, nil, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	id := kindOf(r1.StatusCode(), r1.Body, "video", "video")
	if r := got(id); r.Kind != wasim.KindVideo || r.MediaSHA256 != sha(video) || !r.GIF || r.Caption != "uploaded clip" || r.MimeType != "video/mp4" || len(r.Mentions) != 2 {
		t.Fatalf("video received as %s %+v mentions %v", r.Kind, r.KindFields, r.Mentions)
	}

	pdf := pdfOf(5000)
	ct, body = form(t, "document", pdf, "to", to, "fileName", "report.pdf", "caption", "the report")
	r2, err := e.c.SendDocumentWithBodyWithResponse(e.ctx, e.sid, nil, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	id = kindOf(r2.StatusCode(), r2.Body, "document", "document")
	if r := got(id); r.Kind != wasim.KindDocument || r.MediaSHA256 != sha(pdf) || r.FileName != "report.pdf" || r.MimeType != "application/pdf" {
		t.Fatalf("document received as %s %+v", r.Kind, r.KindFields)
	}

	voice := oggOpusOf(3000)
	ct, body = form(t, "audio", voice, "ptt", "true", "to", to) // the file first is fine too
	r3, err := e.c.SendAudioWithBodyWithResponse(e.ctx, e.sid, nil, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	id = kindOf(r3.StatusCode(), r3.Body, "audio", "voice note")
	if r := got(id); r.Kind != wasim.KindAudio || !r.PTT || r.MediaSHA256 != sha(voice) {
		t.Fatalf("voice note received as %s %+v", r.Kind, r.KindFields)
	}

	sticker := webpOf(2000)
	ct, body = form(t, "sticker", sticker, "to", to)
	r4, err := e.c.SendStickerWithBodyWithResponse(e.ctx, e.sid, nil, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	id = kindOf(r4.StatusCode(), r4.Body, "sticker", "sticker")
	if r := got(id); r.Kind != wasim.KindSticker || r.MediaSHA256 != sha(sticker) {
		t.Fatalf("sticker received as %s %+v", r.Kind, r.KindFields)
	}

	img := pngOf(t, 8, 8, 3)
	ct, body = form(t, "image", img, "to", to, "caption", "a picture")
	r5, err := e.c.SendImageWithBodyWithResponse(e.ctx, e.sid, nil, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	id = kindOf(r5.StatusCode(), r5.Body, "image", "image")
	if r := got(id); r.Kind != wasim.KindImage || r.MediaSHA256 != sha(img) || r.Caption != "a picture" {
		t.Fatalf("image received as %s %+v", r.Kind, r.KindFields)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestSendBodyCapsPerKind: each kind's body is capped from its own file
// limit, for JSON (base64) and multipart bodies alike: 413 with the
// error text above it, 400 for a wrong type or malformed form, and nothing
// is uploaded or sent.
func TestSendBodyCapsPerKind(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118100", messaging.Options{Media: messaging.MediaLoader{AllowPrivate: true}, MaxSendBytes: map[gateway.MediaKind]int64{
		gateway.MediaVideo: 2 << 20, gateway.MediaSticker: 2048,
	}})
	big := mp4Of(2<<20 + 100)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: the limit holds while streaming
		}
		_, _ = w.Write(big)
	}))
	t.Cleanup(files.Close)
	contact := e.sim.Contact("15550118101")
	const to = "15550118101"
	uploads, stored := e.sim.Counter("http:upload"), e.storedMessages()

	type result struct {
		status int
		body   []byte
	}
	post := func(fn func() (*http.Response, error)) (result, error) {
		resp, err := fn()
		if err != nil {
			return result{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return result{resp.StatusCode, b}, err
	}
	multi := func(kind string, file []byte, fields ...string) func() (result, error) {
		return func() (result, error) {
			ct, body := form(t, kind, file, fields...)
			return post(func() (*http.Response, error) {
				switch kind {
				case "video":
					return e.c.SendVideoWithBody(e.ctx, e.sid, nil, ct, body)
				case "sticker":
					return e.c.SendStickerWithBody(e.ctx, e.sid, nil, ct, body)
				}
				return e.c.SendImageWithBody(e.ctx, e.sid, nil, ct, body)
			})
		}
	}
	cases := []struct {
		name   string
		send   func() (result, error)
		status int
		text   string
	}{
		// 4/3 of 3 MiB is beyond the video body cap (4/3 of 2 MiB + 64 KiB);
		// no cap is below WAGATE_MAX_BODY_BYTES (1 MiB here).
		{"JSON video body above the video cap", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(mp4Of(3 << 20))})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "Request body too large"},
		{"JSON video file above the video limit, body within", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(mp4Of(2<<20 + 10<<10))})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "video is larger than 2097152 bytes"},
		{"JSON sticker above the sticker cap", func() (result, error) {
			r, err := e.c.SendStickerWithResponse(e.ctx, e.sid, nil, client.SendStickerJSONRequestBody{To: to, Sticker: b64(webpOf(800 << 10))})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "Request body too large"},
		{"URL video above the limit (announced)", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: files.URL + "/sized"})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "video is larger than 2097152 bytes"},
		{"URL video above the limit (streamed)", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: files.URL + "/chunked"})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "video is larger than 2097152 bytes"},
		{"multipart video above the limit", multi("video", mp4Of(2<<20+1), "to", to), 413, "video is larger than 2097152 bytes"},
		{"multipart sticker above the limit", multi("sticker", webpOf(3000), "to", to), 413, "sticker is larger than 2048 bytes"},
		{"multipart video of PNG bytes", multi("video", pngOf(t, 4, 4, 9), "to", to), 400, "video must be an MP4 or 3GPP video"},
		{"multipart mimeType disagrees", multi("video", mp4Of(100), "to", to, "mimeType", "video/3gpp"), 400, "mimeType video/3gpp does not match the video, which is video/mp4"},
		{"multipart without the file", multi("video", nil, "to", to), 400, `Invalid request body: property "video" is missing (the file part)`},
		{"multipart without to", multi("video", mp4Of(100)), 400, `Invalid request body: property "to" is missing`},
		{"multipart unknown field", multi("video", mp4Of(100), "to", to, "ptt", "true"), 400, `Invalid request body: property "ptt" is unsupported`},
		{"multipart bad boolean", multi("video", mp4Of(100), "to", to, "gif", "yes"), 400, "Invalid request body: gif must be true or false"},
		{"multipart empty file", multi("video", []byte{}, "to", to), 400, "video is empty"},
		{"multipart without a boundary", func() (result, error) {
			return post(func() (*http.Response, error) {
				return e.c.SendVideoWithBody(e.ctx, e.sid, nil, "multipart/form-data", strings.NewReader("x"))
			})
		}, 400, "Invalid request body: multipart/form-data needs a boundary"},
	}
	for _, tc := range cases {
		r, err := tc.send()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.status != tc.status || !strings.Contains(string(r.body), `"success":false`) {
			t.Fatalf("%s: status %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
		if want := `"error":"` + strings.ReplaceAll(tc.text, `"`, `\"`) + `"`; !strings.Contains(string(r.body), want) {
			t.Fatalf("%s: body %s, want the error %q", tc.name, r.body, tc.text)
		}
	}
	if n := e.sim.Counter("http:upload"); n != uploads {
		t.Fatalf("%d uploads after refusals, want %d", n, uploads)
	}
	if n := e.storedMessages(); n != stored {
		t.Fatalf("%d stored messages after refusals, want %d", n, stored)
	}
	if n := len(contact.Received()); n != 0 {
		t.Fatalf("contact received %d messages after refusals", n)
	}
}
