package whatsapp

import (
	"context"
	"errors"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Client-facing texts of translated whatsmeow errors that the product
// documentation does not fix.
const (
	msgWhatsAppNotFound   = "Not found on WhatsApp"
	msgWhatsAppForbidden  = "WhatsApp refused the operation"
	msgWhatsAppBadRequest = "WhatsApp rejected the request as invalid"
	msgInvalidPhone       = "Invalid phone number: use the international format with country code, digits only"
	msgInvalidImage       = "The given data is not a valid image"
	msgTimedOut           = "WhatsApp did not answer in time. Please try again."
	msgWhatsAppError      = "WhatsApp is temporarily unavailable. Please try again."
	msgAlreadyLinked      = "Session is already linked"
	// msgNotOnWhatsApp is returned when WhatsApp knows no account for a
	// number.
	msgNotOnWhatsApp = "The number is not on WhatsApp"
	// msgAppStateNotReady is returned while the phone has not shared the
	// app state keys yet.
	msgAppStateNotReady = "WhatsApp is still syncing this session's chat state. Please try again shortly."
)

// Texts of whatsmeow errors that have no sentinel value and are matched by
// their text (TestErrorTextsInWhatsmeow checks each against whatsmeow's
// source). Keep every string match of a whatsmeow error here.
const (
	// whatsmeow send.go and user.go: fmt.Errorf("no LID found for %s from server", …).
	errTextNoLID = "no LID found"
	// whatsmeow appstate.go: fmt.Errorf("no app state keys found, creating app state keys is not yet supported").
	errTextNoAppStateKeys = "no app state keys found"
)

// rateLimitRetryAfter is the Retry-After (seconds) given for WhatsApp's 429.
const rateLimitRetryAfter = 60

// TranslateError turns an error returned by whatsmeow into a *gateway.Error
// with the product's exact texts. It is the only place where whatsmeow
// errors are interpreted; nil stays nil and a *gateway.Error passes through.
// Anything unknown becomes CodeInternal (its text never reaches clients).
func TranslateError(err error) error {
	if err == nil {
		return nil
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return err
	}
	wrap := func(code gateway.Code, msg string) error { return gateway.Wrap(code, msg, err) }

	switch {
	// Not linked: the device has no JID (never paired, or logged out).
	case errors.Is(err, whatsmeow.ErrNotLoggedIn), errors.Is(err, store.ErrDeviceDeleted):
		return wrap(gateway.CodeConflict, gateway.MsgNotAuthenticated)
	// Linked, but the socket is not up (yet).
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrAlreadyConnected),
		errors.Is(err, whatsmeow.ErrIQDisconnected), isDisconnectedError(err),
		errors.Is(err, whatsmeow.ErrQRAlreadyConnected):
		return gateway.ErrStillConnecting(err)
	case errors.Is(err, whatsmeow.ErrQRStoreContainsID):
		return wrap(gateway.CodeConflict, msgAlreadyLinked)
	case errors.Is(err, whatsmeow.ErrPhoneNumberTooShort), errors.Is(err, whatsmeow.ErrPhoneNumberIsNotInternational):
		return wrap(gateway.CodeInvalid, msgInvalidPhone)
	case errors.Is(err, whatsmeow.ErrInvalidImageFormat):
		return wrap(gateway.CodeInvalid, msgInvalidImage)
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return wrap(gateway.CodeNotFound, gateway.MsgGroupNotFound)
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return wrap(gateway.CodeForbidden, gateway.MsgNotGroupMember)
	case errors.Is(err, whatsmeow.ErrInviteLinkInvalid), errors.Is(err, whatsmeow.ErrInviteLinkRevoked):
		return wrap(gateway.CodeInvalid, gateway.MsgInvalidInviteLink)
	case errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized):
		return wrap(gateway.CodeForbidden, gateway.MsgNotGroupAdmin)
	case errors.Is(err, whatsmeow.ErrProfilePictureNotSet),
		errors.Is(err, whatsmeow.ErrBusinessMessageLinkNotFound), errors.Is(err, whatsmeow.ErrContactQRLinkNotFound):
		return wrap(gateway.CodeNotFound, msgWhatsAppNotFound)
	case errors.Is(err, whatsmeow.ErrProfilePictureUnauthorized):
		return wrap(gateway.CodeForbidden, msgWhatsAppForbidden)
	case errors.Is(err, whatsmeow.ErrIQTimedOut), errors.Is(err, whatsmeow.ErrMessageTimedOut),
		errors.Is(err, context.DeadlineExceeded):
		return wrap(gateway.CodeUnavailable, msgTimedOut)
	}

	// Server answers to info queries, matched by status code (IQError.Is
	// also compares the text, which WhatsApp does not always send).
	var iq *whatsmeow.IQError
	if errors.As(err, &iq) {
		switch iq.Code {
		case 400, 406:
			return wrap(gateway.CodeInvalid, msgWhatsAppBadRequest)
		case 401:
			return wrap(gateway.CodeConflict, gateway.MsgNotAuthenticated)
		case 403, 405:
			return wrap(gateway.CodeForbidden, msgWhatsAppForbidden)
		case 404, 410:
			return wrap(gateway.CodeNotFound, msgWhatsAppNotFound)
		case 429, 419:
			return &gateway.Error{Code: gateway.CodeRateLimited, Message: gateway.MsgRateLimited(rateLimitRetryAfter),
				RetryAfter: rateLimitRetryAfter, Err: err}
		case 500, 503, 530:
			return wrap(gateway.CodeUnavailable, msgWhatsAppError)
		}
	}
	return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
}

