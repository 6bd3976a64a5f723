package memstore

import (
	"bytes"
	"encoding/gob"
	"maps"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/util/keys"
)

// snapshot is the serialisable part of a Store: what a simulated device
// needs to keep its Signal sessions and app-state MACs across restarts.
type snapshot struct {
	Identities   map[string][32]byte
	Sessions     map[string][]byte
	PreKeys      map[uint32]snapPreKey
	NextPreKeyID uint32
	SenderKeys   map[string][]byte
	SyncKeys     map[string]store.AppStateSyncKey
	SyncKeyOrder [][]byte
	ASVersions   map[string]snapVersion
	ASMACs       map[string]map[string]snapMAC
	NCTSalt      []byte
}

type snapPreKey struct {
	Priv     [32]byte
	Uploaded bool
}

type snapVersion struct {
	Version uint64
	Hash    [128]byte
}

type snapMAC struct {
	Version  uint64
	ValueMAC []byte
}

// Snapshot serialises (gob: binary map keys survive) the store's Signal and app-state data (contacts,
// chat settings, buffers and tokens are not included).
func (s *Store) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{
		Identities: maps.Clone(s.identities), Sessions: maps.Clone(s.sessions),
		PreKeys: make(map[uint32]snapPreKey, len(s.preKeys)), NextPreKeyID: s.nextPreKeyID,
		SenderKeys: maps.Clone(s.senderKeys), SyncKeys: maps.Clone(s.syncKeys), SyncKeyOrder: s.syncKeyOrder,
		ASVersions: map[string]snapVersion{}, ASMACs: map[string]map[string]snapMAC{}, NCTSalt: s.nctSalt,
	}
	for id, pk := range s.preKeys {
		snap.PreKeys[id] = snapPreKey{Priv: *pk.key.Priv, Uploaded: pk.uploaded}
	}
	for k, v := range s.asVersions {
		snap.ASVersions[k] = snapVersion{Version: v.version, Hash: v.hash}
	}
	for name, m := range s.asMACs {
		out := make(map[string]snapMAC, len(m))
		for k, e := range m {
			out[k] = snapMAC{Version: e.version, ValueMAC: e.valueMAC}
		}
		snap.ASMACs[name] = out
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&snap); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Restore replaces the store's Signal and app-state data with a snapshot.
func (s *Store) Restore(data []byte) error {
	var snap snapshot
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&snap); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities = nonNil(snap.Identities)
	s.sessions = nonNil(snap.Sessions)
	s.senderKeys = nonNil(snap.SenderKeys)
	s.syncKeys = nonNil(snap.SyncKeys)
	s.syncKeyOrder = snap.SyncKeyOrder
	s.nextPreKeyID = max(snap.NextPreKeyID, 1)
	s.nctSalt = snap.NCTSalt
	s.preKeys = make(map[uint32]*preKey, len(snap.PreKeys))
	for id, pk := range snap.PreKeys {
		kp := keys.NewKeyPairFromPrivateKey(pk.Priv)
		s.preKeys[id] = &preKey{key: &keys.PreKey{KeyPair: *kp, KeyID: id}, uploaded: pk.Uploaded}
	}
	s.asVersions = make(map[string]appStateVersion, len(snap.ASVersions))
	for k, v := range snap.ASVersions {
		s.asVersions[k] = appStateVersion{version: v.Version, hash: v.Hash}
	}
	s.asMACs = make(map[string]map[string]macEntry, len(snap.ASMACs))
	for name, m := range snap.ASMACs {
		out := make(map[string]macEntry, len(m))
		for k, e := range m {
			out[k] = macEntry{version: e.Version, valueMAC: e.ValueMAC}
		}
		s.asMACs[name] = out
	}
	return nil
}

func nonNil[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
