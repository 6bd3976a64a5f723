// Package memstore is an in-memory implementation of whatsmeow's store
// interfaces (store.AllStores and store.DeviceContainer).
//
// It keeps the semantics of whatsmeow's sqlstore that the protocol depends
// on: unknown identities are trusted, GetOrGenPreKeys returns not yet
// uploaded keys first, the latest app-state sync key is chosen by
// timestamp, and PN sessions are migrated to LID addresses. It does not
// embed store.NoopStore, so a whatsmeow upgrade that adds an interface
// method breaks the build instead of silently doing nothing.
//
// The wasim simulator uses it for its simulated devices, and tests can use
// it for the whatsmeow client under test.
package memstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	waLog "go.mau.fi/whatsmeow/util/log"
)

type preKey struct {
	key      *keys.PreKey
	uploaded bool
}

type appStateVersion struct {
	version uint64
	hash    [128]byte
}

type macEntry struct {
	version  uint64
	valueMAC []byte
}

type bufferedEvent struct {
	store.BufferedEvent
	cleared bool
}

type outgoingEvent struct {
	format    string
	plaintext []byte
	inserted  time.Time
}

type msgSecret struct {
	sender types.JID
	secret []byte
}

// Store holds all session-specific data of one device in memory.
// All methods are safe for concurrent use.
type Store struct {
	mu sync.Mutex

	identities   map[string][32]byte
	sessions     map[string][]byte
	preKeys      map[uint32]*preKey
	nextPreKeyID uint32
	senderKeys   map[string][]byte
	syncKeys     map[string]store.AppStateSyncKey
	syncKeyOrder [][]byte
	asVersions   map[string]appStateVersion
	asMACs       map[string]map[string]macEntry // name -> indexMAC -> entry
	contacts     map[types.JID]types.ContactInfo
	chatSettings map[types.JID]types.LocalChatSettings
	msgSecrets   map[string]msgSecret
	privTokens   map[types.JID]store.PrivacyToken
	nctSalt      []byte
	events       map[[32]byte]*bufferedEvent
	outgoing     map[string]outgoingEvent

	lids *LIDMap
}

var _ store.AllSessionSpecificStores = (*Store)(nil)

// New returns an empty store that uses the given LID map (shared by all
// devices of a container, like sqlstore's global LID table).
func New(lids *LIDMap) *Store {
	if lids == nil {
		lids = NewLIDMap()
	}
	return &Store{
		identities:   map[string][32]byte{},
		sessions:     map[string][]byte{},
		preKeys:      map[uint32]*preKey{},
		nextPreKeyID: 1,
		senderKeys:   map[string][]byte{},
		syncKeys:     map[string]store.AppStateSyncKey{},
		asVersions:   map[string]appStateVersion{},
		asMACs:       map[string]map[string]macEntry{},
		contacts:     map[types.JID]types.ContactInfo{},
		chatSettings: map[types.JID]types.LocalChatSettings{},
		msgSecrets:   map[string]msgSecret{},
		privTokens:   map[types.JID]store.PrivacyToken{},
		events:       map[[32]byte]*bufferedEvent{},
		outgoing:     map[string]outgoingEvent{},
		lids:         lids,
	}
}

// IdentityStore

// PutIdentity implements store.IdentityStore.
func (s *Store) PutIdentity(_ context.Context, address string, key [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[address] = key
	return nil
}

func deletePrefix[V any](m map[string]V, prefix string) {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delete(m, k)
		}
	}
}

// DeleteAllIdentities implements store.IdentityStore.
func (s *Store) DeleteAllIdentities(_ context.Context, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	deletePrefix(s.identities, phone+":")
	return nil
}

// DeleteIdentity implements store.IdentityStore.
func (s *Store) DeleteIdentity(_ context.Context, address string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.identities, address)
	return nil
}

// IsTrustedIdentity implements store.IdentityStore: unknown identities are trusted.
func (s *Store) IsTrustedIdentity(_ context.Context, address string, key [32]byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, ok := s.identities[address]
	return !ok || existing == key, nil
}

// SessionStore

// GetSession implements store.SessionStore.
func (s *Store) GetSession(_ context.Context, address string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.sessions[address]), nil
}

// HasSession implements store.SessionStore.
func (s *Store) HasSession(_ context.Context, address string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[address]
	return ok, nil
}

