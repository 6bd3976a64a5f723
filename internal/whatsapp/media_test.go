package whatsapp

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"go.mau.fi/whatsmeow"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// TestTranslateDownloadError: WhatsApp answering 404 or 410 for a media
// file means it deleted the file (404 MsgMediaGone); other HTTP errors and
// network failures are WhatsApp being unavailable (503); a file that does
// not match its hashes is an internal error.
func TestTranslateDownloadError(t *testing.T) {
	for _, c := range []struct {
		err  error
		code gateway.Code
		msg  string
	}{
		{fmt.Errorf("wrapped: %w", whatsmeow.ErrMediaDownloadFailedWith404), gateway.CodeNotFound, gateway.MsgMediaGone},
		{whatsmeow.ErrMediaDownloadFailedWith410, gateway.CodeNotFound, gateway.MsgMediaGone},
		{whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: 404}}, gateway.CodeNotFound, gateway.MsgMediaGone},
		{whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: 500}}, gateway.CodeUnavailable, msgWhatsAppError},
		{fmt.Errorf("failed to download media from last host: %w", errors.New("dial tcp: connection refused")), gateway.CodeUnavailable, msgWhatsAppError},
		{whatsmeow.ErrInvalidMediaHMAC, gateway.CodeInternal, gateway.MsgInternal},
		{whatsmeow.ErrInvalidMediaSHA256, gateway.CodeInternal, gateway.MsgInternal},
	} {
		got := translateDownloadError(c.err)
		if gateway.ErrorCode(got) != c.code || gateway.ErrorMessage(got) != c.msg {
			t.Errorf("%v: got %v, want %s %q", c.err, got, c.code, c.msg)
		}
	}
}
