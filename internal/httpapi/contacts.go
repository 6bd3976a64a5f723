package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
)

// Contacts implements the contacts tag. Every operation answers 501 until
// the contact service is plugged in: replace this file with handlers that take
// their dependencies as internal/gateway interfaces.
type Contacts struct{}

// BlockContact answers 501 Not Implemented (planned).
func (*Contacts) BlockContact(context.Context, api.BlockContactRequestObject) (api.BlockContactResponseObject, error) {
	return nil, errNotImplemented
}

// UnblockContact answers 501 Not Implemented (planned).
func (*Contacts) UnblockContact(context.Context, api.UnblockContactRequestObject) (api.UnblockContactResponseObject, error) {
	return nil, errNotImplemented
}

// GetProfilePicture answers 501 Not Implemented (planned).
func (*Contacts) GetProfilePicture(context.Context, api.GetProfilePictureRequestObject) (api.GetProfilePictureResponseObject, error) {
	return nil, errNotImplemented
}