// GetManySessions implements store.SessionStore.
func (s *Store) GetManySessions(_ context.Context, addresses []string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(addresses))
	for _, a := range addresses {
		if v, ok := s.sessions[a]; ok {
			out[a] = bytes.Clone(v)
		} else {
			out[a] = nil
		}
	}
	return out, nil
}

// PutSession implements store.SessionStore.
func (s *Store) PutSession(_ context.Context, address string, session []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[address] = bytes.Clone(session)
	return nil
}

// PutManySessions implements store.SessionStore.
func (s *Store) PutManySessions(_ context.Context, sessions map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range sessions {
		s.sessions[k] = bytes.Clone(v)
	}
	return nil
}

// DeleteAllSessions implements store.SessionStore.
func (s *Store) DeleteAllSessions(_ context.Context, phone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	deletePrefix(s.sessions, phone+":")
	return nil
}

// DeleteSession implements store.SessionStore.
func (s *Store) DeleteSession(_ context.Context, address string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, address)
	return nil
}

func migrate[V any](m map[string]V, from, to string) {
	for k, v := range m {
		if strings.HasPrefix(k, from+":") {
			m[to+k[len(from):]] = v
			delete(m, k)
		}
	}
}

// MigratePNToLID implements store.SessionStore: sessions, identities and
// sender keys stored under the PN address move to the LID address.
func (s *Store) MigratePNToLID(_ context.Context, pn, lid types.JID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to := pn.SignalAddressUser(), lid.SignalAddressUser()
	migrate(s.sessions, from, to)
	migrate(s.identities, from, to)
	for k, v := range s.senderKeys {
		group, user, ok := strings.Cut(k, "\x00")
		if ok && strings.HasPrefix(user, from+":") {
			s.senderKeys[group+"\x00"+to+user[len(from):]] = v
			delete(s.senderKeys, k)
		}
	}
	return nil
}

// PreKeyStore

func (s *Store) genPreKey(uploaded bool) *keys.PreKey {
	k := keys.NewPreKey(s.nextPreKeyID)
	s.nextPreKeyID++
	s.preKeys[k.KeyID] = &preKey{key: k, uploaded: uploaded}
	return k
}

// GetOrGenPreKeys implements store.PreKeyStore: not yet uploaded keys come first.
func (s *Store) GetOrGenPreKeys(_ context.Context, count uint32) ([]*keys.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.preKeys))
	out := make([]*keys.PreKey, 0, count)
	for _, id := range ids {
		if uint32(len(out)) >= count {
			break
		}
		if pk := s.preKeys[id]; !pk.uploaded {
			out = append(out, pk.key)
		}
	}
	for uint32(len(out)) < count {
		out = append(out, s.genPreKey(false))
	}
	return out, nil
}

// GenOnePreKey implements store.PreKeyStore (the key counts as uploaded).
func (s *Store) GenOnePreKey(_ context.Context) (*keys.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.genPreKey(true), nil
}

// GetPreKey implements store.PreKeyStore.
func (s *Store) GetPreKey(_ context.Context, id uint32) (*keys.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pk, ok := s.preKeys[id]; ok {
		return pk.key, nil
	}
	return nil, nil
}

// RemovePreKey implements store.PreKeyStore.
func (s *Store) RemovePreKey(_ context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.preKeys, id)
	return nil
}

// MarkPreKeysAsUploaded implements store.PreKeyStore.
func (s *Store) MarkPreKeysAsUploaded(_ context.Context, upToID uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, pk := range s.preKeys {
		if id <= upToID {
			pk.uploaded = true
		}
	}
	return nil
}

// UploadedPreKeyCount implements store.PreKeyStore.
func (s *Store) UploadedPreKeyCount(_ context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, pk := range s.preKeys {
		if pk.uploaded {
			n++
		}
	}
	return n, nil
}

// SenderKeyStore

// PutSenderKey implements store.SenderKeyStore.
func (s *Store) PutSenderKey(_ context.Context, group, user string, session []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.senderKeys[group+"\x00"+user] = bytes.Clone(session)
	return nil
}

// GetSenderKey implements store.SenderKeyStore.
func (s *Store) GetSenderKey(_ context.Context, group, user string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.senderKeys[group+"\x00"+user]), nil
}

// AppStateSyncKeyStore

