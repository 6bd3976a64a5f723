package whatsapp

import (
	"context"
	"net/url"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// mediaMessage is what the media messages of WhatsApp (image, video,
// audio, document, sticker) have in common.
type mediaMessage interface {
	GetURL() string
	GetDirectPath() string
	GetMediaKey() []byte
	GetFileSHA256() []byte
	GetFileEncSHA256() []byte
	GetFileLength() uint64
	GetMimetype() string
}

// mediaRefOf keeps what downloading the file of a media message needs;
// nil when the message names no file.
func mediaRefOf(typ gateway.MessageType, e mediaMessage) *gateway.MediaRef {
	dp := e.GetDirectPath()
	if dp == "" {
		// Old messages carry only the full URL; its path is the direct path.
		if u, err := url.Parse(e.GetURL()); err == nil && u.Path != "" {
			dp = u.RequestURI()
		}
	}
	if dp == "" || len(e.GetMediaKey()) == 0 {
		return nil
	}
	r := &gateway.MediaRef{
		Type: typ, DirectPath: dp, MediaKey: e.GetMediaKey(), FileSHA256: e.GetFileSHA256(),
		FileEncSHA256: e.GetFileEncSHA256(), FileLength: e.GetFileLength(), MimeType: e.GetMimetype(),
	}
	if d, ok := e.(interface{ GetFileName() string }); ok {
		r.FileName = d.GetFileName()
	}
	return r
}

// mediaTypes are whatsmeow's key-derivation types (and, through them, the
// media server's mms types) per message type; stickers use image keys.
var mediaTypes = map[gateway.MessageType]whatsmeow.MediaType{
	gateway.TypeImage:    whatsmeow.MediaImage,
	gateway.TypeSticker:  whatsmeow.MediaImage,
	gateway.TypeVideo:    whatsmeow.MediaVideo,
	gateway.TypeAudio:    whatsmeow.MediaAudio,
	gateway.TypeDocument: whatsmeow.MediaDocument,
}

// DownloadMedia implements gateway.MessagingRuntime: whatsmeow fetches the
// encrypted file from WhatsApp's media servers (through the session's
// media connection), checks its hashes and MAC, and decrypts it.
func (m *Manager) DownloadMedia(ctx context.Context, sid uuid.UUID, r gateway.MediaRef) ([]byte, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, err
	}
	mt, ok := mediaTypes[r.Type]
	if !ok || r.DirectPath == "" {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgNoMedia)
	}
	data, err := cli.DownloadMediaWithPath(ctx, r.DirectPath, r.FileEncSHA256, r.FileSHA256, r.MediaKey, mt, "", false)
	if err != nil {
		return nil, translateDownloadError(err)
	}
	return data, nil
}
