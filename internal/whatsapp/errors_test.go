package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"

	"github.com/wagate-dev/wagate/internal/gateway"
)

func TestTranslateError(t *testing.T) {
	t.Parallel()
	already := gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	cases := []struct {
		name string
		in   error
		code gateway.Code
		msg  string
	}{
		{"nil", nil, "", ""},
		{"gateway error passes", already, gateway.CodeNotFound, gateway.MsgSessionNotFound},
		{"not logged in", whatsmeow.ErrNotLoggedIn, gateway.CodeConflict, gateway.MsgNotAuthenticated},
		{"wrapped not logged in", fmt.Errorf("send: %w", whatsmeow.ErrNotLoggedIn), gateway.CodeConflict, gateway.MsgNotAuthenticated},
		{"device deleted", store.ErrDeviceDeleted, gateway.CodeConflict, gateway.MsgNotAuthenticated},
		{"not connected", whatsmeow.ErrNotConnected, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"disconnected during iq", whatsmeow.ErrIQDisconnected, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"disconnected during send", &whatsmeow.DisconnectedError{Action: "message send"}, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"already linked", whatsmeow.ErrQRStoreContainsID, gateway.CodeConflict, msgAlreadyLinked},
		{"rate limit", whatsmeow.ErrIQRateOverLimit, gateway.CodeRateLimited, gateway.MsgRateLimited(60)},
		{"rate limit without text", &whatsmeow.IQError{Code: 429}, gateway.CodeRateLimited, gateway.MsgRateLimited(60)},
		{"iq not found", whatsmeow.ErrIQNotFound, gateway.CodeNotFound, msgWhatsAppNotFound},
		{"group not found", whatsmeow.ErrGroupNotFound, gateway.CodeNotFound, gateway.MsgGroupNotFound},
		{"forbidden", whatsmeow.ErrIQForbidden, gateway.CodeForbidden, msgWhatsAppForbidden},
		{"not in group", whatsmeow.ErrNotInGroup, gateway.CodeForbidden, gateway.MsgNotGroupMember},
		{"iq not authorized", whatsmeow.ErrIQNotAuthorized, gateway.CodeConflict, gateway.MsgNotAuthenticated},
		{"bad request", whatsmeow.ErrIQBadRequest, gateway.CodeInvalid, msgWhatsAppBadRequest},
		{"phone too short", whatsmeow.ErrPhoneNumberTooShort, gateway.CodeInvalid, msgInvalidPhone},
		{"phone not international", whatsmeow.ErrPhoneNumberIsNotInternational, gateway.CodeInvalid, msgInvalidPhone},
		{"invalid image", whatsmeow.ErrInvalidImageFormat, gateway.CodeInvalid, msgInvalidImage},
		{"iq timeout", whatsmeow.ErrIQTimedOut, gateway.CodeUnavailable, msgTimedOut},
		{"deadline", context.DeadlineExceeded, gateway.CodeUnavailable, msgTimedOut},
		{"server unavailable", whatsmeow.ErrIQServiceUnavailable, gateway.CodeUnavailable, msgWhatsAppError},
		{"invite link invalid", whatsmeow.ErrInviteLinkInvalid, gateway.CodeInvalid, gateway.MsgInvalidInviteLink},
		{"invite link revoked", whatsmeow.ErrInviteLinkRevoked, gateway.CodeInvalid, gateway.MsgInvalidInviteLink},
		{"invite link unauthorized", whatsmeow.ErrGroupInviteLinkUnauthorized, gateway.CodeForbidden, gateway.MsgNotGroupAdmin},
		{"unknown", errors.New("boom"), gateway.CodeInternal, gateway.MsgInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := TranslateError(tc.in)
			if tc.in == nil {
				if got != nil {
					t.Fatalf("TranslateError(nil) = %v", got)
				}
				return
			}
			if c := gateway.ErrorCode(got); c != tc.code {
				t.Fatalf("code %q, want %q (%v)", c, tc.code, got)
			}
			var ge *gateway.Error
			if !errors.As(got, &ge) || ge.Message != tc.msg {
				t.Fatalf("message %q, want %q", ge.Message, tc.msg)
			}
			// A client that is not connected (yet) is retried: the 503
			// says when (Retry-After), as in a cluster while the node
			// that adopted the session connects it.
			if tc.msg == gateway.MsgStillConnecting && ge.RetryAfter != gateway.StillConnectingRetryAfter {
				t.Fatalf("Retry-After %d of %q, want %d", ge.RetryAfter, ge.Message, gateway.StillConnectingRetryAfter)
			}
			if tc.code != gateway.CodeInternal && got != error(already) && !errors.Is(got, tc.in) {
				t.Fatalf("cause %v not kept", tc.in)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range []int64{1, 2, 4, 8, 10, 10} {
		for range 50 {
			d := backoff(1e9, 10e9, n)
			if d < time.Duration(want*1e9/2) || d > time.Duration(want*1e9) {
				t.Fatalf("attempt %d: %v outside [%ds/2, %ds]", n, d, want, want)
			}
		}
	}
}

// TestErrorClassifiers covers every classifier of errors.go that is not
// TranslateError, with errors shaped as whatsmeow returns them (the string
// matches with the exact texts whatsmeow formats).
func TestErrorClassifiers(t *testing.T) {
	t.Parallel()
	jid := "15550001111@s.whatsapp.net"
	cases := []struct {
		name string
		fn   func(error) error
		in   error
		code gateway.Code
		msg  string
	}{
		{"send: no LID (send.go)", translateSendError, fmt.Errorf("no LID found for %s from server", jid), gateway.CodeNotFound, msgNotOnWhatsApp},
		{"send: no LID wrapped (user.go)", translateSendError, fmt.Errorf("failed to get device list: %w", fmt.Errorf("no LID found for %s from server", jid)), gateway.CodeNotFound, msgNotOnWhatsApp},
		{"send: other", translateSendError, whatsmeow.ErrNotConnected, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"send: unknown", translateSendError, errors.New("boom"), gateway.CodeInternal, gateway.MsgInternal},
		{"upload: plain failure", translateUploadError, errors.New("failed to upload media: 502"), gateway.CodeUnavailable, msgWhatsAppError},
		{"upload: not connected", translateUploadError, whatsmeow.ErrNotConnected, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"upload: not logged in", translateUploadError, whatsmeow.ErrNotLoggedIn, gateway.CodeConflict, gateway.MsgNotAuthenticated},
		{"download: 404", translateDownloadError, whatsmeow.ErrMediaDownloadFailedWith404, gateway.CodeNotFound, gateway.MsgMediaGone},
		{"download: 410", translateDownloadError, fmt.Errorf("x: %w", whatsmeow.ErrMediaDownloadFailedWith410), gateway.CodeNotFound, gateway.MsgMediaGone},
		{"download: http 500", translateDownloadError, whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: 500}}, gateway.CodeUnavailable, msgWhatsAppError},
		{"download: canceled", translateDownloadError, context.Canceled, gateway.CodeUnavailable, msgWhatsAppError},
		{"download: bad hmac", translateDownloadError, whatsmeow.ErrInvalidMediaHMAC, gateway.CodeInternal, gateway.MsgInternal},
		{"download: short file", translateDownloadError, whatsmeow.ErrTooShortFile, gateway.CodeInternal, gateway.MsgInternal},
		{"download: network", translateDownloadError, errors.New("dial tcp: connection refused"), gateway.CodeUnavailable, msgWhatsAppError},
		{"app state: no keys (appstate.go)", translateAppStateError, fmt.Errorf("no app state keys found, creating app state keys is not yet supported"), gateway.CodeUnavailable, msgAppStateNotReady},
		{"app state: other", translateAppStateError, whatsmeow.ErrNotLoggedIn, gateway.CodeConflict, gateway.MsgNotAuthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.fn(tc.in)
			if c := gateway.ErrorCode(got); c != tc.code {
				t.Fatalf("code %q, want %q (%v)", c, tc.code, got)
			}
			var ge *gateway.Error
			if !errors.As(got, &ge) || ge.Message != tc.msg {
				t.Fatalf("message %v, want %q", got, tc.msg)
			}
			if !errors.Is(got, tc.in) {
				t.Fatalf("cause %v not kept", tc.in)
			}
		})
	}
	for _, fn := range []func(error) error{translateSendError, translateUploadError, translateDownloadError, translateAppStateError} {
		if fn(nil) != nil {
			t.Fatal("a classifier turned nil into an error")
		}
	}
	if !noProfilePicture(whatsmeow.ErrProfilePictureNotSet) || !noProfilePicture(whatsmeow.ErrProfilePictureUnauthorized) || noProfilePicture(whatsmeow.ErrNotConnected) {
		t.Fatal("noProfilePicture")
	}
	if !deviceDeleted(fmt.Errorf("connect: %w", store.ErrDeviceDeleted)) || deviceDeleted(whatsmeow.ErrNotConnected) {
		t.Fatal("deviceDeleted")
	}
}