// PutAppStateSyncKey implements store.AppStateSyncKeyStore.
func (s *Store) PutAppStateSyncKey(_ context.Context, id []byte, key store.AppStateSyncKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.syncKeys[string(id)]; !ok {
		s.syncKeyOrder = append(s.syncKeyOrder, bytes.Clone(id))
	}
	s.syncKeys[string(id)] = key
	return nil
}

// GetAppStateSyncKey implements store.AppStateSyncKeyStore.
func (s *Store) GetAppStateSyncKey(_ context.Context, id []byte) (*store.AppStateSyncKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.syncKeys[string(id)]; ok {
		return &k, nil
	}
	return nil, nil
}

// GetLatestAppStateSyncKeyID implements store.AppStateSyncKeyStore (newest timestamp wins).
func (s *Store) GetLatestAppStateSyncKeyID(_ context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best []byte
	var bestTS int64
	for _, id := range s.syncKeyOrder {
		k := s.syncKeys[string(id)]
		if best == nil || k.Timestamp > bestTS {
			best, bestTS = id, k.Timestamp
		}
	}
	return bytes.Clone(best), nil
}

// GetAllAppStateSyncKeys implements store.AppStateSyncKeyStore.
func (s *Store) GetAllAppStateSyncKeys(_ context.Context) ([]*store.AppStateSyncKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*store.AppStateSyncKey, 0, len(s.syncKeyOrder))
	for _, id := range s.syncKeyOrder {
		k := s.syncKeys[string(id)]
		out = append(out, &k)
	}
	return out, nil
}

// AppStateStore

// PutAppStateVersion implements store.AppStateStore.
func (s *Store) PutAppStateVersion(_ context.Context, name string, version uint64, hash [128]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asVersions[name] = appStateVersion{version, hash}
	return nil
}

// GetAppStateVersion implements store.AppStateStore.
func (s *Store) GetAppStateVersion(_ context.Context, name string) (uint64, [128]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.asVersions[name]
	return v.version, v.hash, nil
}

// DeleteAppStateVersion implements store.AppStateStore.
func (s *Store) DeleteAppStateVersion(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.asVersions, name)
	delete(s.asMACs, name)
	return nil
}

// PutAppStateMutationMACs implements store.AppStateStore.
func (s *Store) PutAppStateMutationMACs(_ context.Context, name string, version uint64, mutations []store.AppStateMutationMAC) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.asMACs[name]
	if m == nil {
		m = map[string]macEntry{}
		s.asMACs[name] = m
	}
	for _, mut := range mutations {
		m[string(mut.IndexMAC)] = macEntry{version: version, valueMAC: bytes.Clone(mut.ValueMAC)}
	}
	return nil
}

// DeleteAppStateMutationMACs implements store.AppStateStore.
func (s *Store) DeleteAppStateMutationMACs(_ context.Context, name string, indexMACs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range indexMACs {
		delete(s.asMACs[name], string(im))
	}
	return nil
}

// GetAppStateMutationMAC implements store.AppStateStore.
func (s *Store) GetAppStateMutationMAC(_ context.Context, name string, indexMAC []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.asMACs[name][string(indexMAC)]; ok {
		return bytes.Clone(e.valueMAC), nil
	}
	return nil, nil
}

// ContactStore

func (s *Store) contact(user types.JID) types.ContactInfo {
	ci := s.contacts[user]
	ci.Found = true
	return ci
}

// PutPushName implements store.ContactStore.
func (s *Store) PutPushName(_ context.Context, user types.JID, pushName string) (bool, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci := s.contact(user)
	prev := ci.PushName
	if prev == pushName {
		return false, "", nil
	}
	ci.PushName = pushName
	s.contacts[user] = ci
	return true, prev, nil
}

// PutBusinessName implements store.ContactStore.
func (s *Store) PutBusinessName(_ context.Context, user types.JID, name string) (bool, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci := s.contact(user)
	prev := ci.BusinessName
	if prev == name {
		return false, "", nil
	}
	ci.BusinessName = name
	s.contacts[user] = ci
	return true, prev, nil
}

// PutContactName implements store.ContactStore.
func (s *Store) PutContactName(_ context.Context, user types.JID, fullName, firstName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci := s.contact(user)
	ci.FullName, ci.FirstName = fullName, firstName
	s.contacts[user] = ci
	return nil
}

