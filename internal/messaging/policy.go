package messaging

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// The send policy: a session created by a trial key messages only the
// key's allowed numbers, and nobody once the key has expired. The
// restrictions come from the session (its owner key), never from the
// caller, so they bind the session's own key, the trial key and admin keys
// alike.
//
// "Messaging a chat" is every operation that puts a WhatsApp message into
// it: sends of every kind, replies, reactions (the contact sees and is
// notified of them), edits, deletes for everyone and pins. Operations that
// only change the account's own state (star, archive, mark unread, delete
// chat, block) are not sends and are not restricted. A group is never an
// allowed number, and neither is a LID whose phone number is unknown.

var errNoPolicy = errors.New("messaging: Options.Recipients is not set")

// mayMessage applies the send policy to chat; every send and every
// message operation passes through it before anything is loaded or sent.
func (s *Service) mayMessage(ctx context.Context, sid uuid.UUID, chat gateway.ChatRef) error {
	if s.opts.Recipients == nil {
		// Fail closed: an unwired policy must not turn into "anyone".
		return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, errNoPolicy)
	}
	r, err := s.opts.Recipients.SendRestrictions(ctx, sid)
	if err != nil {
		return err
	}
	return allowed(r, chat, s.now)
}

// allowed decides the policy for restrictions r.
func allowed(r gateway.SendRestrictions, chat gateway.ChatRef, now func() time.Time) error {
	if !r.Restricted() {
		return nil
	}
	if r.ExpiresAt != nil && !r.ExpiresAt.After(now()) {
		return gateway.E(gateway.CodeForbidden, gateway.MsgTrialExpired)
	}
	if len(r.AllowedNumbers) == 0 {
		return nil
	}
	for _, jid := range chat.All() {
		j, ok := waid.FromJIDString(jid)
		if !ok || j.Phone() == "" {
			continue
		}
		for _, n := range r.AllowedNumbers {
			if a, err := waid.Parse("allowedNumbers", n); err == nil && a.Phone() == j.Phone() {
				return nil
			}
		}
	}
	return gateway.E(gateway.CodeForbidden, gateway.MsgRecipientNotAllowed)
}
