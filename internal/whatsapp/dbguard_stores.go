// The store wrappers of dbguard.go: one method per method of whatsmeow's
// store interfaces (store/store.go, checked at compile time in dbguard.go),
// each forwarding to the wrapped store and handing its error to the guard.

package whatsapp

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

func (s *guardedStore) PutIdentity(ctx context.Context, address string, key [32]byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutIdentity(ctx, address, key)
	err = s.g.check(err, "PutIdentity")
	return
}

func (s *guardedStore) DeleteAllIdentities(ctx context.Context, phone string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteAllIdentities(ctx, phone)
	err = s.g.check(err, "DeleteAllIdentities")
	return
}

func (s *guardedStore) DeleteIdentity(ctx context.Context, address string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteIdentity(ctx, address)
	err = s.g.check(err, "DeleteIdentity")
	return
}

func (s *guardedStore) IsTrustedIdentity(ctx context.Context, address string, key [32]byte) (r0 bool, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.IsTrustedIdentity(ctx, address, key)
	err = s.g.check(err, "IsTrustedIdentity")
	return
}

func (s *guardedStore) GetSession(ctx context.Context, address string) (r0 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetSession(ctx, address)
	err = s.g.check(err, "GetSession")
	return
}

func (s *guardedStore) HasSession(ctx context.Context, address string) (r0 bool, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.HasSession(ctx, address)
	err = s.g.check(err, "HasSession")
	return
}

func (s *guardedStore) GetManySessions(ctx context.Context, addresses []string) (r0 map[string][]byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetManySessions(ctx, addresses)
	err = s.g.check(err, "GetManySessions")
	return
}

func (s *guardedStore) PutSession(ctx context.Context, address string, session []byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutSession(ctx, address, session)
	err = s.g.check(err, "PutSession")
	return
}

func (s *guardedStore) PutManySessions(ctx context.Context, sessions map[string][]byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutManySessions(ctx, sessions)
	err = s.g.check(err, "PutManySessions")
	return
}

func (s *guardedStore) DeleteAllSessions(ctx context.Context, phone string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteAllSessions(ctx, phone)
	err = s.g.check(err, "DeleteAllSessions")
	return
}

func (s *guardedStore) DeleteSession(ctx context.Context, address string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteSession(ctx, address)
	err = s.g.check(err, "DeleteSession")
	return
}

func (s *guardedStore) MigratePNToLID(ctx context.Context, pn, lid types.JID) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.MigratePNToLID(ctx, pn, lid)
	err = s.g.check(err, "MigratePNToLID")
	return
}

func (s *guardedStore) GetOrGenPreKeys(ctx context.Context, count uint32) (r0 []*keys.PreKey, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetOrGenPreKeys(ctx, count)
	err = s.g.check(err, "GetOrGenPreKeys")
	return
}

func (s *guardedStore) GenOnePreKey(ctx context.Context) (r0 *keys.PreKey, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GenOnePreKey(ctx)
	err = s.g.check(err, "GenOnePreKey")
	return
}

func (s *guardedStore) GetPreKey(ctx context.Context, id uint32) (r0 *keys.PreKey, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetPreKey(ctx, id)
	err = s.g.check(err, "GetPreKey")
	return
}

func (s *guardedStore) RemovePreKey(ctx context.Context, id uint32) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.RemovePreKey(ctx, id)
	err = s.g.check(err, "RemovePreKey")
	return
}

func (s *guardedStore) MarkPreKeysAsUploaded(ctx context.Context, upToID uint32) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.MarkPreKeysAsUploaded(ctx, upToID)
	err = s.g.check(err, "MarkPreKeysAsUploaded")
	return
}

func (s *guardedStore) UploadedPreKeyCount(ctx context.Context) (r0 int, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.UploadedPreKeyCount(ctx)
	err = s.g.check(err, "UploadedPreKeyCount")
	return
}

func (s *guardedStore) PutSenderKey(ctx context.Context, group, user string, session []byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutSenderKey(ctx, group, user, session)
	err = s.g.check(err, "PutSenderKey")
	return
}

func (s *guardedStore) GetSenderKey(ctx context.Context, group, user string) (r0 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetSenderKey(ctx, group, user)
	err = s.g.check(err, "GetSenderKey")
	return
}

func (s *guardedStore) PutAppStateSyncKey(ctx context.Context, id []byte, key store.AppStateSyncKey) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutAppStateSyncKey(ctx, id, key)
	err = s.g.check(err, "PutAppStateSyncKey")
	return
}

func (s *guardedStore) GetAppStateSyncKey(ctx context.Context, id []byte) (r0 *store.AppStateSyncKey, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetAppStateSyncKey(ctx, id)
	err = s.g.check(err, "GetAppStateSyncKey")
	return
}

func (s *guardedStore) GetLatestAppStateSyncKeyID(ctx context.Context) (r0 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetLatestAppStateSyncKeyID(ctx)
	err = s.g.check(err, "GetLatestAppStateSyncKeyID")
	return
}

