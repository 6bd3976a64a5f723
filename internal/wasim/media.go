package wasim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // image sizes of contact-sent images
	_ "image/jpeg" // image sizes of contact-sent images
	_ "image/png"  // image sizes of contact-sent images
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mau.fi/util/random"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/cbcutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
)

// MediaHost is the host name the simulator announces in media_conn. It
// is not resolvable (.invalid), so a client whose media HTTP client does
// not go to the simulator fails instead of sending test media to the real
// WhatsApp; the simulator's transports (HTTPClient, ClientFor) dial the
// simulator whatever the host.
const MediaHost = "mmg.wasim.invalid"

const (
	// mediaMaxSize bounds one uploaded blob.
	mediaMaxSize = 64 << 20
	// mediaMACLength is the truncated HMAC-SHA256 after the ciphertext.
	mediaMACLength = 10
	// mediaAuthTTL is announced in media_conn (seconds).
	mediaAuthTTL = 3600
	// directPathPrefix is the first part of every direct_path the
	// simulator hands out (like WhatsApp's /v/t62.7118-24/...).
	directPathPrefix = "/v/t62.7118-24/"
)

// mmsTypes are the upload path types whatsmeow uses (mediaTypeToMMSType,
// plus "ptt" of Messenger and the newsletter variants).
var mmsTypes = map[string]whatsmeow.MediaType{
	"image":          whatsmeow.MediaImage,
	"video":          whatsmeow.MediaVideo,
	"audio":          whatsmeow.MediaAudio,
	"ptt":            whatsmeow.MediaAudio,
	"document":       whatsmeow.MediaDocument,
	"md-msg-hist":    whatsmeow.MediaHistory,
	"md-app-state":   whatsmeow.MediaAppState,
	"sticker-pack":   whatsmeow.MediaStickerPack,
	"thumbnail-link": whatsmeow.MediaLinkThumbnail,
}

// mediaBlob is one uploaded (encrypted) file as the media server keeps it.
type mediaBlob struct {
	ID        string
	MMSType   string
	EncSHA256 []byte
	Uploader  string
	Data      []byte
}

// mediaStore keeps blobs in memory (without Options.DB).
type mediaStore struct {
	mu    sync.Mutex
	blobs map[string]*mediaBlob
}

// mediaAuth is the auth token of media_conn for one device: the device
// JID and an HMAC over it with the server's media key, so it survives a
// restart of a Postgres-backed simulator (whose media key is persisted).
func (s *Server) mediaAuth(dev types.JID) string {
	j := dev.String()
	return base64.RawURLEncoding.EncodeToString([]byte(j)) + "." + s.mediaMAC("auth", j)
}

// checkMediaAuth returns the device a media_conn auth token was issued to.
func (s *Server) checkMediaAuth(auth string) (string, bool) {
	enc, mac, ok := strings.Cut(auth, ".")
	if !ok {
		return "", false
	}
	j, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(mac), []byte(s.mediaMAC("auth", string(j)))) {
		return "", false
	}
	return string(j), true
}

func (s *Server) mediaMAC(parts ...string) string {
	h := hmac.New(sha256.New, s.mediaKey)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// directPath builds the direct_path of a blob, signed like WhatsApp's
// (oh = signature over id and expiry, oe = expiry in hex).
func (s *Server) directPath(id string) string {
	oe := strconv.FormatInt(time.Now().Add(30*24*time.Hour).Unix(), 16)
	return directPathPrefix + id + ".enc?ccb=11-4&oh=01_" + s.mediaMAC("oh", id, oe) + "&oe=" + oe + "&_nc_sid=5e03e0"
}

// parseDirectPath checks a direct path (or media URL) the simulator
// issued and returns the blob id.
func (s *Server) parseDirectPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad direct path: %w", err)
	}
	if !strings.HasPrefix(u.Path, directPathPrefix) || !strings.HasSuffix(u.Path, ".enc") {
		return "", fmt.Errorf("not a simulator direct path: %q", u.Path)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(u.Path, directPathPrefix), ".enc")
	q := u.Query()
	oh, oe := strings.TrimPrefix(q.Get("oh"), "01_"), q.Get("oe")
	if oh == "" || oe == "" || !hmac.Equal([]byte(oh), []byte(s.mediaMAC("oh", id, oe))) {
		return "", errors.New("direct path without a valid oh signature")
	}
	return id, nil
}

