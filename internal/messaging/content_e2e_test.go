package messaging_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// messageEvent is the payload of the session's message (or message.sent)
// event for id.
func (e *e2e) messageEvent(typ, id string) client.Message {
	e.t.Helper()
	var raw []byte
	eventually(e.t, typ+" event of "+id, func() bool {
		err := e.pool.QueryRow(e.ctx, `SELECT data FROM events WHERE session_id = $1 AND type = $2 AND data->>'id' = $3`, e.sid, typ, id).Scan(&raw)
		return err == nil
	})
	var m client.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

func eqInt(p *int, v int) bool       { return p != nil && *p == v }
func eqStr(p *string, v string) bool { return p != nil && *p == v }

// TestReceiveKindContentEndToEnd: every kind a contact sends arrives
// through the protocol and is stored with its fields (file name and size,
// duration, dimensions, voice-note and GIF flags, location, vCards, the
// poll), shown by GET …/messages/{messageId} and in the message event; the
// files download as exactly the bytes sent.
func TestReceiveKindContentEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118100", messaging.Options{})
	contact := e.sim.Contact("15550118101")
	const chat = "15550118101@s.whatsapp.net"
	get := func(id string) client.Message {
		e.stored(chat, id)
		m := e.message(chat, id)
		ev := e.messageEvent("message", id)
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(ev)
		// The event carries the same content (the tally aside, absent here).
		if string(a) != string(b) {
			t.Fatalf("message %s: GET answers %s, the event carries %s", id, a, b)
		}
		return m
	}
	download := func(kind, id string, data []byte, mime string) {
		r := e.media(chat, id)
		if r.StatusCode() != 200 || sha(r.Body) != sha(data) || r.HTTPResponse.Header.Get("Content-Type") != mime {
			t.Fatalf("%s download: %d %q, sha256 %s want %s", kind, r.StatusCode(), r.HTTPResponse.Header.Get("Content-Type"), sha(r.Body), sha(data))
		}
	}

	video := mp4Of(30000)
	id, err := contact.SendMedia(e.ctx, e.own, wasim.KindVideo, video, "video/mp4",
		wasim.MediaFields{Caption: "a clip", GIF: true, Seconds: 12, Width: 640, Height: 360})
	if err != nil {
		t.Fatal(err)
	}
	m := get(id)
	if m.Type != "video" || !eqStr(m.Text, "a clip") || !eqInt(m.Duration, 12) || !eqInt(m.Width, 640) || !eqInt(m.Height, 360) ||
		m.Gif == nil || !*m.Gif || m.FileSize == nil || *m.FileSize != int64(len(video)) || m.Ptt != nil || m.Location != nil {
		t.Fatalf("video stored as %s", bodyOf(m))
	}
	download("video", id, video, "video/mp4")

	voice := oggOpusOf(4000)
	id, err = contact.SendMedia(e.ctx, e.own, wasim.KindAudio, voice, "audio/ogg; codecs=opus", wasim.MediaFields{PTT: true, Seconds: 7})
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "audio" || m.Ptt == nil || !*m.Ptt || !eqInt(m.Duration, 7) || m.FileSize == nil || *m.FileSize != int64(len(voice)) || m.Width != nil {
		t.Fatalf("voice note stored as %s", bodyOf(m))
	}
	download("voice note", id, voice, "audio/ogg; codecs=opus")

	pdf := pdfOf(5000)
	id, err = contact.SendMedia(e.ctx, e.own, wasim.KindDocument, pdf, "application/pdf", wasim.MediaFields{FileName: "invoice 7.pdf", Caption: "yours"})
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "document" || !eqStr(m.FileName, "invoice 7.pdf") || !eqStr(m.Text, "yours") || m.FileSize == nil || *m.FileSize != int64(len(pdf)) {
		t.Fatalf("document stored as %s", bodyOf(m))
	}
	download("document", id, pdf, "application/pdf")

	sticker := webpOf(1500)
	id, err = contact.SendMedia(e.ctx, e.own, wasim.KindSticker, sticker, "image/webp", wasim.MediaFields{Width: 512, Height: 512})
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "sticker" || !eqInt(m.Width, 512) || !eqInt(m.Height, 512) || m.FileSize == nil || *m.FileSize != int64(len(sticker)) {
		t.Fatalf("sticker stored as %s", bodyOf(m))
	}
	download("sticker", id, sticker, "image/webp")

	jpg := jpegOf(t, 40, 30, 3)
	id, err = contact.SendImage(e.ctx, e.own, jpg, "image/jpeg", "a photo")
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "image" || !eqStr(m.Text, "a photo") || m.FileSize == nil || *m.FileSize != int64(len(jpg)) {
		t.Fatalf("image stored as %s", bodyOf(m))
	}
	download("image", id, jpg, "image/jpeg")

	id, err = contact.SendLocation(e.ctx, e.own, -33.856784, 151.215297, "Opera House", "Bennelong Point, Sydney")
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "location" || m.Location == nil || m.Location.Latitude != -33.856784 || m.Location.Longitude != 151.215297 ||
		!eqStr(m.Location.Name, "Opera House") || !eqStr(m.Location.Address, "Bennelong Point, Sydney") || m.FileSize != nil {
		t.Fatalf("location stored as %s", bodyOf(m))
	}

	cards := []string{"BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nTEL;waid=15550100001:+15550100001\nEND:VCARD",
		"BEGIN:VCARD\nVERSION:3.0\nFN:Ben\nTEL;waid=15550100002:+15550100002\nEND:VCARD"}
	id, err = contact.SendContacts(e.ctx, e.own, []string{"Ann", "Ben"}, cards)
	if err != nil {
		t.Fatal(err)
	}
	m = get(id)
	if m.Type != "contact" || m.Vcards == nil || !slices.Equal(*m.Vcards, cards) {
		t.Fatalf("contacts stored as %s", bodyOf(m))
	}
	id, err = contact.SendContacts(e.ctx, e.own, []string{"Ann"}, cards[:1])
	if err != nil {
		t.Fatal(err)
	}
	if m = get(id); m.Type != "contact" || m.Vcards == nil || !slices.Equal(*m.Vcards, cards[:1]) || !eqStr(m.Text, "Ann") {
		t.Fatalf("one contact stored as %s", bodyOf(m))
	}

	id, err = contact.SendPoll(e.ctx, e.own, "Which day?", []string{"Mon", "Tue", "Wed"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	e.stored(chat, id)
	m = e.message(chat, id)
	if m.Type != "poll" || m.Poll == nil || m.Poll.Question != "Which day?" || m.Poll.SelectableCount != 2 || len(m.Poll.Options) != 3 ||
		m.Poll.Options[2].Name != "Wed" || !eqInt(m.Poll.Options[2].Votes, 0) {
		t.Fatalf("poll stored as %s", bodyOf(m))
	}
	// Lists and events carry the options without the tally.
	if ev := e.messageEvent("message", id); ev.Poll == nil || len(ev.Poll.Options) != 3 || ev.Poll.Options[0].Votes != nil {
		t.Fatalf("poll event: %s", bodyOf(ev))
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestSentKindContentStored: the messages the session sends are stored
// with the same content fields as received ones.
func TestSentKindContentStored(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118200", messaging.Options{})
	contact := e.sim.Contact("15550118201")
	const to, chat = "15550118201", "15550118201@s.whatsapp.net"

	pdf := pdfOf(2500)
	r1, err := e.c.SendDocumentWithResponse(e.ctx, e.sid, nil, client.SendDocumentJSONRequestBody{To: to, Document: b64(pdf), FileName: "q3.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	id := sent(t, "document", r1.StatusCode(), r1.Body, r1.JSON200, "document")
	if m := e.message(chat, id); !eqStr(m.FileName, "q3.pdf") || m.FileSize == nil || *m.FileSize != int64(len(pdf)) {
		t.Fatalf("sent document stored as %s", bodyOf(m))
	}
	if ev := e.messageEvent("message.sent", id); !eqStr(ev.FileName, "q3.pdf") {
		t.Fatalf("message.sent of the document: %s", bodyOf(ev))
	}

	voice := oggOpusOf(3000)
	r2, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(voice), Ptt: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "voice note", r2.StatusCode(), r2.Body, r2.JSON200, "audio")
	if m := e.message(chat, id); m.Ptt == nil || !*m.Ptt || m.FileSize == nil || *m.FileSize != int64(len(voice)) {
		t.Fatalf("sent voice note stored as %s", bodyOf(m))
	}

	jpg := jpegOf(t, 64, 48, 5)
	r3 := e.sendImage(client.SendImageJSONRequestBody{To: to, Image: b64(jpg)})
	if r3.JSON200 == nil {
		t.Fatalf("image: %d %s", r3.StatusCode(), r3.Body)
	}
	if m := e.message(chat, r3.JSON200.MessageId); !eqInt(m.Width, 64) || !eqInt(m.Height, 48) {
		t.Fatalf("sent image stored as %s", bodyOf(m))
	}

	r4, err := e.c.SendLocationWithResponse(e.ctx, e.sid, nil, client.SendLocationJSONRequestBody{To: to, Latitude: 48.8584, Longitude: 2.2945, Name: ptr("Tour Eiffel")})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "location", r4.StatusCode(), r4.Body, r4.JSON200, "location")
	if m := e.message(chat, id); m.Location == nil || m.Location.Latitude != 48.8584 || m.Location.Longitude != 2.2945 ||
		!eqStr(m.Location.Name, "Tour Eiffel") || m.Location.Address != nil {
		t.Fatalf("sent location stored as %s", bodyOf(m))
	}

	r5, err := e.c.SendContactWithResponse(e.ctx, e.sid, nil, client.SendContactJSONRequestBody{To: to,
		Contacts: &[]client.ContactCard{{Name: "Dora", Phones: []string{"+1 415 555 0199"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id = sent(t, "contact", r5.StatusCode(), r5.Body, r5.JSON200, "contact")
	rc := e.received(contact, "the contact card", func(r wasim.Received) bool { return r.ID == id })
	if m := e.message(chat, id); m.Vcards == nil || !slices.Equal(*m.Vcards, rc.VCards) || !strings.Contains((*m.Vcards)[0], "FN:Dora") {
		t.Fatalf("sent contact stored as %s, the contact decoded %q", bodyOf(m), rc.VCards)
	}
}
