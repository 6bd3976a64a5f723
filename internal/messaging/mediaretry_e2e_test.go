package messaging_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestExpiredMediaRecovery: a received image whose file the media server
// dropped (404) still downloads through GET …/media: wagate sends the
// phone a media retry receipt (the simulated phone checks it decrypts
// with the media key to the message id), the phone uploads the file again
// and answers with the encrypted new direct path, and the download
// answers the identical bytes; the new path is stored, so the next
// download needs no retry. With the phone offline the download answers
// 503 with the text that says so (after MediaRetryTimeout, 3 s here), and
// works again once the phone is back.
func TestExpiredMediaRecovery(t *testing.T) {
	t.Parallel()
	e := newE2E(t, "15550118300", messaging.Options{})
	contact := e.sim.Contact("15550118301")
	const chat = "15550118301@s.whatsapp.net"
	stored := func(id string) {
		eventually(t, "message "+id+" stored", func() bool {
			r, err := e.c.GetMessageWithResponse(e.ctx, e.sid, chat, id)
			return err == nil && r.JSON200 != nil
		})
	}

	img := jpegOf(t, 32, 24, 5)
	id, err := contact.SendImage(e.ctx, e.own, img, "image/jpeg", "old photo")
	if err != nil {
		t.Fatal(err)
	}
	stored(id)
	if err := e.sim.ExpireMedia(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	receipts, reuploads := e.sim.Counter("mediaretry:receipt"), e.sim.Counter("mediaretry:reupload")
	wantMedia(t, "expired image", e.media(chat, id), img, "image/jpeg", id+".jpg")
	if n := e.sim.Counter("mediaretry:reupload"); n != reuploads+1 {
		t.Fatalf("%d re-uploads, want 1", n-reuploads)
	}
	if n := e.sim.Counter("mediaretry:receipt"); n != receipts+1 {
		t.Fatalf("%d retry receipts, want 1", n-receipts)
	}
	wantMedia(t, "image after the re-upload", e.media(chat, id), img, "image/jpeg", id+".jpg")
	if n := e.sim.Counter("mediaretry:receipt"); n != receipts+1 {
		t.Fatalf("the second download sent another retry receipt (%d): the new direct path was not stored", n-receipts)
	}

	// The phone is off: no re-upload, a clear 503.
	video := mp4Of(20000)
	vid, err := contact.SendMedia(e.ctx, e.own, wasim.KindVideo, video, "video/mp4", wasim.MediaFields{})
	if err != nil {
		t.Fatal(err)
	}
	stored(vid)
	if err := e.sim.ExpireMedia(e.ctx, vid); err != nil {
		t.Fatal(err)
	}
	e.phone.SetOffline(true)
	r := e.media(chat, vid)
	if r.StatusCode() != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"error":"The phone did not re-upload the media; open WhatsApp on the phone and retry"`) {
		t.Fatalf("offline phone: status %d %s", r.StatusCode(), r.Body)
	}
	e.phone.SetOffline(false)
	wantMedia(t, "video once the phone is back", e.media(chat, vid), video, "video/mp4", vid+".mp4")
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