func (s *Server) putMedia(ctx context.Context, b *mediaBlob) error {
	if s.db != nil {
		_, err := s.db.pool.Exec(ctx, `INSERT INTO wasim_media (id, mms_type, enc_sha256, uploader, data) VALUES ($1, $2, $3, $4, $5)`,
			b.ID, b.MMSType, b.EncSHA256, b.Uploader, b.Data)
		return err
	}
	s.media.mu.Lock()
	s.media.blobs[b.ID] = b
	s.media.mu.Unlock()
	return nil
}

// errMediaNotFound is returned by getMedia for an unknown blob.
var errMediaNotFound = errors.New("media not found")

func (s *Server) getMedia(ctx context.Context, id string) (*mediaBlob, error) {
	if s.db != nil {
		b := &mediaBlob{ID: id}
		err := s.db.pool.QueryRow(ctx, `SELECT mms_type, enc_sha256, uploader, data FROM wasim_media WHERE id=$1`, id).
			Scan(&b.MMSType, &b.EncSHA256, &b.Uploader, &b.Data)
		if err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, errMediaNotFound
			}
			return nil, err
		}
		return b, nil
	}
	s.media.mu.Lock()
	defer s.media.mu.Unlock()
	if b := s.media.blobs[id]; b != nil {
		return b, nil
	}
	return nil, errMediaNotFound
}

func (s *Server) deleteMedia(ctx context.Context, id string) {
	if s.db != nil {
		s.exec(`DELETE FROM wasim_media WHERE id=$1`, id)
		return
	}
	s.media.mu.Lock()
	delete(s.media.blobs, id)
	s.media.mu.Unlock()
}

// MediaCount returns how many blobs the media server holds (expired files,
// which it no longer serves, excepted).
func (s *Server) MediaCount() int {
	if s.db != nil {
		var n int
		ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
		defer cancel()
		_ = s.db.pool.QueryRow(ctx, `SELECT count(*) FROM wasim_media WHERE id NOT LIKE 'expired/%'`).Scan(&n)
		return n
	}
	s.media.mu.Lock()
	defer s.media.mu.Unlock()
	n := 0
	for id := range s.media.blobs {
		if !strings.HasPrefix(id, "expired/") {
			n++
		}
	}
	return n
}

// storeUpload keeps an uploaded blob and returns its direct path and URL.
func (s *Server) storeUpload(ctx context.Context, mmsType, uploader string, data []byte) (id, directPath, fullURL string, err error) {
	sum := sha256.Sum256(data)
	id = fmt.Sprintf("%d_%d_n", random.Bytes(1)[0]+1, time.Now().UnixNano())
	err = s.putMedia(ctx, &mediaBlob{ID: id, MMSType: mmsType, EncSHA256: sum[:], Uploader: uploader, Data: data})
	if err != nil {
		return "", "", "", err
	}
	directPath = s.directPath(id)
	return id, directPath, "https://" + MediaHost + directPath + "&mms3=true", nil
}

// serveHTTP routes the simulator's HTTP endpoint: websocket upgrades go to
// the chat socket, the rest to the media server.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.serveWS(w, r)
		return
	}
	switch {
	case r.Method == http.MethodPost && (strings.HasPrefix(r.URL.Path, "/mms/") || strings.HasPrefix(r.URL.Path, "/newsletter/")):
		s.serveUpload(w, r)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/v/"):
		s.serveDownload(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/mms/"):
		s.serveMediaDelete(w, r)
	default:
		s.log.Warn().Str("method", r.Method).Str("path", r.URL.Path).Msg("unknown http request")
		if s.opts.Strict {
			s.violation("unknown HTTP request %s %s", r.Method, r.URL.Path)
		}
		http.NotFound(w, r)
	}
}