// PutAllContactNames implements store.ContactStore.
func (s *Store) PutAllContactNames(ctx context.Context, contacts []store.ContactEntry) error {
	for _, c := range contacts {
		_ = s.PutContactName(ctx, c.JID, c.FullName, c.FirstName)
	}
	return nil
}

// PutManyRedactedPhones implements store.ContactStore.
func (s *Store) PutManyRedactedPhones(_ context.Context, entries []store.RedactedPhoneEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		ci := s.contact(e.JID)
		ci.RedactedPhone = e.RedactedPhone
		s.contacts[e.JID] = ci
	}
	return nil
}

// GetContact implements store.ContactStore.
func (s *Store) GetContact(_ context.Context, user types.JID) (types.ContactInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contacts[user], nil
}

// GetAllContacts implements store.ContactStore.
func (s *Store) GetAllContacts(_ context.Context) (map[types.JID]types.ContactInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.contacts), nil
}

// ChatSettingsStore

// PutMutedUntil implements store.ChatSettingsStore.
func (s *Store) PutMutedUntil(_ context.Context, chat types.JID, mutedUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatSettings[chat]
	cs.Found, cs.MutedUntil = true, mutedUntil
	s.chatSettings[chat] = cs
	return nil
}

// PutPinned implements store.ChatSettingsStore.
func (s *Store) PutPinned(_ context.Context, chat types.JID, pinned bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatSettings[chat]
	cs.Found, cs.Pinned = true, pinned
	s.chatSettings[chat] = cs
	return nil
}

// PutArchived implements store.ChatSettingsStore.
func (s *Store) PutArchived(_ context.Context, chat types.JID, archived bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatSettings[chat]
	cs.Found, cs.Archived = true, archived
	s.chatSettings[chat] = cs
	return nil
}

// GetChatSettings implements store.ChatSettingsStore.
func (s *Store) GetChatSettings(_ context.Context, chat types.JID) (types.LocalChatSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chatSettings[chat], nil
}

// MsgSecretStore

func secretKey(chat, sender types.JID, id types.MessageID) string {
	return chat.ToNonAD().String() + "\x00" + sender.ToNonAD().String() + "\x00" + id
}

// PutMessageSecrets implements store.MsgSecretStore.
func (s *Store) PutMessageSecrets(ctx context.Context, inserts []store.MessageSecretInsert) error {
	for _, in := range inserts {
		_ = s.PutMessageSecret(ctx, in.Chat, in.Sender, in.ID, in.Secret)
	}
	return nil
}

// PutMessageSecret implements store.MsgSecretStore (first write wins, like sqlstore).
func (s *Store) PutMessageSecret(_ context.Context, chat, sender types.JID, id types.MessageID, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey(chat, sender, id)
	if _, ok := s.msgSecrets[k]; !ok {
		s.msgSecrets[k] = msgSecret{sender: sender.ToNonAD(), secret: bytes.Clone(secret)}
	}
	return nil
}

// GetMessageSecret implements store.MsgSecretStore. Like sqlstore, chat
// and sender match in either their PN or their LID form (whatsmeow stores
// an outgoing poll's secret under the LID chat it sent to, and looks it up
// under the address a vote came from).
func (s *Store) GetMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID) ([]byte, types.JID, error) {
	chats, senders := s.bothForms(ctx, chat), s.bothForms(ctx, sender)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range chats {
		for _, se := range senders {
			if v, ok := s.msgSecrets[secretKey(c, se, id)]; ok {
				return bytes.Clone(v.secret), v.sender, nil
			}
		}
	}
	return nil, types.EmptyJID, nil
}

// bothForms is j and, when the LID map knows it, its other (PN or LID) form.
func (s *Store) bothForms(ctx context.Context, j types.JID) []types.JID {
	out := []types.JID{j}
	var other types.JID
	switch j.Server {
	case types.HiddenUserServer:
		other, _ = s.lids.GetPNForLID(ctx, j)
	case types.DefaultUserServer:
		other, _ = s.lids.GetLIDForPN(ctx, j)
	}
	if !other.IsEmpty() {
		out = append(out, other)
	}
	return out
}

// PrivacyTokenStore

// PutPrivacyTokens implements store.PrivacyTokenStore.
func (s *Store) PutPrivacyTokens(_ context.Context, tokens ...store.PrivacyToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tokens {
		s.privTokens[t.User.ToNonAD()] = t
	}
	return nil
}

