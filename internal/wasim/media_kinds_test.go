package wasim_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"go.mau.fi/util/random"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestContactDecodesEveryKind: the real client sends each message kind;
// the contact decodes it (media: downloaded, MAC and hashes checked), with
// the kind's fields and the SHA-256 of the decrypted bytes.
func TestContactDecodesEveryKind(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110071")
	alice := s.Contact("15550120071")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	upload := func(data []byte, mt whatsmeow.MediaType) whatsmeow.UploadResponse {
		up, err := c.Upload(ctx, data, mt)
		if err != nil {
			t.Fatalf("Upload %s: %v", mt, err)
		}
		return up
	}
	video, audio, doc, sticker := random.Bytes(70000), random.Bytes(9000), random.Bytes(3000), random.Bytes(2000)
	vu, au, du, su := upload(video, whatsmeow.MediaVideo), upload(audio, whatsmeow.MediaAudio), upload(doc, whatsmeow.MediaDocument), upload(sticker, whatsmeow.MediaImage)
	mention := "15550120071@s.whatsapp.net"
	ci := &waE2E.ContextInfo{IsForwarded: proto.Bool(true), ForwardingScore: proto.Uint32(1), MentionedJID: []string{mention}}
	poll := c.BuildPollCreation("Lunch?", []string{"pizza", "sushi", "salad"}, 1)
	cases := []struct {
		msg   *waE2E.Message
		check func(r wasim.Received) bool
	}{
		{&waE2E.Message{VideoMessage: &waE2E.VideoMessage{URL: &vu.URL, DirectPath: &vu.DirectPath, MediaKey: vu.MediaKey, FileSHA256: vu.FileSHA256, FileEncSHA256: vu.FileEncSHA256, FileLength: &vu.FileLength, Mimetype: proto.String("video/mp4"), Caption: proto.String("clip"), GifPlayback: proto.Bool(true), ContextInfo: ci}},
			func(r wasim.Received) bool {
				return r.Kind == wasim.KindVideo && r.MediaSHA256 == hexSHA(video) && r.GIF && r.Caption == "clip" && r.Forwarded && slices.Equal(r.Mentions, []string{mention})
			}},
		{&waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: &au.URL, DirectPath: &au.DirectPath, MediaKey: au.MediaKey, FileSHA256: au.FileSHA256, FileEncSHA256: au.FileEncSHA256, FileLength: &au.FileLength, Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true)}},
			func(r wasim.Received) bool {
				return r.Kind == wasim.KindAudio && r.PTT && r.MediaSHA256 == hexSHA(audio)
			}},
		{&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: &du.URL, DirectPath: &du.DirectPath, MediaKey: du.MediaKey, FileSHA256: du.FileSHA256, FileEncSHA256: du.FileEncSHA256, FileLength: &du.FileLength, Mimetype: proto.String("application/pdf"), FileName: proto.String("invoice.pdf")}},
			func(r wasim.Received) bool {
				return r.Kind == wasim.KindDocument && r.FileName == "invoice.pdf" && r.MimeType == "application/pdf" && r.MediaSHA256 == hexSHA(doc)
			}},
		{&waE2E.Message{StickerMessage: &waE2E.StickerMessage{URL: &su.URL, DirectPath: &su.DirectPath, MediaKey: su.MediaKey, FileSHA256: su.FileSHA256, FileEncSHA256: su.FileEncSHA256, FileLength: &su.FileLength, Mimetype: proto.String("image/webp")}},
			func(r wasim.Received) bool { return r.Kind == wasim.KindSticker && r.MediaSHA256 == hexSHA(sticker) }},
		{&waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.52), DegreesLongitude: proto.Float64(13.405), Name: proto.String("Berlin")}},
			func(r wasim.Received) bool {
				return r.Kind == wasim.KindLocation && r.Latitude == 52.52 && r.Longitude == 13.405 && r.LocationName == "Berlin"
			}},
		{&waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bob"), Vcard: proto.String("BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nEND:VCARD")}},
			func(r wasim.Received) bool {
				return r.Kind == wasim.KindContact && len(r.VCards) == 1 && r.ContactNames[0] == "Bob"
			}},
		{poll, func(r wasim.Received) bool {
			return r.Kind == wasim.KindPoll && r.PollName == "Lunch?" && slices.Equal(r.PollOptions, []string{"pizza", "sushi", "salad"}) && r.SelectableCount == 1
		}},
	}
	for i, tc := range cases {
		resp, err := c.SendMessage(ctx, alice.JID(), tc.msg)
		if err != nil {
			t.Fatalf("case %d: SendMessage: %v", i, err)
		}
		r, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !tc.check(r) {
			t.Fatalf("case %d: received %+v", i, r.KindFields)
		}
	}
	noViolations(t, s)
}

// TestPollVotesBothWays: a contact's poll is voted on by the real client
// (whatsmeow's BuildPollVote) and the contact decrypts the vote; the
// contact votes on the client's poll and whatsmeow's DecryptPollVote reads
// it.
func TestPollVotesBothWays(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110072")
	alice := s.Contact("15550120072")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	pollID, err := alice.SendPoll(ctx, phone.JID().String(), "Colour?", []string{"red", "green", "blue"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	evt := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool { return m.Info.ID == pollID })
	vote, err := c.BuildPollVote(ctx, &evt.Info, []string{"green", "blue"})
	if err != nil {
		t.Fatalf("BuildPollVote: %v", err)
	}
	resp, err := c.SendMessage(ctx, alice.JID(), vote)
	if err != nil {
		t.Fatal(err)
	}
	r, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != wasim.KindPollVote || r.TargetID != pollID || !slices.Equal(r.SelectedOptions, []string{"green", "blue"}) {
		t.Fatalf("vote: kind=%s target=%s selected=%v err=%s", r.Kind, r.TargetID, r.SelectedOptions, r.PollVoteError)
	}

	own, err := c.SendMessage(ctx, alice.JID(), c.BuildPollCreation("Day?", []string{"mon", "tue"}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == own.ID }); err != nil {
		t.Fatal(err)
	}
	voteID, err := alice.Vote(ctx, phone.JID().String(), own.ID, []string{"tue"})
	if err != nil {
		t.Fatal(err)
	}
	ve := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool { return m.Info.ID == voteID })
	pv, err := c.DecryptPollVote(ctx, ve)
	if err != nil {
		t.Fatalf("DecryptPollVote: %v", err)
	}
	if got := pv.GetSelectedOptions(); len(got) != 1 || hex.EncodeToString(got[0]) != hexSHA([]byte("tue")) {
		t.Fatalf("selected %x", got)
	}
	noViolations(t, s)
}
