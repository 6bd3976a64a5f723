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
//
// With Options.DB the book is kept like the rest of the simulator:
// wasim_media_sent holds each message's blob id, media key and whether it
// is expired, and an expired file stays in wasim_media under the id
// "expired/<blob id>" (no direct path names it: downloads answer 404), so
// a restarted simulator still expires, recovers and re-uploads.

// ErrNoMedia is returned by ExpireMedia for a message the simulator sent
// no media for.
var ErrNoMedia = errors.New("wasim: no media is known for this message")

// mediaRetryInfo is the HKDF info of the media retry key.
const mediaRetryInfo = "WhatsApp Media Retry Notification"

type sentMedia struct {
	blobID   string
	mediaKey []byte
	// expired: the file is off the media server, kept under
	// expiredBlobID(blobID) until the phone uploads it again.
	expired bool
}

// expiredBlobID is where an expired file is kept.
func expiredBlobID(blobID string) string { return "expired/" + blobID }

// sentLocked is the media of message id, from memory or (after a
// restart) from wasim_media_sent; nil when unknown. b.mu is held.
func (s *Server) sentLocked(ctx context.Context, id string) *sentMedia {
	b := &s.retry
	if m := b.sent[id]; m != nil || s.db == nil {
		return m
	}
	m := &sentMedia{}
	err := s.db.pool.QueryRow(ctx, `SELECT blob_id, media_key, expired FROM wasim_media_sent WHERE message_id=$1`, id).
		Scan(&m.blobID, &m.mediaKey, &m.expired)
	if err != nil {
		return nil
	}
	if b.sent == nil {
		b.sent = map[string]*sentMedia{}
	}
	b.sent[id] = m
	return m
}

// persistSent writes the media of message id through to the database.
func (s *Server) persistSent(id string, m *sentMedia) {
	if s.db == nil {
		return
	}
	s.exec(`INSERT INTO wasim_media_sent (message_id, blob_id, media_key, expired) VALUES ($1, $2, $3, $4)
		ON CONFLICT (message_id) DO UPDATE SET blob_id=excluded.blob_id, media_key=excluded.media_key, expired=excluded.expired`,
		id, m.blobID, m.mediaKey, m.expired)
}

// moveMedia gives blob from the id to, in memory or in wasim_media.
func (s *Server) moveMedia(ctx context.Context, from, to string) error {
	if s.db != nil {
		tag, err := s.db.pool.Exec(ctx, `UPDATE wasim_media SET id=$2 WHERE id=$1`, from, to)
		if err == nil && tag.RowsAffected() == 0 {
			err = errMediaNotFound
		}
		return err
	}
	s.media.mu.Lock()
	defer s.media.mu.Unlock()
	blob := s.media.blobs[from]
	if blob == nil {
		return errMediaNotFound
	}
	delete(s.media.blobs, from)
	moved := *blob
	moved.ID = to
	s.media.blobs[to] = &moved
	return nil
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
	m := &sentMedia{blobID: blobID, mediaKey: d.GetMediaKey()}
	b.sent[id] = m
	s.persistSent(id, m)
}

// ExpireMedia makes the media of message id unavailable on the media
// server (downloads answer 404) until the phone uploads it again in answer
// to a media retry receipt. Expiring twice is no error.
func (s *Server) ExpireMedia(ctx context.Context, id string) error {
	b := &s.retry
	b.mu.Lock()
	defer b.mu.Unlock()
	m := s.sentLocked(ctx, id)
	if m == nil {
		return ErrNoMedia
	}
	if m.expired {
		return nil
	}
	if err := s.moveMedia(ctx, m.blobID, expiredBlobID(m.blobID)); err != nil {
		return fmt.Errorf("wasim: media of %s: %w", id, err)
	}
	m.expired = true
	s.persistSent(id, m)
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
	m := s.sentLocked(s.baseCtx, id)
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
	old := m.blobID
	if m.expired {
		old = expiredBlobID(m.blobID)
	}
	blob, err := s.getMedia(ctx, old)
	if err != nil {
		return "", err
	}
	newID, dp, _, err := s.storeUpload(ctx, blob.MMSType, blob.Uploader, blob.Data)
	if err != nil {
		return "", err
	}
	s.deleteMedia(ctx, old)
	m.blobID, m.expired = newID, false
	s.persistSent(id, m)
	return dp, nil
}

func (s *Server) enqueueNotification(dev *companion, id string, n waBinary.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueLocked(dev, queueKey("notification", "mediaretry", id), n)
}