func (s *guardedStore) GetAllAppStateSyncKeys(ctx context.Context) (r0 []*store.AppStateSyncKey, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetAllAppStateSyncKeys(ctx)
	err = s.g.check(err, "GetAllAppStateSyncKeys")
	return
}

func (s *guardedStore) PutAppStateVersion(ctx context.Context, name string, version uint64, hash [128]byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutAppStateVersion(ctx, name, version, hash)
	err = s.g.check(err, "PutAppStateVersion")
	return
}

func (s *guardedStore) GetAppStateVersion(ctx context.Context, name string) (r0 uint64, r1 [128]byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, r1, err = in.GetAppStateVersion(ctx, name)
	err = s.g.check(err, "GetAppStateVersion")
	return
}

func (s *guardedStore) DeleteAppStateVersion(ctx context.Context, name string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteAppStateVersion(ctx, name)
	err = s.g.check(err, "DeleteAppStateVersion")
	return
}

func (s *guardedStore) PutAppStateMutationMACs(ctx context.Context, name string, version uint64, mutations []store.AppStateMutationMAC) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutAppStateMutationMACs(ctx, name, version, mutations)
	err = s.g.check(err, "PutAppStateMutationMACs")
	return
}

func (s *guardedStore) DeleteAppStateMutationMACs(ctx context.Context, name string, indexMACs [][]byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteAppStateMutationMACs(ctx, name, indexMACs)
	err = s.g.check(err, "DeleteAppStateMutationMACs")
	return
}

func (s *guardedStore) GetAppStateMutationMAC(ctx context.Context, name string, indexMAC []byte) (r0 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetAppStateMutationMAC(ctx, name, indexMAC)
	err = s.g.check(err, "GetAppStateMutationMAC")
	return
}

func (s *guardedStore) PutPushName(ctx context.Context, user types.JID, pushName string) (r0 bool, r1 string, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, r1, err = in.PutPushName(ctx, user, pushName)
	err = s.g.check(err, "PutPushName")
	return
}

func (s *guardedStore) PutBusinessName(ctx context.Context, user types.JID, businessName string) (r0 bool, r1 string, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, r1, err = in.PutBusinessName(ctx, user, businessName)
	err = s.g.check(err, "PutBusinessName")
	return
}

func (s *guardedStore) PutContactName(ctx context.Context, user types.JID, fullName, firstName string) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutContactName(ctx, user, fullName, firstName)
	err = s.g.check(err, "PutContactName")
	return
}

func (s *guardedStore) PutAllContactNames(ctx context.Context, contacts []store.ContactEntry) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutAllContactNames(ctx, contacts)
	err = s.g.check(err, "PutAllContactNames")
	return
}

func (s *guardedStore) PutManyRedactedPhones(ctx context.Context, entries []store.RedactedPhoneEntry) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutManyRedactedPhones(ctx, entries)
	err = s.g.check(err, "PutManyRedactedPhones")
	return
}

func (s *guardedStore) GetContact(ctx context.Context, user types.JID) (r0 types.ContactInfo, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetContact(ctx, user)
	err = s.g.check(err, "GetContact")
	return
}

func (s *guardedStore) GetAllContacts(ctx context.Context) (r0 map[types.JID]types.ContactInfo, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetAllContacts(ctx)
	err = s.g.check(err, "GetAllContacts")
	return
}

func (s *guardedStore) PutMutedUntil(ctx context.Context, chat types.JID, mutedUntil time.Time) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutMutedUntil(ctx, chat, mutedUntil)
	err = s.g.check(err, "PutMutedUntil")
	return
}

func (s *guardedStore) PutPinned(ctx context.Context, chat types.JID, pinned bool) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutPinned(ctx, chat, pinned)
	err = s.g.check(err, "PutPinned")
	return
}

func (s *guardedStore) PutArchived(ctx context.Context, chat types.JID, archived bool) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutArchived(ctx, chat, archived)
	err = s.g.check(err, "PutArchived")
	return
}

func (s *guardedStore) GetChatSettings(ctx context.Context, chat types.JID) (r0 types.LocalChatSettings, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetChatSettings(ctx, chat)
	err = s.g.check(err, "GetChatSettings")
	return
}

func (s *guardedStore) PutMessageSecrets(ctx context.Context, inserts []store.MessageSecretInsert) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutMessageSecrets(ctx, inserts)
	err = s.g.check(err, "PutMessageSecrets")
	return
}

func (s *guardedStore) PutMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID, secret []byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutMessageSecret(ctx, chat, sender, id, secret)
	err = s.g.check(err, "PutMessageSecret")
	return
}

func (s *guardedStore) GetMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID) (r0 []byte, r1 types.JID, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, r1, err = in.GetMessageSecret(ctx, chat, sender, id)
	err = s.g.check(err, "GetMessageSecret")
	return
}

