package whatsapp

import (
	"context"
	"errors"

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
	msgGroupNotFound      = "Group not found"
	msgNotInGroup         = "You are not a participant of this group"
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
		return wrap(gateway.CodeUnavailable, gateway.MsgStillConnecting)
	case errors.Is(err, whatsmeow.ErrQRStoreContainsID):
		return wrap(gateway.CodeConflict, msgAlreadyLinked)
	case errors.Is(err, whatsmeow.ErrPhoneNumberTooShort), errors.Is(err, whatsmeow.ErrPhoneNumberIsNotInternational):
		return wrap(gateway.CodeInvalid, msgInvalidPhone)
	case errors.Is(err, whatsmeow.ErrInvalidImageFormat):
		return wrap(gateway.CodeInvalid, msgInvalidImage)
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return wrap(gateway.CodeNotFound, msgGroupNotFound)
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return wrap(gateway.CodeForbidden, msgNotInGroup)
	case errors.Is(err, whatsmeow.ErrProfilePictureNotSet),
		errors.Is(err, whatsmeow.ErrInviteLinkInvalid), errors.Is(err, whatsmeow.ErrInviteLinkRevoked),
		errors.Is(err, whatsmeow.ErrBusinessMessageLinkNotFound), errors.Is(err, whatsmeow.ErrContactQRLinkNotFound):
		return wrap(gateway.CodeNotFound, msgWhatsAppNotFound)
	case errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized),
		errors.Is(err, whatsmeow.ErrProfilePictureUnauthorized):
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

func isDisconnectedError(err error) bool {
	var de *whatsmeow.DisconnectedError
	return errors.As(err, &de)
}