// GetPrivacyToken implements store.PrivacyTokenStore.
func (s *Store) GetPrivacyToken(_ context.Context, user types.JID) (*store.PrivacyToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.privTokens[user.ToNonAD()]; ok {
		return &t, nil
	}
	return nil, nil
}

// DeleteExpiredPrivacyTokens implements store.PrivacyTokenStore.
func (s *Store) DeleteExpiredPrivacyTokens(_ context.Context, cutoff time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, t := range s.privTokens {
		if t.Timestamp.Before(cutoff) {
			delete(s.privTokens, k)
			n++
		}
	}
	return n, nil
}

// NCTSaltStore

// PutNCTSalt implements store.NCTSaltStore.
func (s *Store) PutNCTSalt(_ context.Context, salt []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nctSalt = bytes.Clone(salt)
	return nil
}

// GetNCTSalt implements store.NCTSaltStore.
func (s *Store) GetNCTSalt(_ context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.nctSalt), nil
}

// DeleteNCTSalt implements store.NCTSaltStore.
func (s *Store) DeleteNCTSalt(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nctSalt = nil
	return nil
}

// EventBuffer

// GetBufferedEvent implements store.EventBuffer.
func (s *Store) GetBufferedEvent(_ context.Context, hash [32]byte) (*store.BufferedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.events[hash]; ok {
		be := e.BufferedEvent
		return &be, nil
	}
	return nil, nil
}

// PutBufferedEvent implements store.EventBuffer.
func (s *Store) PutBufferedEvent(_ context.Context, hash [32]byte, plaintext []byte, serverTimestamp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[hash] = &bufferedEvent{BufferedEvent: store.BufferedEvent{Plaintext: bytes.Clone(plaintext), InsertTime: time.Now(), ServerTime: serverTimestamp}}
	return nil
}

// DoDecryptionTxn implements store.EventBuffer (no real transaction in memory).
func (s *Store) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx)
}

// ClearBufferedEventPlaintext implements store.EventBuffer.
func (s *Store) ClearBufferedEventPlaintext(_ context.Context, hash [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.events[hash]; ok {
		e.Plaintext = nil
		e.cleared = true
	}
	return nil
}

// DeleteOldBufferedHashes implements store.EventBuffer.
func (s *Store) DeleteOldBufferedHashes(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := time.Now().Add(-14 * 24 * time.Hour)
	for k, e := range s.events {
		if e.InsertTime.Before(cutoff) {
			delete(s.events, k)
		}
	}
	return nil
}

func outgoingKey(chat types.JID, id types.MessageID) string {
	return chat.ToNonAD().String() + "\x00" + id
}

// GetOutgoingEvent implements store.EventBuffer.
func (s *Store) GetOutgoingEvent(_ context.Context, chatJID, altChatJID types.JID, id types.MessageID) (string, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range []types.JID{chatJID, altChatJID} {
		if c.IsEmpty() {
			continue
		}
		if e, ok := s.outgoing[outgoingKey(c, id)]; ok {
			return e.format, bytes.Clone(e.plaintext), nil
		}
	}
	return "", nil, nil
}

// AddOutgoingEvent implements store.EventBuffer.
func (s *Store) AddOutgoingEvent(_ context.Context, chatJID types.JID, id types.MessageID, format string, plaintext []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outgoing[outgoingKey(chatJID, id)] = outgoingEvent{format: format, plaintext: bytes.Clone(plaintext), inserted: time.Now()}
	return nil
}

// DeleteOldOutgoingEvents implements store.EventBuffer.
func (s *Store) DeleteOldOutgoingEvents(_ context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := time.Now().Add(-24 * time.Hour)
	for k, e := range s.outgoing {
		if e.inserted.Before(cutoff) {
			delete(s.outgoing, k)
		}
	}
	return nil
}

// LIDMap is an in-memory store.LIDStore, shared by the devices of a Container.
type LIDMap struct {
	mu    sync.Mutex
	pnLID map[string]string
	lidPN map[string]string
}

var _ store.LIDStore = (*LIDMap)(nil)

// NewLIDMap returns an empty LID map.
func NewLIDMap() *LIDMap {
	return &LIDMap{pnLID: map[string]string{}, lidPN: map[string]string{}}
}

func (l *LIDMap) put(lid, pn types.JID) {
	if lid.User == "" || pn.User == "" {
		return
	}
	if old, ok := l.lidPN[lid.User]; ok && old != pn.User {
		delete(l.pnLID, old)
	}
	if old, ok := l.pnLID[pn.User]; ok && old != lid.User {
		delete(l.lidPN, old)
	}
	l.pnLID[pn.User] = lid.User
	l.lidPN[lid.User] = pn.User
}

// PutManyLIDMappings implements store.LIDStore.
func (l *LIDMap) PutManyLIDMappings(_ context.Context, mappings []store.LIDMapping) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range mappings {
		l.put(m.LID, m.PN)
	}
	return nil
}

