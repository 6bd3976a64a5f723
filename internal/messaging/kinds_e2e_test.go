package messaging_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.mau.fi/util/random"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// Test files of each container, recognised by their signatures (the rest
// is noise, so every file is distinct and spans many AES blocks).
func mp4Of(n int) []byte {
	return append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), random.Bytes(n)...)
}

func oggOpusOf(n int) []byte {
	h := append([]byte("OggS\x00\x02"), make([]byte, 20)...) // version, BOS, granule, serial, seq, crc
	h = append(h, 1, 19)                                     // one segment of 19 bytes
	h = append(h, []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")...)
	return append(h, random.Bytes(n)...)
}

func mp3Of(n int) []byte {
	return append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), random.Bytes(n)...)
}
func webpOf(n int) []byte { return append([]byte("RIFF\x00\x10\x00\x00WEBPVP8 "), random.Bytes(n)...) }
func pdfOf(n int) []byte  { return append([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), random.Bytes(n)...) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sent fails unless a send answered 200 with the message type; it returns
// the message id.
func sent(t *testing.T, what string, status int, body []byte, resp *client.SendKindResponse, typ string) string {
	t.Helper()
	if status != http.StatusOK || resp == nil {
		t.Fatalf("%s: status %d: %s", what, status, body)
	}
	if string(resp.Type) != typ || resp.Status != "sent" {
		t.Fatalf("%s: answered type %q status %q, want %q sent", what, resp.Type, resp.Status, typ)
	}
	return resp.MessageId
}

// TestSendEveryKindEndToEnd: each send endpoint reaches the simulated
// contact, which decrypts exactly the bytes sent (SHA-256) and sees the
// kind's fields; the messages are stored with their type; replies and
// mentions travel in the context.
func TestSendEveryKindEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117000", messaging.Options{})
	contact := e.sim.Contact("15550117001")
	const to = "15550117001"
	const chat = "15550117001@s.whatsapp.net"
	got := func(id string) wasim.Received {
		return e.received(contact, id, func(r wasim.Received) bool { return r.ID == id })
	}

	video := mp4Of(40000)
	r1, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(video), Caption: ptr("clip"), Gif: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := sent(t, "video", r1.StatusCode(), r1.Body, r1.JSON200, "video")
	if r := got(id); r.Kind != wasim.KindVideo || r.MediaSHA256 != sha(video) || !r.GIF || r.Caption != "clip" || r.MimeType != "video/mp4" {
		t.Fatalf("video received as %s %+v", r.Kind, r.KindFields)
	}
	if m := e.message(chat, id); m.Type != "video" || m.MimeType == nil || *m.MimeType != "video/mp4" {
		t.Fatalf("video stored as %s", bodyOf(m))
	}
	wantMedia(t, "sent video", e.media(chat, id), video, "video/mp4", id+".mp4")

	voice := oggOpusOf(5000)
	r2, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: "data:audio/ogg;base64," + b64(voice), Ptt: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "voice note", r2.StatusCode(), r2.Body, r2.JSON200, "audio")
	if r := got(id); r.Kind != wasim.KindAudio || !r.PTT || r.MediaSHA256 != sha(voice) || r.MimeType != "audio/ogg; codecs=opus" {
		t.Fatalf("voice note received as %s %q %+v", r.Kind, r.MimeType, r.KindFields)
	}
	song := mp3Of(7000)
	r2, err = e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(song)})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "mp3", r2.StatusCode(), r2.Body, r2.JSON200, "audio")
	if r := got(id); r.Kind != wasim.KindAudio || r.PTT || r.MediaSHA256 != sha(song) || r.MimeType != "audio/mpeg" {
		t.Fatalf("mp3 received as %s %q %+v", r.Kind, r.MimeType, r.KindFields)
	}

	pdf := pdfOf(3000)
	r3, err := e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: b64(pdf), FileName: "invoice 42.pdf", Caption: ptr("your invoice")})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "document", r3.StatusCode(), r3.Body, r3.JSON200, "document")
	if r := got(id); r.Kind != wasim.KindDocument || r.FileName != "invoice 42.pdf" || r.MimeType != "application/pdf" || r.MediaSHA256 != sha(pdf) || r.Caption != "your invoice" {
		t.Fatalf("document received as %s %q %+v", r.Kind, r.MimeType, r.KindFields)
	}
	csv := []byte("a,b\n1,2\n")
	r3, err = e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: b64(csv), FileName: "t.csv", MimeType: ptr("text/csv")})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "csv document", r3.StatusCode(), r3.Body, r3.JSON200, "document")
	if r := got(id); r.MimeType != "text/csv" || r.MediaSHA256 != sha(csv) {
		t.Fatalf("csv received as %q %+v", r.MimeType, r.KindFields)
	}

	sticker := webpOf(2000)
	r4, err := e.c.SendStickerWithResponse(e.ctx, e.sid, nil, client.SendStickerJSONRequestBody{To: to, Sticker: b64(sticker)})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "sticker", r4.StatusCode(), r4.Body, r4.JSON200, "sticker")
	if r := got(id); r.Kind != wasim.KindSticker || r.MediaSHA256 != sha(sticker) || r.MimeType != "image/webp" {
		t.Fatalf("sticker received as %s %+v", r.Kind, r.KindFields)
	}

	// A reply with a mention: the context names the quoted message and
	// the mentioned user.
	quote, err := contact.SendText(e.ctx, e.own, "where are you?")
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chat, quote)
	r5, err := e.c.SendLocationWithResponse(e.ctx, e.sid, nil, client.SendLocationJSONRequestBody{
		To: to, Latitude: 52.516275, Longitude: 13.377704, Name: ptr("Brandenburger Tor"), Address: ptr("Pariser Platz, Berlin"),
		QuotedMessageId: ptr(quote), Mentions: &[]string{"+1 555 011 7001"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "location", r5.StatusCode(), r5.Body, r5.JSON200, "location")
	if r := got(id); r.Kind != wasim.KindLocation || r.Latitude != 52.516275 || r.Longitude != 13.377704 || r.LocationName != "Brandenburger Tor" ||
		r.Address != "Pariser Platz, Berlin" || r.QuotedID != quote || !slices.Equal(r.Mentions, []string{chat}) {
		t.Fatalf("location received as %s %+v", r.Kind, r.KindFields)
	}
	if m := e.message(chat, id); m.Type != "location" || m.QuotedMessageId == nil || *m.QuotedMessageId != quote {
		t.Fatalf("location stored as %s", bodyOf(m))
	}

	r6, err := e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{
		To: to, Contacts: &[]client.ContactCard{{Name: "Bob Builder", Phones: []string{"+1 415 555 0123"}}, {Name: "Eve", Phones: []string{"4915112345678", "+44 20 7946 0000"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "contacts", r6.StatusCode(), r6.Body, r6.JSON200, "contact")
	if r := got(id); r.Kind != wasim.KindContact || len(r.VCards) != 2 || !strings.Contains(r.VCards[0], "FN:Bob Builder") ||
		!strings.Contains(r.VCards[0], "waid=14155550123:+14155550123") || !strings.Contains(r.VCards[1], "waid=442079460000") {
		t.Fatalf("contacts received as %s %q", r.Kind, r.VCards)
	}
	raw := "BEGIN:VCARD\nVERSION:3.0\nFN:Carol\nTEL;waid=15550100000:+15550100000\nEND:VCARD"
	r6, err = e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{To: to, Vcard: &raw})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "raw vcard", r6.StatusCode(), r6.Body, r6.JSON200, "contact")
	if r := got(id); r.Kind != wasim.KindContact || len(r.VCards) != 1 || r.VCards[0] != raw || r.ContactNames[0] != "Carol" {
		t.Fatalf("vcard received as %s %q %q", r.Kind, r.VCards, r.ContactNames)
	}

	r7, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: to, Question: "Lunch?", Options: []string{"pizza", "sushi", "salad"}, SelectableCount: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	pollID := sent(t, "poll", r7.StatusCode(), r7.Body, r7.JSON200, "poll")
	if r := got(pollID); r.Kind != wasim.KindPoll || r.PollName != "Lunch?" || !slices.Equal(r.PollOptions, []string{"pizza", "sushi", "salad"}) || r.SelectableCount != 1 {
		t.Fatalf("poll received as %s %+v", r.Kind, r.KindFields)
	}
	// The contact can vote: it kept the poll's secret.
	if _, err := contact.Vote(e.ctx, e.own, pollID, []string{"sushi"}); err != nil {
		t.Fatal(err)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestSendKindRefusals: every refusal is a 4xx with its text, and nothing
// is uploaded, sent or stored.
func TestSendKindRefusals(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117100", messaging.Options{MaxSendBytes: map[gateway.MediaKind]int64{gateway.MediaVideo: 4096}})
	contact := e.sim.Contact("15550117101")
	const to = "15550117101"
	uploads, stored := e.sim.Counter("http:upload"), e.storedMessages()

	type result struct {
		status int
		body   []byte
	}
	cases := []struct {
		name   string
		send   func() (result, error)
		status int
		text   string
	}{
		{"video of PNG bytes", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(pngOf(t, 4, 4, 1))})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "video must be an MP4 or 3GPP video"},
		{"video too large", func() (result, error) {
			r, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(mp4Of(5000))})
			return result{r.StatusCode(), r.Body}, err
		}, 413, "video is larger than 4096 bytes"},
		{"voice note of MP3", func() (result, error) {
			r, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(mp3Of(100)), Ptt: ptr(true)})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "a voice note (ptt) must be Ogg/Opus audio; this audio is audio/mpeg (convert it to Ogg/Opus, or send it with ptt false)"},
		{"audio of a PDF", func() (result, error) {
			r, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(pdfOf(100))})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "audio must be Ogg/Opus, MP3, M4A (AAC), AAC or AMR audio"},
		{"empty audio", func() (result, error) {
			r, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: "data:audio/ogg;base64,"})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "audio must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"},
		{"sticker of PNG", func() (result, error) {
			r, err := e.c.SendStickerWithResponse(e.ctx, e.sid, nil, client.SendStickerJSONRequestBody{To: to, Sticker: b64(pngOf(t, 4, 4, 2))})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "sticker must be a WebP image"},
		{"document from a file path", func() (result, error) {
			r, err := e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: "/etc/passwd", FileName: "passwd"})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "document must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"},
		{"document from a file URL", func() (result, error) {
			r, err := e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: "file:///etc/passwd", FileName: "passwd"})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "document must be an http(s) URL, base64 data, or a data: URL (server file paths are not accepted)"},
		{"document named by a path", func() (result, error) {
			r, err := e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: b64(pdfOf(10)), FileName: "../../x.pdf"})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "fileName must be a file name, not a path"},
		{"latitude 91", func() (result, error) {
			r, err := e.c.SendLocationWithResponse(e.ctx, e.sid, nil, client.SendLocationJSONRequestBody{To: to, Latitude: 91, Longitude: 0})
			return result{r.StatusCode(), r.Body}, err
		}, 400, ""},
		{"longitude -181", func() (result, error) {
			r, err := e.c.SendLocationWithResponse(e.ctx, e.sid, nil, client.SendLocationJSONRequestBody{To: to, Latitude: 0, Longitude: -181})
			return result{r.StatusCode(), r.Body}, err
		}, 400, ""},
		{"one poll option", func() (result, error) {
			r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: to, Question: "q", Options: []string{"only"}})
			return result{r.StatusCode(), r.Body}, err
		}, 400, ""},
		{"duplicate poll options", func() (result, error) {
			r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: to, Question: "q", Options: []string{"yes", "no", " yes"}})
			return result{r.StatusCode(), r.Body}, err
		}, 400, `poll options must be unique: "yes" appears twice`},
		{"selectable above options", func() (result, error) {
			r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: to, Question: "q", Options: []string{"a", "b"}, SelectableCount: ptr(3)})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "selectableCount must be between 0 (any number) and the number of options"},
		{"contacts and vcard", func() (result, error) {
			v := "BEGIN:VCARD\nFN:A\nEND:VCARD"
			r, err := e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{To: to, Vcard: &v, Contacts: &[]client.ContactCard{{Name: "B", Phones: []string{"14155550123"}}}})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "give either contacts or vcard, not both"},
		{"no contacts", func() (result, error) {
			r, err := e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{To: to})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "contacts or vcard is required"},
		{"not a vcard", func() (result, error) {
			v := "hello"
			r, err := e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{To: to, Vcard: &v})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "vcard must be a vCard (BEGIN:VCARD ... END:VCARD) with an FN (name) line"},
		{"mention of a group", func() (result, error) {
			r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: to, Question: "q", Options: []string{"a", "b"}, Mentions: &[]string{"120363000000000000@g.us"}})
			return result{r.StatusCode(), r.Body}, err
		}, 400, "mentions must be users (phone numbers or user JIDs), not groups"},
	}
	for _, tc := range cases {
		r, err := tc.send()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.status != tc.status || !strings.Contains(string(r.body), `"success":false`) {
			t.Fatalf("%s: status %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
		if tc.text != "" && !strings.Contains(string(r.body), `"error":"`+strings.ReplaceAll(tc.text, `"`, `\"`)+`"`) {
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

// TestReceiveMediaKindsEndToEnd: videos, voice notes, documents and
// stickers a contact sends are stored with their type, caption and MIME
// type, and download through GET …/media as exactly the bytes sent.
func TestReceiveMediaKindsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117200", messaging.Options{})
	contact := e.sim.Contact("15550117201")
	const chat = "15550117201@s.whatsapp.net"
	cases := []struct {
		kind, mime, typ, caption string
		data                     []byte
		fields                   wasim.MediaFields
		disposition, filename    string
	}{
		{wasim.KindVideo, "video/mp4", "video", "a clip", mp4Of(30000), wasim.MediaFields{Caption: "a clip"}, "inline", ".mp4"},
		{wasim.KindAudio, "audio/ogg; codecs=opus", "audio", "", oggOpusOf(4000), wasim.MediaFields{PTT: true}, "inline", ".ogg"},
		{wasim.KindDocument, "application/pdf", "document", "the invoice", pdfOf(5000), wasim.MediaFields{FileName: "invoice.pdf", Caption: "the invoice"}, "attachment", "invoice.pdf"},
		{wasim.KindSticker, "image/webp", "sticker", "", webpOf(1500), wasim.MediaFields{}, "inline", ".webp"},
	}
	for _, tc := range cases {
		id, err := contact.SendMedia(e.ctx, e.own, tc.kind, tc.data, tc.mime, tc.fields)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		e.stored(chat, id)
		m := e.message(chat, id)
		if string(m.Type) != tc.typ || m.MimeType == nil || *m.MimeType != tc.mime || (tc.caption != "" && (m.Text == nil || *m.Text != tc.caption)) {
			t.Fatalf("%s stored as %s", tc.kind, bodyOf(m))
		}
		r := e.media(chat, id)
		if r.StatusCode() != http.StatusOK || !bytes.Equal(r.Body, tc.data) || r.HTTPResponse.Header.Get("Content-Type") != tc.mime {
			t.Fatalf("%s download: %d %q, %d bytes (want %d)", tc.kind, r.StatusCode(), r.HTTPResponse.Header.Get("Content-Type"), len(r.Body), len(tc.data))
		}
		want := tc.filename
		if strings.HasPrefix(want, ".") {
			want = id + want
		}
		disp, params, err := mime.ParseMediaType(r.HTTPResponse.Header.Get("Content-Disposition"))
		if err != nil || disp != tc.disposition || params["filename"] != want {
			t.Fatalf("%s: Content-Disposition %q, want %s %q", tc.kind, r.HTTPResponse.Header.Get("Content-Disposition"), tc.disposition, want)
		}
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestForwardEndToEnd: a received text and a received video are forwarded
// to another contact, who sees them marked as forwarded and decrypts the
// same file (not downloaded or uploaded again); kinds without a file
// reference are refused.
func TestForwardEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117300", messaging.Options{})
	alice, bob := e.sim.Contact("15550117301"), e.sim.Contact("15550117302")
	const aliceChat = "15550117301@s.whatsapp.net"
	forward := func(id, to string) *client.ForwardMessageHTTPResponse {
		t.Helper()
		r, err := e.c.ForwardMessageWithResponse(e.ctx, e.sid, aliceChat, id, nil, client.ForwardMessageJSONRequestBody{To: to})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	text, err := alice.SendText(e.ctx, e.own, "pass it on")
	if err != nil {
		t.Fatal(err)
	}
	video := mp4Of(20000)
	vid, err := alice.SendMedia(e.ctx, e.own, wasim.KindVideo, video, "video/mp4", wasim.MediaFields{Caption: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	e.stored(aliceChat, text)
	e.stored(aliceChat, vid)
	uploads := e.sim.Counter("http:upload")

	r := forward(text, "15550117302")
	id := sent(t, "forward text", r.StatusCode(), r.Body, r.JSON200, "text")
	if got := e.received(bob, id, func(r wasim.Received) bool { return r.ID == id }); got.Kind != wasim.KindText || got.Text != "pass it on" || !got.Forwarded {
		t.Fatalf("forwarded text received as %s %q forwarded=%v", got.Kind, got.Text, got.Forwarded)
	}
	r = forward(vid, "+1 555 011 7302")
	id = sent(t, "forward video", r.StatusCode(), r.Body, r.JSON200, "video")
	got := e.received(bob, id, func(r wasim.Received) bool { return r.ID == id })
	if got.Kind != wasim.KindVideo || got.MediaSHA256 != sha(video) || !got.Forwarded || got.Caption != "watch" {
		t.Fatalf("forwarded video received as %s %+v", got.Kind, got.KindFields)
	}
	if n := e.sim.Counter("http:upload"); n != uploads {
		t.Fatalf("forwarding uploaded %d files", n-uploads)
	}
	// The forwarded copy is stored and downloads like any sent video.
	wantMedia(t, "forwarded video", e.media("15550117302", id), video, "video/mp4", id+".mp4")

	// A received location and received contact cards are sent again from
	// their stored fields; the other contact decodes them as forwarded.
	locID, err := alice.SendLocation(e.ctx, e.own, 52.516275, 13.377704, "Brandenburger Tor", "Pariser Platz")
	if err != nil {
		t.Fatal(err)
	}
	cards := []string{"BEGIN:VCARD\nVERSION:3.0\nFN:Carol\nTEL;waid=15550100000:+15550100000\nEND:VCARD",
		"BEGIN:VCARD\nVERSION:3.0\nFN:Dave\nTEL;waid=15550100001:+15550100001\nEND:VCARD"}
	cardsID, err := alice.SendContacts(e.ctx, e.own, []string{"Carol", "Dave"}, cards)
	if err != nil {
		t.Fatal(err)
	}
	oneID, err := alice.SendContacts(e.ctx, e.own, []string{"Carol"}, cards[:1])
	if err != nil {
		t.Fatal(err)
	}
	e.stored(aliceChat, locID)
	e.stored(aliceChat, cardsID)
	e.stored(aliceChat, oneID)
	r = forward(locID, "15550117302")
	id = sent(t, "forward location", r.StatusCode(), r.Body, r.JSON200, "location")
	got = e.received(bob, id, func(r wasim.Received) bool { return r.ID == id })
	if got.Kind != wasim.KindLocation || got.Latitude != 52.516275 || got.Longitude != 13.377704 || got.LocationName != "Brandenburger Tor" ||
		got.Address != "Pariser Platz" || !got.Forwarded {
		t.Fatalf("forwarded location received as %s %+v", got.Kind, got.KindFields)
	}
	if m := e.message("15550117302@s.whatsapp.net", id); m.Location == nil || m.Location.Latitude != 52.516275 {
		t.Fatalf("forwarded location stored as %s", bodyOf(m))
	}
	r = forward(cardsID, "15550117302")
	id = sent(t, "forward contacts", r.StatusCode(), r.Body, r.JSON200, "contact")
	got = e.received(bob, id, func(r wasim.Received) bool { return r.ID == id })
	if got.Kind != wasim.KindContact || !slices.Equal(got.VCards, cards) || !slices.Equal(got.ContactNames, []string{"Carol", "Dave"}) || !got.Forwarded {
		t.Fatalf("forwarded contacts received as %s %+v", got.Kind, got.KindFields)
	}
	r = forward(oneID, "15550117302")
	id = sent(t, "forward contact", r.StatusCode(), r.Body, r.JSON200, "contact")
	got = e.received(bob, id, func(r wasim.Received) bool { return r.ID == id })
	if got.Kind != wasim.KindContact || !slices.Equal(got.VCards, cards[:1]) || !slices.Equal(got.ContactNames, []string{"Carol"}) || !got.Forwarded {
		t.Fatalf("forwarded contact received as %s %+v", got.Kind, got.KindFields)
	}

	// WhatsApp forwards no polls: 422, nothing sent.
	pollID, err := alice.SendPoll(e.ctx, e.own, "Lunch?", []string{"pizza", "sushi"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.stored(aliceChat, pollID)
	before := len(bob.Received())
	if r := forward(pollID, "15550117302"); r.StatusCode() != 422 || !strings.Contains(string(r.Body), gateway.MsgForwardPoll) {
		t.Fatalf("forward a poll: %d %s", r.StatusCode(), r.Body)
	}
	if n := len(bob.Received()); n != before {
		t.Fatalf("a refused poll forward reached the contact (%d -> %d messages)", before, n)
	}
	if r := forward("3EB0NOPE", "15550117302"); r.StatusCode() != 404 {
		t.Fatalf("forward an unknown message: %d %s", r.StatusCode(), r.Body)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