// TestErrorTextsInWhatsmeow checks that every error text errors.go matches
// is still formatted by the whatsmeow version in go.mod, so an upgrade that
// rewords one fails here instead of silently turning a 404 into a 500.
func TestErrorTextsInWhatsmeow(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.mau.fi/whatsmeow").Output()
	if err != nil {
		t.Skipf("go list: %v", err) // no go tool (e.g. a test binary run elsewhere)
	}
	dir := strings.TrimSpace(string(out))
	for text, files := range map[string][]string{
		errTextNoLID:          {"send.go", "user.go"},
		errTextNoAppStateKeys: {"appstate.go"},
	} {
		for _, f := range files {
			src, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), `fmt.Errorf("`+text) {
				t.Errorf("whatsmeow %s no longer formats %q", f, text)
			}
		}
	}
}

func TestTranslateGroupError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   error
		join bool
		code gateway.Code
		msg  string
	}{
		{"not admin", whatsmeow.ErrIQNotAuthorized, false, gateway.CodeForbidden, gateway.MsgNotGroupAdmin},
		{"not admin without text", &whatsmeow.IQError{Code: 401}, false, gateway.CodeForbidden, gateway.MsgNotGroupAdmin},
		{"not member", whatsmeow.ErrIQForbidden, false, gateway.CodeForbidden, gateway.MsgNotGroupMember},
		{"wrapped not member", fmt.Errorf("%w: %w", whatsmeow.ErrNotInGroup, whatsmeow.ErrIQForbidden), false, gateway.CodeForbidden, gateway.MsgNotGroupMember},
		{"no group", whatsmeow.ErrIQNotFound, false, gateway.CodeNotFound, gateway.MsgGroupNotFound},
		{"join invalid", fmt.Errorf("%w: %w", whatsmeow.ErrInviteLinkInvalid, whatsmeow.ErrIQNotAcceptable), true, gateway.CodeInvalid, gateway.MsgInvalidInviteLink},
		{"join revoked", fmt.Errorf("%w: %w", whatsmeow.ErrInviteLinkRevoked, whatsmeow.ErrIQGone), true, gateway.CodeInvalid, gateway.MsgInvalidInviteLink},
		{"join unknown code", whatsmeow.ErrIQNotFound, true, gateway.CodeInvalid, gateway.MsgInvalidInviteLink},
		{"subject too long", whatsmeow.ErrIQNotAcceptable, false, gateway.CodeInvalid, msgWhatsAppBadRequest},
		{"stale description", &whatsmeow.IQError{Code: 409}, false, gateway.CodeConflict, gateway.MsgGroupChanged},
		{"rate limit", whatsmeow.ErrIQRateOverLimit, false, gateway.CodeRateLimited, gateway.MsgRateLimited(60)},
		{"not connected", whatsmeow.ErrNotConnected, false, gateway.CodeUnavailable, gateway.MsgStillConnecting},
		{"not logged in", whatsmeow.ErrNotLoggedIn, false, gateway.CodeConflict, gateway.MsgNotAuthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := TranslateGroupError(tc.in, tc.join)
			if c, m := gateway.ErrorCode(got), gateway.ErrorMessage(got); c != tc.code || m != tc.msg {
				t.Fatalf("TranslateGroupError(%v) = %s %q, want %s %q", tc.in, c, m, tc.code, tc.msg)
			}
		})
	}
	if TranslateGroupError(nil, false) != nil {
		t.Fatal("nil must stay nil")
	}
}

func TestParticipantOutcomeError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   int
		action string
		msg    string
	}{
		{0, gateway.ParticipantAdd, ""},
		{404, gateway.ParticipantAdd, gateway.MsgParticipantNotOnWA},
		{404, gateway.ParticipantRemove, gateway.MsgNotParticipant},
		{409, gateway.ParticipantAdd, gateway.MsgAlreadyParticipant},
		{403, gateway.ParticipantDemote, gateway.MsgCreatorUnchangeable},
		{403, gateway.ParticipantAdd, gateway.MsgParticipantRefused + " (code 403)"},
		{408, gateway.ParticipantAdd, gateway.MsgParticipantRefused + " (code 408)"},
	} {
		err := participantOutcomeError(tc.code, tc.action)
		if got := ""; err != nil {
			got = gateway.ErrorMessage(err)
			if got != tc.msg {
				t.Errorf("code %d %s: %q, want %q", tc.code, tc.action, got, tc.msg)
			}
		} else if tc.msg != "" {
			t.Errorf("code %d %s: nil, want %q", tc.code, tc.action, tc.msg)
		}
	}
}