func (s *guardedStore) PutPrivacyTokens(ctx context.Context, tokens ...store.PrivacyToken) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutPrivacyTokens(ctx, tokens...)
	err = s.g.check(err, "PutPrivacyTokens")
	return
}

func (s *guardedStore) GetPrivacyToken(ctx context.Context, user types.JID) (r0 *store.PrivacyToken, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetPrivacyToken(ctx, user)
	err = s.g.check(err, "GetPrivacyToken")
	return
}

func (s *guardedStore) DeleteExpiredPrivacyTokens(ctx context.Context, cutoff time.Time) (r0 int64, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.DeleteExpiredPrivacyTokens(ctx, cutoff)
	err = s.g.check(err, "DeleteExpiredPrivacyTokens")
	return
}

func (s *guardedStore) PutNCTSalt(ctx context.Context, salt []byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutNCTSalt(ctx, salt)
	err = s.g.check(err, "PutNCTSalt")
	return
}

func (s *guardedStore) GetNCTSalt(ctx context.Context) (r0 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetNCTSalt(ctx)
	err = s.g.check(err, "GetNCTSalt")
	return
}

func (s *guardedStore) DeleteNCTSalt(ctx context.Context) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteNCTSalt(ctx)
	err = s.g.check(err, "DeleteNCTSalt")
	return
}

func (s *guardedStore) GetBufferedEvent(ctx context.Context, ciphertextHash [32]byte) (r0 *store.BufferedEvent, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, err = in.GetBufferedEvent(ctx, ciphertextHash)
	err = s.g.check(err, "GetBufferedEvent")
	return
}

func (s *guardedStore) PutBufferedEvent(ctx context.Context, ciphertextHash [32]byte, plaintext []byte, serverTimestamp time.Time) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.PutBufferedEvent(ctx, ciphertextHash, plaintext, serverTimestamp)
	err = s.g.check(err, "PutBufferedEvent")
	return
}

func (s *guardedStore) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DoDecryptionTxn(ctx, fn)
	err = s.g.check(err, "DoDecryptionTxn")
	return
}

func (s *guardedStore) ClearBufferedEventPlaintext(ctx context.Context, ciphertextHash [32]byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.ClearBufferedEventPlaintext(ctx, ciphertextHash)
	err = s.g.check(err, "ClearBufferedEventPlaintext")
	return
}

func (s *guardedStore) DeleteOldBufferedHashes(ctx context.Context) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteOldBufferedHashes(ctx)
	err = s.g.check(err, "DeleteOldBufferedHashes")
	return
}

func (s *guardedStore) GetOutgoingEvent(ctx context.Context, chatJID, altChatJID types.JID, id types.MessageID) (r0 string, r1 []byte, err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	r0, r1, err = in.GetOutgoingEvent(ctx, chatJID, altChatJID, id)
	err = s.g.check(err, "GetOutgoingEvent")
	return
}

func (s *guardedStore) AddOutgoingEvent(ctx context.Context, chatJID types.JID, id types.MessageID, format string, plaintext []byte) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.AddOutgoingEvent(ctx, chatJID, id, format, plaintext)
	err = s.g.check(err, "AddOutgoingEvent")
	return
}

func (s *guardedStore) DeleteOldOutgoingEvents(ctx context.Context) (err error) {
	in, err := s.inner()
	if err != nil {
		return
	}
	err = in.DeleteOldOutgoingEvents(ctx)
	err = s.g.check(err, "DeleteOldOutgoingEvents")
	return
}

func (l *guardedLIDs) PutManyLIDMappings(ctx context.Context, mappings []store.LIDMapping) (err error) {
	err = l.inner.PutManyLIDMappings(ctx, mappings)
	err = l.g.check(err, "PutManyLIDMappings")
	return
}

func (l *guardedLIDs) PutLIDMapping(ctx context.Context, lid, jid types.JID) (err error) {
	err = l.inner.PutLIDMapping(ctx, lid, jid)
	err = l.g.check(err, "PutLIDMapping")
	return
}

func (l *guardedLIDs) GetPNForLID(ctx context.Context, lid types.JID) (r0 types.JID, err error) {
	r0, err = l.inner.GetPNForLID(ctx, lid)
	err = l.g.check(err, "GetPNForLID")
	return
}

func (l *guardedLIDs) GetLIDForPN(ctx context.Context, pn types.JID) (r0 types.JID, err error) {
	r0, err = l.inner.GetLIDForPN(ctx, pn)
	err = l.g.check(err, "GetLIDForPN")
	return
}

func (l *guardedLIDs) GetManyLIDsForPNs(ctx context.Context, pns []types.JID) (r0 map[types.JID]types.JID, err error) {
	r0, err = l.inner.GetManyLIDsForPNs(ctx, pns)
	err = l.g.check(err, "GetManyLIDsForPNs")
	return
}
