package wasim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/util/random"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// testPNG returns a small PNG with noisy pixels (so it does not compress
// to nothing and spans many AES blocks).
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	noise := random.Bytes(w * h * 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			img.Set(x, y, color.RGBA{noise[i], noise[i+1], noise[i+2], 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func noViolations(t *testing.T, s *wasim.Server) {
	t.Helper()
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

func imageMessage(up whatsmeow.UploadResponse, mime, caption string) *waE2E.Message {
	return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		Caption: proto.String(caption), Mimetype: proto.String(mime),
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
	}}
}

// TestImageUploadAndContactDecrypts: the real client uploads an image to
// the simulator's media server and sends it; the contact's device (and the
// phone's DSM copy) download, verify and decrypt it to the same bytes.
func TestImageUploadAndContactDecrypts(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110001")
	alice := s.Contact("15550120001")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	data := testPNG(t, 64, 48)

	up, err := c.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if u, err := url.Parse(up.URL); err != nil || u.Host != wasim.MediaHost || !strings.HasPrefix(up.DirectPath, "/v/") {
		t.Fatalf("upload response url=%q direct_path=%q", up.URL, up.DirectPath)
	}
	if s.Counter("iq:media_conn") != 1 || s.Counter("http:upload") != 1 || s.MediaCount() != 1 {
		t.Fatalf("media_conn=%d uploads=%d blobs=%d", s.Counter("iq:media_conn"), s.Counter("http:upload"), s.MediaCount())
	}
	msg := imageMessage(up, "image/png", "a noisy picture")
	resp, err := c.SendMessage(ctx, alice.JID(), msg)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	got, err := alice.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != wasim.KindImage || got.Text != "a noisy picture" || got.MimeType != "image/png" || got.MsgType != "media" {
		t.Fatalf("contact got kind=%s text=%q mime=%q type=%q", got.Kind, got.Text, got.MimeType, got.MsgType)
	}
	if got.MediaError != "" || !bytes.Equal(got.Media, data) {
		t.Fatalf("contact media: error %q, %d bytes (want %d identical)", got.MediaError, len(got.Media), len(data))
	}
	dsm, err := phone.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dsm.Media, data) {
		t.Fatalf("phone's DSM copy: media error %q", dsm.MediaError)
	}
	// The uploader can download its own upload (GET of the direct path).
	back, err := c.Download(ctx, msg.GetImageMessage())
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("Download of own upload: %v (%d bytes)", err, len(back))
	}
	noViolations(t, s)
}

// TestContactSendsImage: a contact encrypts and uploads an image and sends
// it; the real client downloads and decrypts identical bytes.
func TestContactSendsImage(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110002")
	bob := s.Contact("15550120002")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	data := testPNG(t, 40, 30)

	id, err := bob.SendImage(ctx, phone.JID().String(), data, "image/png", "from bob")
	if err != nil {
		t.Fatalf("SendImage: %v", err)
	}
	evt := wasimtest.WaitFor[*events.Message](t, c.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	img := evt.Message.GetImageMessage()
	if img == nil || img.GetCaption() != "from bob" || img.GetMimetype() != "image/png" || img.GetWidth() != 40 || img.GetHeight() != 30 {
		t.Fatalf("client got %v (type %s, media type %s)", evt.Message, evt.Info.Type, evt.Info.MediaType)
	}
	if evt.Info.Type != "media" || evt.Info.MediaType != "image" {
		t.Fatalf("stanza type=%q mediatype=%q", evt.Info.Type, evt.Info.MediaType)
	}
	got, err := c.Download(ctx, img)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, not the %d sent", len(got), len(data))
	}
	//nolint:staticcheck // DownloadAny is deprecated for clients, but it is what generic clients call: the simulator must serve it too
	if any, err := c.DownloadAny(ctx, evt.Message); err != nil || !bytes.Equal(any, data) {
		t.Fatalf("DownloadAny: %v", err)
	}
	if s.Counter("http:download") != 2 {
		t.Fatalf("downloads = %d", s.Counter("http:download"))
	}
	noViolations(t, s)
}

