package messaging_test

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/http"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// Exact texts of GET …/messages/{messageId}/media.
const (
	errNoMedia       = "This message has no media"
	errMessageAbsent = "Message not found"
)

// media downloads a message's file through the generated
// (contract-validating) client.
func (e *e2e) media(chat, id string) *client.GetMessageMediaHTTPResponse {
	e.t.Helper()
	r, err := e.c.GetMessageMediaWithResponse(e.ctx, e.sid, chat, id)
	if err != nil {
		e.t.Fatalf("get media of %s: %v", id, err)
	}
	return r
}

// wantMedia fails unless the download answered 200 with exactly want, the
// Content-Type mimeType and an inline Content-Disposition naming filename.
func wantMedia(t *testing.T, what string, r *client.GetMessageMediaHTTPResponse, want []byte, mimeType, filename string) {
	t.Helper()
	if r.StatusCode() != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.StatusCode(), r.Body)
	}
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("%s: downloaded %d bytes, want the %d bytes sent, identical", what, len(r.Body), len(want))
	}
	h := r.HTTPResponse.Header
	if ct := h.Get("Content-Type"); ct != mimeType {
		t.Fatalf("%s: Content-Type %q, want %q", what, ct, mimeType)
	}
	disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil || disp != "inline" || params["filename"] != filename {
		t.Fatalf("%s: Content-Disposition %q, want inline with filename %q", what, h.Get("Content-Disposition"), filename)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%s: no X-Content-Type-Options: nosniff", what)
	}
}