// translateSendError maps send failures; a recipient WhatsApp does not know
// (no LID for the number) is the caller's mistake, not ours.
func translateSendError(err error) error {
	if err != nil && strings.Contains(err.Error(), errTextNoLID) {
		return gateway.Wrap(gateway.CodeNotFound, msgNotOnWhatsApp, err)
	}
	return TranslateError(err)
}

// translateUploadError maps media upload failures. whatsmeow reports a
// failed upload (media server unreachable or answering an HTTP error) as a
// plain error: that is WhatsApp being unavailable, not an internal error,
// and worth a retry.
func translateUploadError(err error) error {
	if err = TranslateError(err); gateway.ErrorCode(err) == gateway.CodeInternal {
		err = gateway.Wrap(gateway.CodeUnavailable, msgWhatsAppError, err)
	}
	return err
}

// translateDownloadError maps media download failures: WhatsApp answering
// 404 or 410 means it deleted the file (media expires on its servers); a
// failure to reach the media servers is worth a retry.
func translateDownloadError(err error) error {
	if err == nil {
		return nil
	}
	var httpErr whatsmeow.DownloadHTTPError
	switch {
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403): // 403: an expired direct path's signature
		return gateway.Wrap(gateway.CodeNotFound, gateway.MsgMediaGone, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return gateway.Wrap(gateway.CodeUnavailable, msgWhatsAppError, err)
	case errors.As(err, &httpErr):
		return gateway.Wrap(gateway.CodeUnavailable, msgWhatsAppError, err)
	case errors.Is(err, whatsmeow.ErrInvalidMediaHMAC), errors.Is(err, whatsmeow.ErrInvalidMediaEncSHA256),
		errors.Is(err, whatsmeow.ErrInvalidMediaSHA256), errors.Is(err, whatsmeow.ErrTooShortFile):
		return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err) // corrupt file or wrong keys
	}
	// Network failures reaching the media servers.
	return translateUploadError(err)
}

// translateAppStateError maps failures to send an app-state patch: before
// the phone shared its app state keys, that is a wait, not a failure.
func translateAppStateError(err error) error {
	if err != nil && strings.Contains(err.Error(), errTextNoAppStateKeys) {
		return gateway.Wrap(gateway.CodeUnavailable, msgAppStateNotReady, err)
	}
	return TranslateError(err)
}

// noProfilePicture reports whether a profile picture query failed because
// the contact has none or hides it (an answer, not an error).
func noProfilePicture(err error) bool {
	return errors.Is(err, whatsmeow.ErrProfilePictureNotSet) || errors.Is(err, whatsmeow.ErrProfilePictureUnauthorized)
}

// TranslateGroupError is TranslateError for the answers to group info
// queries (w:g2), where WhatsApp's status codes mean something about the
// group: 401 the account is not an admin, 403 not a member, 404 no such
// group, 409 the group changed meanwhile (a stale description id), and on
// a join (join true: JoinGroupWithLink) 404, 406 and 410 an invalid or
// revoked invite link. Everything else is TranslateError's.
func TranslateGroupError(err error, join bool) error {
	if err == nil {
		return nil
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return err
	}
	var iq *whatsmeow.IQError
	if !errors.As(err, &iq) {
		return TranslateError(err)
	}
	wrap := func(code gateway.Code, msg string) error { return gateway.Wrap(code, msg, err) }
	switch {
	case errors.Is(err, whatsmeow.ErrInviteLinkInvalid), errors.Is(err, whatsmeow.ErrInviteLinkRevoked):
		return wrap(gateway.CodeInvalid, gateway.MsgInvalidInviteLink)
	case join && (iq.Code == 406 || iq.Code == 410 || iq.Code == 404):
		return wrap(gateway.CodeInvalid, gateway.MsgInvalidInviteLink)
	case iq.Code == 401:
		return wrap(gateway.CodeForbidden, gateway.MsgNotGroupAdmin)
	case iq.Code == 403:
		return wrap(gateway.CodeForbidden, gateway.MsgNotGroupMember)
	case iq.Code == 404:
		return wrap(gateway.CodeNotFound, gateway.MsgGroupNotFound)
	case iq.Code == 409:
		return wrap(gateway.CodeConflict, gateway.MsgGroupChanged)
	}
	return TranslateError(err)
}

// participantOutcomeError is the reason for WhatsApp's per-participant
// code of a group change (0 is success: nil).
func participantOutcomeError(code int, action string) error {
	switch {
	case code == 0:
		return nil
	case code == 404 && action == gateway.ParticipantAdd:
		return gateway.E(gateway.CodeNotFound, gateway.MsgParticipantNotOnWA)
	case code == 404:
		return gateway.E(gateway.CodeNotFound, gateway.MsgNotParticipant)
	case code == 409:
		return gateway.E(gateway.CodeConflict, gateway.MsgAlreadyParticipant)
	case code == 403 && action != gateway.ParticipantAdd:
		return gateway.E(gateway.CodeForbidden, gateway.MsgCreatorUnchangeable)
	}
	return gateway.Errorf(gateway.CodeForbidden, "%s (code %d)", gateway.MsgParticipantRefused, code)
}

func isDisconnectedError(err error) bool {
	var de *whatsmeow.DisconnectedError
	return errors.As(err, &de)
}

// deviceDeleted reports whether a connect failed because the device's keys
// are gone (deleted locally): the session is logged out.
func deviceDeleted(err error) bool { return errors.Is(err, store.ErrDeviceDeleted) }