// TestMediaStrictChecks: uploads without the media_conn auth token,
// forged direct paths and images that do not decrypt are rejected and
// recorded as violations.
func TestMediaStrictChecks(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550110003")
	carol := s.Contact("15550120003")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	hc := s.HTTPClient()
	data := testPNG(t, 16, 16)

	do := func(method, u string, body []byte) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	blob := random.Bytes(32 + 10)
	sum := sha256.Sum256(blob)
	token := base64.URLEncoding.EncodeToString(sum[:])
	base := "https://" + wasim.MediaHost + "/mms/image/" + token + "?token=" + url.QueryEscape(token)
	if code := do(http.MethodPost, base, blob); code != http.StatusUnauthorized {
		t.Fatalf("upload without auth: %d", code)
	}
	if code := do(http.MethodPost, base+"&auth=forged.token", blob); code != http.StatusUnauthorized {
		t.Fatalf("upload with forged auth: %d", code)
	}
	if code := do(http.MethodGet, "https://"+wasim.MediaHost+"/v/t62.7118-24/1_1_n.enc?ccb=11-4&oh=01_forged&oe=1", nil); code != http.StatusForbidden {
		t.Fatalf("download of a forged direct path: %d", code)
	}
	if v := s.Violations(); len(v) != 3 || !strings.Contains(v[0], "auth") || !strings.Contains(v[2], "oh signature") {
		t.Fatalf("violations: %v", v)
	}

	// A well-formed upload sent with the wrong media key: the contact
	// cannot verify it and says so.
	up, err := c.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	msg := imageMessage(up, "image/png", "")
	msg.ImageMessage.MediaKey = random.Bytes(32)
	resp, err := c.SendMessage(ctx, carol.JID(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := carol.WaitReceived(ctx, func(r wasim.Received) bool { return r.ID == resp.ID })
	if err != nil {
		t.Fatal(err)
	}
	if got.Media != nil || !strings.Contains(got.MediaError, "MAC") {
		t.Fatalf("bad media key: media %d bytes, error %q", len(got.Media), got.MediaError)
	}
	if v := s.Violations(); len(v) < 4 || !strings.Contains(v[3], "MAC") {
		t.Fatalf("violations: %v", v)
	}
}

// TestMediaInPostgres: with Options.DB blobs live in wasim_media and the
// media key survives a restart, so direct paths issued before it still
// download after it.
func TestMediaInPostgres(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	phone := s1.Phone("15550110004")
	dave := s1.Contact("15550120004")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)
	wasimtest.PairQR(t, c1, phone)
	ctx := wasimtest.Ctx(t)
	data := testPNG(t, 24, 24)
	id, err := dave.SendImage(ctx, phone.JID().User, data, "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	evt := wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	up, err := c1.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	c1.Disconnect()
	noViolations(t, s1)
	_ = s1.Close()

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	if n := s2.MediaCount(); n != 2 {
		t.Fatalf("blobs after restart = %d, want 2", n)
	}
	c2 := wasimtest.NewClient(t, s2, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c2.Events, 0, nil)
	for name, img := range map[string]*waE2E.ImageMessage{"contact's": evt.Message.GetImageMessage(), "own": imageMessage(up, "image/png", "").GetImageMessage()} {
		got, err := c2.Download(ctx, img)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("download of the %s image after restart: %v (%d bytes)", name, err, len(got))
		}
	}
	noViolations(t, s2)
}

// TestExpiredMediaInPostgres: with Options.DB an expired file and the
// phone's record of the message's media survive a simulator restart: after
// it the file still does not download, and a media retry receipt gets it
// uploaded again under a new direct path that downloads the same bytes.
func TestExpiredMediaInPostgres(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	phone := s1.Phone("15550110014")
	erin := s1.Contact("15550120014")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)
	wasimtest.PairQR(t, c1, phone)
	ctx := wasimtest.Ctx(t)
	data := testPNG(t, 20, 20)
	id, err := erin.SendImage(ctx, phone.JID().User, data, "image/png", "")
	if err != nil {
		t.Fatal(err)
	}
	evt := wasimtest.WaitFor[*events.Message](t, c1.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	img := evt.Message.GetImageMessage()
	if err := s1.ExpireMedia(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s1.MediaCount() != 0 {
		t.Fatalf("expired file still counted: %d blobs", s1.MediaCount())
	}
	c1.Disconnect()
	noViolations(t, s1)
	_ = s1.Close()

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	c2 := wasimtest.NewClient(t, s2, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Connected](t, c2.Events, 0, nil)
	if _, err := c2.Download(ctx, img); err == nil {
		t.Fatal("the expired file downloads after the restart")
	}
	if err := s2.ExpireMedia(ctx, id); err != nil { // known after the restart; expiring twice is no error
		t.Fatalf("expire after restart: %v", err)
	}
	if err := c2.SendMediaRetryReceipt(ctx, &evt.Info, img.GetMediaKey()); err != nil {
		t.Fatal(err)
	}
	retry := wasimtest.WaitFor[*events.MediaRetry](t, c2.Events, 0, func(r *events.MediaRetry) bool { return r.MessageID == id })
	n, err := whatsmeow.DecryptMediaRetryNotification(retry, img.GetMediaKey())
	if err != nil || n.GetDirectPath() == "" {
		t.Fatalf("media retry notification: %v %v", err, n)
	}
	again := proto.Clone(img).(*waE2E.ImageMessage)
	again.DirectPath = proto.String(n.GetDirectPath())
	got, err := c2.Download(ctx, again)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download after the re-upload: %v (%d bytes)", err, len(got))
	}
	noViolations(t, s2)
}
