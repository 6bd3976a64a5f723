package wasim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/util/random"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// Expired media and its recovery, the phone's side. WhatsApp's media
// servers drop files after a while; a companion that gets 404/410 sends
// the phone a receipt of type server-error carrying the message id
// encrypted with a key derived from the media key (ServerErrorReceipt).
// The phone, which keeps the file, uploads it again and answers with a
// <notification type="mediaretry"> whose MediaRetryNotification (same
// key, AES-GCM, the message id as additional data) holds the new direct
// path. Here the simulator plays the phone: it remembers the media of
// every message a contact sends (messageID -> blob and media key),
// ExpireMedia removes the blob from the media server (downloads answer
// 404), and a valid retry receipt re-uploads it under a new direct path.

// ErrNoMedia is returned by ExpireMedia for a message the simulator sent
// no media for.
var ErrNoMedia = errors.New("wasim: no media is known for this message")

// mediaRetryInfo is the HKDF info of the media retry key.
const mediaRetryInfo = "WhatsApp Media Retry Notification"

type sentMedia struct {
	blobID   string
	mediaKey []byte
	expired  *mediaBlob // the file while it is off the media server
}

// mediaRetryBook is the phone-side state of media recovery.
type mediaRetryBook struct {
	mu      sync.Mutex
	sent    map[string]*sentMedia // by message id
	offline map[*account]bool     // phones that do not answer
}

// rememberMedia records the media of a message a contact sent.
func (s *Server) rememberMedia(id string, d downloadable) {
	blobID, err := s.parseDirectPath(d.GetDirectPath())
	if err != nil {
		return
	}
	b := &s.retry
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sent == nil {
		b.sent = map[string]*sentMedia{}
	}
	b.sent[id] = &sentMedia{blobID: blobID, mediaKey: d.GetMediaKey()}
}

// ExpireMedia makes the media of message id unavailable on the media
// server (downloads answer 404) until the phone uploads it again in answer
// to a media retry receipt. Expiring twice is no error.
func (s *Server) ExpireMedia(ctx context.Context, id string) error {
	b := &s.retry
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.sent[id]
	if m == nil {
		return ErrNoMedia
	}
	if m.expired != nil {
		return nil
	}
	blob, err := s.getMedia(ctx, m.blobID)
	if err != nil {
		return fmt.Errorf("wasim: media of %s: %w", id, err)
	}
	m.expired = blob
	s.deleteMedia(ctx, m.blobID)
	return nil
}

// SetOffline makes the phone stop (true) or resume answering media retry
// receipts, as a phone that is switched off or without network.
func (p *Phone) SetOffline(off bool) {
	b := &p.s.retry
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.offline == nil {
		b.offline = map[*account]bool{}
	}
	b.offline[p.acct] = off
}

func mediaRetryKey(mediaKey []byte) []byte {
	return hkdfutil.SHA256(mediaKey, nil, []byte(mediaRetryInfo), 32)
}

// handleMediaRetryReceipt is the phone answering a companion's
// <receipt type="server-error">: the request is decrypted and checked,
// the file uploaded again and the new direct path sent back encrypted.
// An unknown message is answered with error code 2 (not on the phone).
func (s *Server) handleMediaRetryReceipt(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	s.mu.Lock()
	dev := c.dev
	s.mu.Unlock()
	if dev == nil || id == "" {
		s.violation("media retry receipt %q from a connection that is not logged in", id)
		return
	}
	s.countSent("mediaretry:receipt")
	rmr, ok := node.GetOptionalChildByTag("rmr")
	if !ok {
		s.violation("media retry receipt %s without <rmr>", id)
		return
	}
	enc, ok := node.GetOptionalChildByTag("encrypt")
	ct, _ := enc.GetChildByTag("enc_p").Content.([]byte)
	iv, _ := enc.GetChildByTag("enc_iv").Content.([]byte)
	if !ok || len(ct) == 0 || len(iv) != 12 {
		s.violation("media retry receipt %s without enc_p and a 12-byte enc_iv", id)
		return
	}
	b := &s.retry
	b.mu.Lock()
	m := b.sent[id]
	offline := b.offline[dev.acct]
	b.mu.Unlock()
	if offline {
		return // the phone is off: nobody answers
	}
	notif := waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": dev.acct.pnJID(), "type": "mediaretry", "id": id, "t": unixNow(),
	}}
	rmrNode := waBinary.Node{Tag: "rmr", Attrs: waBinary.Attrs{}}
	for k, v := range rmr.Attrs {
		rmrNode.Attrs[k] = v
	}
	if m == nil {
		notif.Content = []waBinary.Node{rmrNode, {Tag: "error", Attrs: waBinary.Attrs{"code": "2"}}}
		s.enqueueNotification(dev, id, notif)
		return
	}
	key := mediaRetryKey(m.mediaKey)
	plain, err := gcmutil.Decrypt(key, iv, ct, []byte(id))
	var req waMmsRetry.ServerErrorReceipt
	if err == nil {
		err = proto.Unmarshal(plain, &req)
	}
	if err != nil || req.GetStanzaID() != id {
		s.violation("media retry receipt %s does not decrypt with the message's media key to its id (%v, %q)", id, err, req.GetStanzaID())
		return
	}
	ctx, cancel := context.WithTimeout(s.baseCtx, 30*time.Second)
	defer cancel()
	newDP, err := s.reupload(ctx, id, m)
	if err != nil {
		s.log.Warn().Err(err).Str("id", id).Msg("media re-upload failed")
		return
	}
	out, err := proto.Marshal(&waMmsRetry.MediaRetryNotification{
		StanzaID: proto.String(id), DirectPath: proto.String(newDP), Result: waMmsRetry.MediaRetryNotification_SUCCESS.Enum(),
	})
	if err != nil {
		return
	}
	niv := random.Bytes(12)
	nct, err := gcmutil.Encrypt(key, niv, out, []byte(id))
	if err != nil {
		return
	}
	notif.Content = []waBinary.Node{
		{Tag: "encrypt", Content: []waBinary.Node{{Tag: "enc_p", Content: nct}, {Tag: "enc_iv", Content: niv}}},
		rmrNode,
	}
	s.countSent("mediaretry:reupload")
	s.enqueueNotification(dev, id, notif)
}

// reupload puts the file of message id back on the media server under a
// new blob id and returns its direct path.
func (s *Server) reupload(ctx context.Context, id string, m *sentMedia) (string, error) {
	b := &s.retry
	b.mu.Lock()
	defer b.mu.Unlock()
	blob := m.expired
	if blob == nil {
		var err error
		if blob, err = s.getMedia(ctx, m.blobID); err != nil {
			return "", err
		}
	}
	newID, dp, _, err := s.storeUpload(ctx, blob.MMSType, blob.Uploader, blob.Data)
	if err != nil {
		return "", err
	}
	if m.expired == nil {
		s.deleteMedia(ctx, m.blobID)
	}
	m.blobID, m.expired = newID, nil
	return dp, nil
}

func (s *Server) enqueueNotification(dev *companion, id string, n waBinary.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueLocked(dev, queueKey("notification", "mediaretry", id), n)
}