// mediaFail answers a media request with an error and records a violation.
func (s *Server) mediaFail(w http.ResponseWriter, code int, format string, args ...any) {
	s.violation(format, args...)
	http.Error(w, http.StatusText(code), code)
}

// serveUpload handles whatsmeow's rawUpload: POST
// /mms/<type>/<token>?auth=<media_conn auth>&token=<token>, where token is
// base64url(sha256(body)) and body is AES-CBC ciphertext + 10-byte MAC.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	if len(parts) != 3 {
		s.mediaFail(w, http.StatusNotFound, "media upload to malformed path %s", r.URL.Path)
		return
	}
	prefix, mmsType, token := parts[0], parts[1], parts[2]
	uploader, ok := s.checkMediaAuth(q.Get("auth"))
	if !ok {
		s.mediaFail(w, http.StatusUnauthorized, "media upload %s without a valid media_conn auth token", r.URL.Path)
		return
	}
	newsletter := prefix == "newsletter"
	if newsletter {
		mmsType = strings.TrimPrefix(mmsType, "newsletter-")
	}
	if _, known := mmsTypes[mmsType]; !known {
		s.mediaFail(w, http.StatusBadRequest, "media upload of unknown type %q", mmsType)
		return
	}
	if q.Get("token") != token {
		s.mediaFail(w, http.StatusBadRequest, "media upload: token query %q differs from path token %q", q.Get("token"), token)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mediaMaxSize))
	if err != nil {
		s.mediaFail(w, http.StatusRequestEntityTooLarge, "media upload: %v", err)
		return
	}
	if r.ContentLength >= 0 && r.ContentLength != int64(len(data)) {
		s.mediaFail(w, http.StatusBadRequest, "media upload: Content-Length %d, body %d bytes", r.ContentLength, len(data))
		return
	}
	sum := sha256.Sum256(data)
	if base64.URLEncoding.EncodeToString(sum[:]) != token {
		s.mediaFail(w, http.StatusBadRequest, "media upload: token is not the SHA-256 of the uploaded data")
		return
	}
	// Encrypted media is AES-256-CBC (whole blocks) followed by a 10-byte MAC.
	if !newsletter && (len(data) <= mediaMACLength || (len(data)-mediaMACLength)%16 != 0) {
		s.mediaFail(w, http.StatusBadRequest, "media upload of %d bytes is not AES-CBC ciphertext plus a %d-byte MAC", len(data), mediaMACLength)
		return
	}
	id, dp, full, err := s.storeUpload(r.Context(), mmsType, uploader, data)
	if err != nil {
		s.log.Error().Err(err).Msg("media store failed")
		http.Error(w, "storage failed", http.StatusInternalServerError)
		return
	}
	s.countSent("http:upload")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"url": full, "direct_path": dp, "handle": s.mediaMAC("handle", id), "object_id": id,
	})
}

// serveDownload serves GET <direct_path>&hash=<enc sha>&mms-type=<type>.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	id, err := s.parseDirectPath(r.URL.String())
	if err != nil {
		s.mediaFail(w, http.StatusForbidden, "media download %s: %v", r.URL.Path, err)
		return
	}
	b, err := s.getMedia(r.Context(), id)
	if errors.Is(err, errMediaNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "storage failed", http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	if h := q.Get("hash"); h != "" && h != base64.URLEncoding.EncodeToString(b.EncSHA256) {
		s.mediaFail(w, http.StatusNotFound, "media download of %s with a hash that is not the file's", id)
		return
	}
	if mt := q.Get("mms-type"); s.opts.Strict && mt != "" && mt != b.MMSType && !(mt == "audio" && b.MMSType == "ptt") {
		s.violation("media %s uploaded as %q downloaded as %q", id, b.MMSType, mt)
	}
	s.countSent("http:download")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b.Data)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Data)
}

