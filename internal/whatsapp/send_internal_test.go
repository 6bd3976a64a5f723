package whatsapp

import (
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// TestMediaMessages: every media kind the adapter builds a message for has
// an upload key type, and the image message carries the upload and the
// file's details.
func TestMediaMessages(t *testing.T) {
	t.Parallel()
	for k := range mediaMessages {
		if _, ok := mediaTypes[gateway.MessageType(k)]; !ok {
			t.Errorf("media kind %s has a message builder but no upload media type", k)
		}
	}
	up := whatsmeow.UploadResponse{URL: "https://mmg/x", DirectPath: "/v/x", MediaKey: []byte{1}, FileEncSHA256: []byte{2}, FileSHA256: []byte{3}, FileLength: 42}
	ci := &waE2E.ContextInfo{}
	msg := mediaMessages[gateway.MediaImage](gateway.OutgoingMedia{Kind: gateway.MediaImage, MimeType: "image/png", Caption: "c", Width: 3, Height: 2}, up, ci)
	img := msg.GetImageMessage()
	if img.GetDirectPath() != "/v/x" || img.GetFileLength() != 42 || img.GetMimetype() != "image/png" || img.GetCaption() != "c" ||
		img.GetWidth() != 3 || img.GetHeight() != 2 || img.GetContextInfo() != ci || string(img.GetMediaKey()) != "\x01" {
		t.Fatalf("image message %v", img)
	}
	if msg := mediaMessages[gateway.MediaImage](gateway.OutgoingMedia{Kind: gateway.MediaImage, MimeType: "image/jpeg"}, up, nil); msg.GetImageMessage().Caption != nil || msg.GetImageMessage().Width != nil {
		t.Fatalf("image without caption or size %v", msg.GetImageMessage())
	}
}
