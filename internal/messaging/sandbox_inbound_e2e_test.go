package messaging_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// sandboxInbound posts to POST /sandbox/sessions/{id}/inbound with the
// admin key and returns the message id (fatal unless 200).
func (e *e2e) sandboxInbound(what string, body client.SandboxInboundJSONRequestBody) string {
	e.t.Helper()
	r, err := e.srv.Admin().SandboxInboundWithResponse(e.ctx, e.sid, body)
	if err != nil || r.JSON200 == nil {
		e.t.Fatalf("sandbox inbound %s: %v %d %s", what, err, statusOf(r), bodyOf(r))
	}
	return r.JSON200.MessageId
}

func kindOf(k client.SandboxInboundRequestType) *client.SandboxInboundRequestType { return &k }

// TestSandboxInboundEveryKind: POST /sandbox/sessions/{id}/inbound makes
// the simulated contact send each kind through the protocol; the session
// stores it with its fields and the files download as the bytes sent; a
// pollVote on a poll the session sent shows in the poll's tally, and the
// contact's view (GET /sandbox/contacts/{phone}/messages) has the poll.
func TestSandboxInboundEveryKind(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118300", messaging.Options{})
	const from, chat = "15550118301", "15550118301@s.whatsapp.net"

	video := mp4Of(20000)
	id := e.sandboxInbound("video", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeVideo),
		Media: ptr(b64(video)), Caption: ptr("clip"), Gif: ptr(true)})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Type != "video" || !eqStr(m.MimeType, "video/mp4") || !eqStr(m.Text, "clip") || m.Gif == nil || !*m.Gif {
		t.Fatalf("sandbox video stored as %s", bodyOf(m))
	}
	wantMedia(t, "sandbox video", e.media(chat, id), video, "video/mp4", id+".mp4")

	voice := oggOpusOf(3000)
	id = e.sandboxInbound("voice note", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeAudio),
		Media: ptr(b64(voice)), Ptt: ptr(true)})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Type != "audio" || m.Ptt == nil || !*m.Ptt || !eqStr(m.MimeType, "audio/ogg; codecs=opus") {
		t.Fatalf("sandbox voice note stored as %s", bodyOf(m))
	}
	if r := e.media(chat, id); sha(r.Body) != sha(voice) {
		t.Fatalf("sandbox voice note downloads as %d bytes", len(r.Body))
	}

	pdf := pdfOf(4000)
	id = e.sandboxInbound("document", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeDocument),
		Media: ptr(b64(pdf)), FileName: ptr("terms.pdf"), Caption: ptr("read me")})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Type != "document" || !eqStr(m.FileName, "terms.pdf") || !eqStr(m.MimeType, "application/pdf") ||
		m.FileSize == nil || *m.FileSize != int64(len(pdf)) {
		t.Fatalf("sandbox document stored as %s", bodyOf(m))
	}
	if r := e.media(chat, id); sha(r.Body) != sha(pdf) {
		t.Fatalf("sandbox document downloads as %d bytes", len(r.Body))
	}

	sticker := webpOf(900)
	id = e.sandboxInbound("sticker", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeSticker), Media: ptr(b64(sticker))})
	e.stored(chat, id)
	if r := e.media(chat, id); sha(r.Body) != sha(sticker) || e.message(chat, id).Type != "sticker" {
		t.Fatalf("sandbox sticker: %d bytes", len(r.Body))
	}

	jpg := jpegOf(t, 20, 20, 9)
	id = e.sandboxInbound("image", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeImage), Media: ptr(b64(jpg))})
	e.stored(chat, id)
	if r := e.media(chat, id); sha(r.Body) != sha(jpg) || e.message(chat, id).Type != "image" {
		t.Fatalf("sandbox image: %d bytes", len(r.Body))
	}

	id = e.sandboxInbound("location", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeLocation),
		Latitude: ptr(35.658581), Longitude: ptr(139.745433), Name: ptr("Tokyo Tower")})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Location == nil || m.Location.Latitude != 35.658581 || m.Location.Longitude != 139.745433 || !eqStr(m.Location.Name, "Tokyo Tower") {
		t.Fatalf("sandbox location stored as %s", bodyOf(m))
	}

	id = e.sandboxInbound("contacts", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypeContact),
		Contacts: &[]client.ContactCard{{Name: "Gus", Phones: []string{"+1 415 555 0177"}}, {Name: "Hal", Phones: []string{"4915112340000"}}}})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Vcards == nil || len(*m.Vcards) != 2 || !strings.Contains((*m.Vcards)[0], "FN:Gus") ||
		!strings.Contains((*m.Vcards)[1], "waid=4915112340000") {
		t.Fatalf("sandbox contacts stored as %s", bodyOf(m))
	}

	id = e.sandboxInbound("poll", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypePoll),
		Question: ptr("Tea or coffee?"), Options: &[]string{"tea", "coffee"}, SelectableCount: ptr(1)})
	e.stored(chat, id)
	if m := e.message(chat, id); m.Poll == nil || m.Poll.Question != "Tea or coffee?" || len(m.Poll.Options) != 2 {
		t.Fatalf("sandbox poll stored as %s", bodyOf(m))
	}
	// The contact votes on its own poll.
	e.sandboxInbound("vote on own poll", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypePollVote),
		TargetId: ptr(id), Options: &[]string{"coffee"}})
	eventually(t, "the contact's vote on its poll", func() bool { return slices.Equal(e.tally(chat, id)["coffee"], []string{chat}) })

	// A poll the session sends: the contact's view has it, and its vote
	// through the sandbox reaches the tally.
	r, err := e.c.SendPollWithResponse(e.ctx, e.sid, nil, client.SendPollJSONRequestBody{To: from, Question: "When?", Options: []string{"now", "later"}})
	if err != nil {
		t.Fatal(err)
	}
	pollID := sent(t, "poll", r.StatusCode(), r.Body, r.JSON200, "poll")
	e.received(e.sim.Contact(from), "the session's poll", func(rc wasim.Received) bool { return rc.ID == pollID })
	cv, err := e.srv.Admin().SandboxContactMessagesWithResponse(e.ctx, from)
	if err != nil || cv.JSON200 == nil {
		t.Fatalf("contact view: %v %s", err, bodyOf(cv))
	}
	i := slices.IndexFunc(cv.JSON200.Messages, func(m client.SandboxReceived) bool { return m.Id == pollID })
	if i < 0 || cv.JSON200.Messages[i].Kind != "poll" || cv.JSON200.Messages[i].PollOptions == nil ||
		!slices.Equal(*cv.JSON200.Messages[i].PollOptions, []string{"now", "later"}) {
		t.Fatalf("contact view of the poll: %s", bodyOf(cv.JSON200.Messages))
	}
	e.sandboxInbound("vote", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypePollVote),
		TargetId: ptr(pollID), Options: &[]string{"later"}})
	eventually(t, "the vote in the tally", func() bool { return slices.Equal(e.tally(chat, pollID)["later"], []string{chat}) })
	if evs := e.pollVoteEvents(); len(evs) != 2 || evs[1].PollMessageID != pollID || !slices.Equal(evs[1].SelectedOptions, []string{"later"}) {
		t.Fatalf("poll.vote events: %+v", evs)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

// TestSandboxInboundRefusals: each refusal is a 400 with its text and the
// contact sends nothing.
func TestSandboxInboundRefusals(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118400", messaging.Options{})
	const from, chat = "15550118401", "15550118401@s.whatsapp.net"
	pollID := e.sandboxInbound("a poll", client.SandboxInboundJSONRequestBody{From: from, Type: kindOf(client.SandboxInboundRequestTypePoll),
		Question: ptr("Q?"), Options: &[]string{"a", "b"}})
	e.stored(chat, pollID)
	before := e.storedMessages()
	path := "/sandbox/sessions/" + e.sid.String() + "/inbound"
	for _, tc := range []struct{ body, text string }{
		{`{"from":"` + from + `","type":"hologram"}`, `Invalid request body: type: value is not one of the allowed values ["text","image","video","audio","document","sticker","location","contact","poll","pollVote"]`},
		{`{"from":"` + from + `","type":"text"}`, "text is required"},
		{`{"from":"` + from + `","type":"video"}`, "media is required for type video"},
		{`{"from":"` + from + `","type":"document","media":"%%%"}`, "media must be base64"},
		{`{"from":"` + from + `","type":"location","latitude":91,"longitude":0}`, "latitude must be between -90 and 90"},
		{`{"from":"` + from + `","type":"location","latitude":10,"longitude":-181}`, "longitude must be between -180 and 180"},
		{`{"from":"` + from + `","type":"location","longitude":1}`, "latitude must be between -90 and 90"},
		{`{"from":"` + from + `","type":"contact"}`, "vcards or contacts is required"},
		{`{"from":"` + from + `","type":"contact","vcards":["hello"]}`, "vcards[0] is not a vCard with an FN"},
		{`{"from":"` + from + `","type":"poll","question":"Q","options":["only"]}`, "a poll needs 2 to 12 options"},
		{`{"from":"` + from + `","type":"poll","question":"Q","options":["x","x"]}`, "poll options must be unique"},
		{`{"from":"` + from + `","type":"poll","options":["x","y"]}`, "question is required"},
		{`{"from":"` + from + `","type":"pollVote","options":["a"]}`, "targetId is required"},
		{`{"from":"` + from + `","type":"pollVote","targetId":"NOPOLL","options":["a"]}`, `Unknown poll "NOPOLL" for this contact`},
		{`{"from":"` + from + `","type":"pollVote","targetId":"` + pollID + `","options":["c"]}`, `"c" is not an option of poll "` + pollID + `"`},
		{`{"from":"15550118499","type":"pollVote","targetId":"` + pollID + `","options":["a"]}`, `Unknown poll "` + pollID + `" for this contact`},
	} {
		r := e.srv.Do(http.MethodPost, path, e.srv.AdminKey, []byte(tc.body), "Content-Type", "application/json")
		var out struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
		}
		r.JSON(t, &out)
		if r.Status != http.StatusBadRequest || out.Success || out.Error != tc.text {
			t.Fatalf("%s: %d %+v, want 400 %q", tc.body, r.Status, out, tc.text)
		}
	}
	if n := e.storedMessages(); n != before {
		t.Fatalf("%d messages stored after the refusals, want %d", n, before)
	}
	if evs := e.pollVoteEvents(); len(evs) != 0 {
		t.Fatalf("poll.vote events after refused votes: %+v", evs)
	}
}