// serveMediaDelete handles DeleteMedia: DELETE /mms/<type>/<token>?d_md=<base64 direct path>&auth=...
func (s *Server) serveMediaDelete(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, ok := s.checkMediaAuth(q.Get("auth")); !ok {
		s.mediaFail(w, http.StatusUnauthorized, "media delete %s without a valid media_conn auth token", r.URL.Path)
		return
	}
	dp, err := base64.RawURLEncoding.DecodeString(q.Get("d_md"))
	if err != nil {
		s.mediaFail(w, http.StatusBadRequest, "media delete with malformed d_md")
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(string(dp), directPathPrefix), ".enc")
	s.deleteMedia(r.Context(), id)
	w.WriteHeader(http.StatusOK)
}

// mediaKeys expands a media key like whatsmeow's getMediaKeys.
func mediaKeys(mediaKey []byte, mt whatsmeow.MediaType) (iv, cipherKey, macKey []byte) {
	x := hkdfutil.SHA256(mediaKey, nil, []byte(mt), 112)
	return x[:16], x[16:48], x[48:80]
}

// encryptMedia encrypts like whatsmeow's Upload: AES-CBC + truncated HMAC.
func encryptMedia(plaintext []byte, mt whatsmeow.MediaType) (mediaKey, blob, fileSHA, encSHA []byte, err error) {
	mediaKey = random.Bytes(32)
	iv, cipherKey, macKey := mediaKeys(mediaKey, mt)
	ct, err := cbcutil.Encrypt(cipherKey, iv, plaintext)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(iv)
	h.Write(ct)
	blob = append(ct, h.Sum(nil)[:mediaMACLength]...)
	fs := sha256.Sum256(plaintext)
	es := sha256.Sum256(blob)
	return mediaKey, blob, fs[:], es[:], nil
}

// downloadable is the part of a media message a recipient needs.
type downloadable interface {
	whatsmeow.DownloadableMessage
	GetURL() string
	GetFileLength() uint64
	GetMimetype() string
}