// PutLIDMapping implements store.LIDStore.
func (l *LIDMap) PutLIDMapping(_ context.Context, lid, jid types.JID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.put(lid, jid)
	return nil
}

// GetPNForLID implements store.LIDStore (the device part is kept).
func (l *LIDMap) GetPNForLID(_ context.Context, lid types.JID) (types.JID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pn, ok := l.lidPN[lid.User]
	if !ok {
		return types.EmptyJID, nil
	}
	return types.JID{User: pn, Server: types.DefaultUserServer, Device: lid.Device}, nil
}

// GetLIDForPN implements store.LIDStore (the device part is kept).
func (l *LIDMap) GetLIDForPN(_ context.Context, pn types.JID) (types.JID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lid, ok := l.pnLID[pn.User]
	if !ok {
		return types.EmptyJID, nil
	}
	return types.JID{User: lid, Server: types.HiddenUserServer, Device: pn.Device}, nil
}

// GetManyLIDsForPNs implements store.LIDStore.
func (l *LIDMap) GetManyLIDsForPNs(ctx context.Context, pns []types.JID) (map[types.JID]types.JID, error) {
	out := make(map[types.JID]types.JID, len(pns))
	for _, pn := range pns {
		if lid, _ := l.GetLIDForPN(ctx, pn); !lid.IsEmpty() {
			out[pn] = lid
		}
	}
	return out, nil
}

// Container is an in-memory store.DeviceContainer. Devices it creates
// share one LID map.
type Container struct {
	mu      sync.Mutex
	lids    *LIDMap
	devices map[types.JID]*store.Device
	log     waLog.Logger
}

var _ store.DeviceContainer = (*Container)(nil)

// NewContainer returns an empty container.
func NewContainer(log waLog.Logger) *Container {
	if log == nil {
		log = waLog.Noop
	}
	return &Container{lids: NewLIDMap(), devices: map[types.JID]*store.Device{}, log: log}
}

// LIDs returns the container's shared LID map.
func (c *Container) LIDs() *LIDMap { return c.lids }

// NewDevice creates a fresh, unpaired device with new keys, backed by a new
// in-memory Store (mirrors sqlstore.Container.NewDevice).
func (c *Container) NewDevice() *store.Device {
	var regID [4]byte
	_, _ = rand.Read(regID[:])
	adv := make([]byte, 32)
	_, _ = rand.Read(adv)
	dev := &store.Device{
		Log:            c.log,
		NoiseKey:       keys.NewKeyPair(),
		IdentityKey:    keys.NewKeyPair(),
		RegistrationID: binary.BigEndian.Uint32(regID[:]) & 0x3fff,
		AdvSecretKey:   adv,
		LIDs:           c.lids,
		Container:      c,
		Initialized:    true,
	}
	dev.SignedPreKey = dev.IdentityKey.CreateSignedPreKey(1)
	dev.SetAllStores(New(c.lids))
	return dev
}

// PutDevice implements store.DeviceContainer.
func (c *Container) PutDevice(_ context.Context, dev *store.Device) error {
	if dev.ID == nil {
		return errDeviceIDMustBeSet
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.devices[dev.ID.ToNonAD()] = dev
	c.devices[*dev.ID] = dev
	return nil
}

// DeleteDevice implements store.DeviceContainer.
func (c *Container) DeleteDevice(_ context.Context, dev *store.Device) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, d := range c.devices {
		if d == dev {
			delete(c.devices, k)
		}
	}
	return nil
}

// Devices returns the saved devices.
func (c *Container) Devices() []*store.Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*store.Device
	for k, d := range c.devices {
		if k.Device == d.ID.Device && k == *d.ID {
			out = append(out, d)
		}
	}
	return out
}

type constError string

func (e constError) Error() string { return string(e) }

const errDeviceIDMustBeSet = constError("memstore: device JID must be set before saving")
