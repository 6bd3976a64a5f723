package messaging_test

import (
	"encoding/binary"
	"slices"
	"testing"

	"go.mau.fi/util/random"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// oggPageOf is one Ogg page of serial 7 with granule position g and body.
func oggPageOf(g int64, seq uint32, flags byte, body []byte) []byte {
	p := []byte("OggS\x00")
	p = append(p, flags)
	p = binary.LittleEndian.AppendUint64(p, uint64(g))
	p = binary.LittleEndian.AppendUint32(p, 7)
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = append(p, 0, 0, 0, 0) // CRC (not checked by readers of the duration)
	var segs []byte
	for n := len(body); ; n -= 255 {
		if n < 255 {
			segs = append(segs, byte(n))
			break
		}
		segs = append(segs, 255)
	}
	p = append(p, byte(len(segs)))
	p = append(p, segs...)
	return append(p, body...)
}

// oggOpusLasting is an Ogg/Opus stream whose last page ends at granule
// position preSkip + seconds*48000 (pre-skip 312), with noise pages between.
func oggOpusLasting(seconds float64, noise int) []byte {
	b := oggPageOf(0, 0, 2, []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"))
	b = append(b, oggPageOf(0, 1, 0, []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00"))...)
	g, seq := int64(312), uint32(2)
	for ; noise > 0; noise -= 4000 {
		g += 48000 / 50 * 10 // 10 frames of 20 ms
		b = append(b, oggPageOf(g, seq, 0, random.Bytes(4000))...)
		seq++
	}
	return append(b, oggPageOf(312+int64(seconds*48000), seq, 4, random.Bytes(100))...)
}

func box(typ string, body ...[]byte) []byte {
	n := 8
	for _, b := range body {
		n += len(b)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(n))
	out = append(out, typ...)
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// mp4Lasting is an MP4 (ftyp, a big mdat, then moov with mvhd version v)
// of duration dur in units of scale.
func mp4Lasting(v byte, scale uint32, dur uint64, noise int) []byte {
	mvhd := []byte{v, 0, 0, 0}
	if v == 0 {
		mvhd = append(mvhd, make([]byte, 8)...)
		mvhd = binary.BigEndian.AppendUint32(mvhd, scale)
		mvhd = binary.BigEndian.AppendUint32(mvhd, uint32(dur))
	} else {
		mvhd = append(mvhd, make([]byte, 16)...)
		mvhd = binary.BigEndian.AppendUint32(mvhd, scale)
		mvhd = binary.BigEndian.AppendUint64(mvhd, dur)
	}
	mvhd = append(mvhd, make([]byte, 80)...) // rate, volume, matrix, next track
	return slices.Concat(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41")), box("free"),
		box("mdat", random.Bytes(noise)), box("moov", box("mvhd", mvhd), box("trak", random.Bytes(64))))
}

// TestMediaSeconds: the parsers read the play time of Ogg/Opus and MP4
// (both mvhd versions, moov after mdat) and answer 0, never panicking,
// for anything else: truncated, corrupt, all-ones, other formats.
func TestMediaSeconds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, mime string
		b          []byte
		want       int
	}{
		{"ogg 7.4s", "audio/ogg", oggOpusLasting(7.4, 20000), 7},
		{"ogg 0.3s", "audio/ogg", oggOpusLasting(0.3, 0), 1},
		{"ogg 95.6s", "audio/ogg", oggOpusLasting(95.6, 200000), 96},
		{"ogg without end page", "audio/ogg", oggOpusOf(5000), 0},
		{"mp4 v0", "video/mp4", mp4Lasting(0, 1000, 12345, 30000), 12},
		{"mp4 v1", "video/mp4", mp4Lasting(1, 90000, 90000*61, 1000), 61},
		{"m4a", "audio/mp4", mp4Lasting(0, 44100, 44100*3, 100), 3},
		{"3gpp", "video/3gpp", mp4Lasting(0, 600, 600*5, 100), 5},
		{"mp4 unknown duration", "video/mp4", mp4Lasting(0, 1000, 0xFFFFFFFF, 100), 0},
		{"mp4 zero timescale", "video/mp4", mp4Lasting(0, 0, 100, 100), 0},
		{"mp4 noise after ftyp", "video/mp4", mp4Of(5000), 0},
		{"mp3", "audio/mpeg", mp3Of(1000), 0},
	}
	for _, c := range cases {
		if got := messaging.MediaSeconds(c.mime, c.b); got != c.want {
			t.Errorf("%s: %d seconds, want %d", c.name, got, c.want)
		}
	}
	// Every truncation of valid files answers without panicking.
	for _, b := range [][]byte{oggOpusLasting(2, 3000), mp4Lasting(1, 1000, 5000, 200)} {
		for n := range len(b) {
			messaging.MediaSeconds("audio/ogg", b[:n])
			messaging.MediaSeconds("video/mp4", b[:n])
		}
	}
}

// TestSentDurationEndToEnd: a video and a voice note sent without a
// declared duration carry the parsed play time on the WhatsApp message
// (the contact sees `seconds`, in its sandbox view too) and the stored
// message shows `duration`; an MP3 has none.
func TestSentDurationEndToEnd(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550117400", messaging.Options{})
	contact := e.sim.Contact("15550117401")
	const to, chat = "15550117401", "15550117401@s.whatsapp.net"

	video := mp4Lasting(0, 1000, 12345, 40000)
	r1, err := e.c.SendVideoWithResponse(e.ctx, e.sid, nil, client.SendVideoJSONRequestBody{To: to, Video: b64(video)})
	if err != nil {
		t.Fatal(err)
	}
	vid := sent(t, "video", r1.StatusCode(), r1.Body, r1.JSON200, "video")
	voice := oggOpusLasting(7.4, 20000)
	r2, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(voice), Ptt: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	ptt := sent(t, "voice note", r2.StatusCode(), r2.Body, r2.JSON200, "audio")
	r3, err := e.c.SendAudioWithResponse(e.ctx, e.sid, nil, client.SendAudioJSONRequestBody{To: to, Audio: b64(mp3Of(3000))})
	if err != nil {
		t.Fatal(err)
	}
	song := sent(t, "mp3", r3.StatusCode(), r3.Body, r3.JSON200, "audio")

	for id, want := range map[string]uint32{vid: 12, ptt: 7, song: 0} {
		got := e.received(contact, id, func(r wasim.Received) bool { return r.ID == id })
		if got.Seconds != want || got.MediaSHA256 == "" {
			t.Fatalf("%s received with %d seconds (sha %q), want %d", id, got.Seconds, got.MediaSHA256, want)
		}
		m := e.message(chat, id)
		switch {
		case want == 0 && m.Duration != nil:
			t.Fatalf("%s stored with a duration: %s", id, bodyOf(m))
		case want > 0 && (m.Duration == nil || *m.Duration != int(want)):
			t.Fatalf("%s stored as %s, want duration %d", id, bodyOf(m), want)
		}
	}
	cv, err := e.srv.Admin().SandboxContactMessagesWithResponse(e.ctx, to)
	if err != nil || cv.JSON200 == nil {
		t.Fatalf("contact view: %v %s", err, bodyOf(cv))
	}
	for id, want := range map[string]int{vid: 12, ptt: 7} {
		i := slices.IndexFunc(cv.JSON200.Messages, func(m client.SandboxReceived) bool { return m.Id == id })
		if i < 0 || cv.JSON200.Messages[i].Seconds == nil || *cv.JSON200.Messages[i].Seconds != want {
			t.Fatalf("contact view of %s: %s", id, bodyOf(cv.JSON200.Messages))
		}
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