// fetchAndDecrypt is what a recipient's phone does with a media message:
// fetch the blob by its direct path, check FileEncSHA256 and the MAC,
// decrypt with the media key and check FileSHA256 and FileLength.
func (s *Server) fetchAndDecrypt(ctx context.Context, m downloadable) ([]byte, error) {
	mt := whatsmeow.GetMediaType(m)
	if mt == "" {
		return nil, errors.New("unknown media type")
	}
	path := m.GetDirectPath()
	if path == "" {
		if u, err := url.Parse(m.GetURL()); err == nil && u.Path != "" {
			path = u.RequestURI()
		}
	}
	if path == "" {
		return nil, errors.New("no direct_path or url")
	}
	id, err := s.parseDirectPath(path)
	if err != nil {
		return nil, err
	}
	b, err := s.getMedia(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	if len(m.GetMediaKey()) != 32 {
		return nil, fmt.Errorf("media key has %d bytes, want 32", len(m.GetMediaKey()))
	}
	if !bytes.Equal(m.GetFileEncSHA256(), b.EncSHA256) {
		return nil, errors.New("FileEncSHA256 does not match the uploaded blob")
	}
	if len(b.Data) <= mediaMACLength {
		return nil, errors.New("blob too short")
	}
	ct, mac := b.Data[:len(b.Data)-mediaMACLength], b.Data[len(b.Data)-mediaMACLength:]
	iv, cipherKey, macKey := mediaKeys(m.GetMediaKey(), mt)
	h := hmac.New(sha256.New, macKey)
	h.Write(iv)
	h.Write(ct)
	if !hmac.Equal(h.Sum(nil)[:mediaMACLength], mac) {
		return nil, errors.New("media MAC mismatch (wrong media key or media type)")
	}
	// cbcutil.Decrypt works in place: never on the stored blob.
	pt, err := cbcutil.Decrypt(cipherKey, iv, bytes.Clone(ct))
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	if sum := sha256.Sum256(pt); !bytes.Equal(sum[:], m.GetFileSHA256()) {
		return nil, errors.New("FileSHA256 does not match the decrypted file")
	}
	if m.GetFileLength() != 0 && m.GetFileLength() != uint64(len(pt)) {
		return nil, fmt.Errorf("FileLength %d, decrypted %d bytes", m.GetFileLength(), len(pt))
	}
	return pt, nil
}

// mediaOf returns the downloadable part of a message, if any.
func mediaOf(msg *waE2E.Message) downloadable {
	msg = unwrapDocument(msg)
	switch {
	case msg.GetImageMessage() != nil:
		return msg.GetImageMessage()
	case msg.GetVideoMessage() != nil:
		return msg.GetVideoMessage()
	case msg.GetAudioMessage() != nil:
		return msg.GetAudioMessage()
	case msg.GetDocumentMessage() != nil:
		return msg.GetDocumentMessage()
	case msg.GetStickerMessage() != nil:
		return msg.GetStickerMessage()
	}
	return nil
}

// encMediaType is the <enc mediatype> whatsmeow sets for media messages.
func encMediaType(msg *waE2E.Message) string {
	msg = unwrapDocument(msg)
	switch {
	case msg.GetImageMessage() != nil:
		return "image"
	case msg.GetStickerMessage() != nil:
		return "sticker"
	case msg.GetDocumentMessage() != nil:
		return "document"
	case msg.GetAudioMessage() != nil:
		if msg.GetAudioMessage().GetPTT() {
			return "ptt"
		}
		return "audio"
	case msg.GetVideoMessage() != nil:
		if msg.GetVideoMessage().GetGifPlayback() {
			return "gif"
		}
		return "video"
	}
	return ""
}

// SendImage makes the contact send an image to an account (phone number
// or JID) as WhatsApp does: the contact encrypts it with a fresh media key,
// uploads the blob to the simulator's media server and sends an
// ImageMessage with direct_path, media key and hashes, which the
// companions can download with whatsmeow's Download.
func (c *Contact) SendImage(ctx context.Context, to string, data []byte, mime, caption string) (string, error) {
	img, err := c.UploadImage(ctx, data, mime)
	if err != nil {
		return "", err
	}
	if caption != "" {
		img.Caption = &caption
	}
	return c.SendMessage(ctx, to, &waE2E.Message{ImageMessage: img}, SendOptions{})
}

// UploadImage encrypts and uploads an image for the contact and returns
// the ImageMessage to send (without caption), for use with SendMessage.
func (c *Contact) UploadImage(ctx context.Context, data []byte, mime string) (*waE2E.ImageMessage, error) {
	if len(data) == 0 {
		return nil, errors.New("wasim: empty image")
	}
	mediaKey, blob, fileSHA, encSHA, err := encryptMedia(data, whatsmeow.MediaImage)
	if err != nil {
		return nil, err
	}
	_, dp, full, err := c.s.storeUpload(ctx, "image", c.acct.pnJID().String(), blob)
	if err != nil {
		return nil, fmt.Errorf("wasim: store image: %w", err)
	}
	length := uint64(len(data))
	ts := time.Now().Unix()
	img := &waE2E.ImageMessage{
		URL: &full, DirectPath: &dp, Mimetype: &mime, MediaKey: mediaKey,
		FileSHA256: fileSHA, FileEncSHA256: encSHA, FileLength: &length, MediaKeyTimestamp: &ts,
	}
	if w, h, ok := imageSize(data); ok {
		img.Width, img.Height = &w, &h
	}
	return img, nil
}

// imageSize reads the dimensions of a GIF, JPEG or PNG image.
func imageSize(data []byte) (w, h uint32, ok bool) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return uint32(cfg.Width), uint32(cfg.Height), true
}