// TestMessageMediaEndToEnd: images a contact sends (uploaded, encrypted,
// to the simulator's media server) are stored with their mime type and
// download through GET …/media as exactly the bytes the contact sent, via
// whatsmeow's media download; so do images the gateway sent. Text
// messages and unknown ids answer 404 with their exact texts, files above
// WAGATE_MAX_MEDIA_BYTES 413, and a session that is not connected 503.
func TestMessageMediaEndToEnd(t *testing.T) {
	t.Parallel()
	const max = 8 << 10
	e := newE2E(t, "15550114000", messaging.Options{MaxMediaBytes: max})
	contact := e.sim.Contact("15550114001")
	const chatPN = "15550114001@s.whatsapp.net"

	// Received: a captioned JPEG and a bare PNG.
	jpg := jpegOf(t, 24, 24, 9)
	pngData := pngOf(t, 8, 8, 10)
	if len(jpg) > max || len(pngData) > max {
		t.Fatalf("test images too large: %d, %d", len(jpg), len(pngData))
	}
	inJPEG, err := contact.SendImage(e.ctx, e.own, jpg, "image/jpeg", "look")
	if err != nil {
		t.Fatal(err)
	}
	inPNG, err := contact.SendImage(e.ctx, e.own, pngData, "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, inJPEG)
	e.stored(chatPN, inPNG)
	if m := e.message(chatPN, inJPEG); m.MimeType == nil || *m.MimeType != "image/jpeg" || m.Type != "image" {
		t.Fatalf("received JPEG stored as %s", bodyOf(m))
	}
	if m := e.message("15550114001", inPNG); m.MimeType == nil || *m.MimeType != "image/png" {
		t.Fatalf("received PNG stored as %s", bodyOf(m))
	}
	downloads := e.sim.Counter("http:download")
	wantMedia(t, "received JPEG", e.media(chatPN, inJPEG), jpg, "image/jpeg", inJPEG+".jpg")
	wantMedia(t, "received PNG", e.media("+15550114001", inPNG), pngData, "image/png", inPNG+".png")
	if n := e.sim.Counter("http:download") - downloads; n != 2 {
		t.Fatalf("%d downloads from the simulator's media server, want 2", n)
	}
	// The message event carries the mime type too.
	var eventMime *string
	if err := e.pool.QueryRow(e.ctx, `SELECT data->>'mimeType' FROM events WHERE session_id = $1 AND type = 'message' AND data->>'id' = $2`,
		e.sid, inJPEG).Scan(&eventMime); err != nil || eventMime == nil || *eventMime != "image/jpeg" {
		t.Fatalf("message event mimeType %v (%v)", eventMime, err)
	}

	// Sent: the gateway's own upload downloads back identically.
	sentPNG := pngOf(t, 12, 10, 11)
	s := e.sendImage(client.SendImageJSONRequestBody{To: chatPN, Image: base64.StdEncoding.EncodeToString(sentPNG), Caption: ptr("mine")})
	if s.JSON200 == nil {
		t.Fatalf("send image: %d %s", s.StatusCode(), s.Body)
	}
	sentID := s.JSON200.MessageId
	if m := e.message(chatPN, sentID); m.MimeType == nil || *m.MimeType != "image/png" || !m.FromMe {
		t.Fatalf("sent image stored as %s", bodyOf(m))
	}
	wantMedia(t, "sent PNG", e.media(chatPN, sentID), sentPNG, "image/png", sentID+".png")

	// Text messages have no media and no mime type.
	text, err := contact.SendText(e.ctx, e.own, "just words")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, text)
	if m := e.message(chatPN, text); m.MimeType != nil {
		t.Fatalf("text message has mimeType %q", *m.MimeType)
	}
	r := e.media(chatPN, text)
	wantErr(t, "text message", r.StatusCode(), r.Body, nil, http.StatusNotFound, errNoMedia)
	if r.JSON404 == nil {
		t.Fatalf("text message: 404 not decoded as ErrorResponse: %s", r.Body)
	}
	// Unknown ids, and a known id in another chat.
	r = e.media(chatPN, "3EB0NOSUCHMESSAGE")
	wantErr(t, "unknown id", r.StatusCode(), r.Body, nil, http.StatusNotFound, errMessageAbsent)
	r = e.media("15550114999", inJPEG)
	wantErr(t, "id of another chat", r.StatusCode(), r.Body, nil, http.StatusNotFound, errMessageAbsent)

	// Above WAGATE_MAX_MEDIA_BYTES: refused before anything is downloaded.
	big := append(pngOf(t, 4, 4, 12), make([]byte, max)...) // PNG signature, over the limit
	if len(big) <= max {
		t.Fatalf("big image has only %d bytes", len(big))
	}
	bigID, err := contact.SendImage(e.ctx, e.own, big, "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chatPN, bigID)
	downloads = e.sim.Counter("http:download")
	r = e.media(chatPN, bigID)
	wantErr(t, "too large", r.StatusCode(), r.Body, nil, http.StatusRequestEntityTooLarge,
		sfmt("The media is larger than this server's limit of %d bytes (WAGATE_MAX_MEDIA_BYTES)", max))
	if n := e.sim.Counter("http:download") - downloads; n != 0 {
		t.Fatalf("a refused download fetched %d files", n)
	}

	// A session that is not connected cannot download (the store still answers).
	if err := e.mgr.Stop(e.ctx, e.sid); err != nil {
		t.Fatal(err)
	}
	r = e.media(chatPN, inJPEG)
	wantErr(t, "stopped session", r.StatusCode(), r.Body, nil, http.StatusServiceUnavailable, gateway.MsgStillConnecting)
	if m := e.message(chatPN, inJPEG); m.MimeType == nil || *m.MimeType != "image/jpeg" {
		t.Fatalf("stored message while stopped: %s", bodyOf(m))
	}
	r = e.media(chatPN, text)
	wantErr(t, "text message, stopped", r.StatusCode(), r.Body, nil, http.StatusNotFound, errNoMedia)

	if got := e.received(contact, "the sent image", func(x wasim.Received) bool { return x.ID == sentID }); !bytes.Equal(got.Media, sentPNG) {
		t.Fatalf("contact decrypted %d bytes of the sent image", len(got.Media))
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
}
