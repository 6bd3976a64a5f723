package waid

import (
	"context"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Chat identity. WhatsApp reaches one person by two JIDs: the phone-number
// JID (…@s.whatsapp.net) and the linked id (…@lid), and it may address a
// chat, a message's sender or a receipt by either. wagate names each chat
// and each user by one canonical JID, and this file is the one place that
// decides which:
//
//   - A user (a DM chat or a sender) is named by its phone-number JID
//     whenever the phone number is known: from the alternate address the
//     event itself carried (a LID-addressed message's SenderAlt or
//     RecipientAlt), else from the session's LID map. Its LID is then an
//     alias of the chat (gateway.ChatRef.Alts).
//   - Until the phone number is known, the LID itself is the canonical JID.
//     Once it is learned, the store folds the rows stored under the LID
//     into the phone-number chat (postgres/aliases.go, driven by
//     ChatRef.Alts) and lookups by either JID find the one chat.
//   - Groups, and JIDs wagate does not model, are their own canonical JID
//     with no alias.
//
// The WhatsApp adapter supplies what it knows (the JID, the event's
// alternate address, its LID map) and uses the result for every chat
// reference it hands to the domain; nothing else maps LIDs to phones.

// LIDMap is a session's map between LIDs and phone numbers (in the
// WhatsApp adapter: whatsmeow's LID store). A lookup that fails or finds
// nothing reports false.
type LIDMap interface {
	PhoneForLID(ctx context.Context, lid JID) (JID, bool)
	LIDForPhone(ctx context.Context, phone JID) (JID, bool)
}

// CanonicalChat returns the canonical chat of chat (device parts already
// dropped) with its aliases. alt is the other address of the same user the
// event carried, or the zero JID; lids may be nil.
func CanonicalChat(ctx context.Context, chat, alt JID, lids LIDMap) gateway.ChatRef {
	switch chat.Kind() {
	case KindLID:
		if alt.Kind() == KindUser {
			return gateway.ChatRef{JID: alt.String(), Alts: []string{chat.String()}}
		}
		if lids != nil {
			if pn, ok := lids.PhoneForLID(ctx, chat); ok && pn.Kind() == KindUser {
				return gateway.ChatRef{JID: pn.String(), Alts: []string{chat.String()}}
			}
		}
	case KindUser:
		if lids != nil {
			if lid, ok := lids.LIDForPhone(ctx, chat); ok && lid.Kind() == KindLID {
				return gateway.ChatRef{JID: chat.String(), Alts: []string{lid.String()}}
			}
		}
	}
	return gateway.ChatRef{JID: chat.String()}
}

// CanonicalUser returns the canonical JID of a user (a message's sender, a
// reactor): its phone-number JID when alt is one or the LID map knows it,
// else user itself. lids may be nil.
func CanonicalUser(ctx context.Context, user, alt JID, lids LIDMap) JID {
	if user.Kind() != KindLID {
		return user
	}
	if alt.Kind() == KindUser {
		return alt
	}
	if lids != nil {
		if pn, ok := lids.PhoneForLID(ctx, user); ok && pn.Kind() == KindUser {
			return pn
		}
	}
	return user
}

// MayBeAlias reports whether a stored chat JID may later turn out to be an
// alias of another chat (it is a LID whose phone number was not known when
// it was stored), so the store must check it again for a merge.
func MayBeAlias(jid string) bool {
	j, ok := FromJIDString(jid)
	return ok && j.Kind() == KindLID
}
