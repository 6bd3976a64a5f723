package wasim

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"go.mau.fi/whatsmeow/appstate"
	"go.mau.fi/whatsmeow/util/keys"

	"github.com/wagate-dev/wagate/internal/wasim/memstore"
)

// schema holds the simulator's own tables. Records are gob-encoded: the
// tables are private to the simulator and only need to survive restarts
// of the same version.
const schema = `
CREATE TABLE IF NOT EXISTS wasim_accounts (
	pn   text PRIMARY KEY,
	data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS wasim_phones (
	pn   text PRIMARY KEY,
	data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS wasim_sim_devices (
	pn    text PRIMARY KEY,
	keys  bytea NOT NULL,
	store bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS wasim_companions (
	pn     text NOT NULL,
	device integer NOT NULL,
	data   bytea NOT NULL,
	PRIMARY KEY (pn, device)
);
CREATE TABLE IF NOT EXISTS wasim_queue (
	pn     text NOT NULL,
	device integer NOT NULL,
	key    text NOT NULL,
	seq    bigserial,
	node   bytea NOT NULL,
	PRIMARY KEY (pn, device, key)
);
CREATE TABLE IF NOT EXISTS wasim_appstate_patches (
	pn         text NOT NULL,
	collection text NOT NULL,
	version    bigint NOT NULL,
	patch      bytea NOT NULL,
	PRIMARY KEY (pn, collection, version)
);
CREATE TABLE IF NOT EXISTS wasim_media (
	id         text PRIMARY KEY,
	mms_type   text NOT NULL,
	enc_sha256 bytea NOT NULL,
	uploader   text NOT NULL,
	data       bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS wasim_meta (
	k text PRIMARY KEY,
	v bytea NOT NULL
);
`

// pgStore persists simulator state in Postgres (tables prefixed wasim_).
// Every write is committed before the simulator answers the client.
type pgStore struct {
	pool *pgxpool.Pool
}

type accountRecord struct {
	LID        string
	PushName   string
	PictureURL string
	Blocklist  []string
	NextDevID  uint16
}

type phoneRecord struct {
	KeyID     []byte
	KeyData   []byte
	KeyTS     int64
	States    map[string]appstate.HashState
	View      PhoneView
	Published bool
	HistSent  int
}

type simKeysRecord struct {
	Noise, Identity [32]byte
	SignedPreKey    [32]byte
	SignedPreKeyID  uint32
	SignedPreKeySig [64]byte
	RegistrationID  uint32
	AdvSecret       []byte
}

type companionRecord struct {
	NoisePub, IdentityPub [32]byte
	RegID, SkeyID         uint32
	SkeyPub               [32]byte
	SkeySig               [64]byte
	KeyIndex              uint32
	Platform              string
	PreKeys               []uploadedPreKey
}

func encodeGob(v any) []byte {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		panic(fmt.Errorf("wasim: gob encode %T: %w", v, err))
	}
	return buf.Bytes()
}

func decodeGob(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

func (s *Server) exec(query string, args ...any) {
	if s.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, query, args...); err != nil {
		s.log.Error().Err(err).Msg("wasim persistence write failed")
	}
}

func (s *Server) persistAccountLocked(a *account) {
	if s.db == nil {
		return
	}
	rec := accountRecord{LID: a.lid, PushName: a.pushName, PictureURL: a.pictureURL, Blocklist: a.blocklist, NextDevID: a.nextDevID}
	s.exec(`INSERT INTO wasim_accounts (pn, data) VALUES ($1, $2) ON CONFLICT (pn) DO UPDATE SET data=excluded.data`, a.pn, encodeGob(&rec))
	s.saveSim(a.primary)
}

// saveSim stores a simulated device's keys and Signal/app-state store.
func (s *Server) saveSim(d *simDevice) {
	if s.db == nil || d == nil {
		return
	}
	dev := d.store
	ms, ok := dev.Sessions.(*memstore.Store)
	if !ok {
		return
	}
	snap, err := ms.Snapshot()
	if err != nil {
		s.log.Error().Err(err).Msg("wasim snapshot failed")
		return
	}
	k := simKeysRecord{
		Noise: *dev.NoiseKey.Priv, Identity: *dev.IdentityKey.Priv,
		SignedPreKey: *dev.SignedPreKey.Priv, SignedPreKeyID: dev.SignedPreKey.KeyID, SignedPreKeySig: *dev.SignedPreKey.Signature,
		RegistrationID: dev.RegistrationID, AdvSecret: dev.AdvSecretKey,
	}
	s.exec(`INSERT INTO wasim_sim_devices (pn, keys, store) VALUES ($1, $2, $3) ON CONFLICT (pn) DO UPDATE SET keys=excluded.keys, store=excluded.store`,
		d.acct.pn, encodeGob(&k), snap)
}

func (s *Server) persistCompanionLocked(d *companion) {
	if s.db == nil {
		return
	}
	rec := companionRecord{NoisePub: d.noisePub, IdentityPub: d.identityPub, RegID: d.regID, SkeyID: d.skeyID, SkeyPub: d.skeyPub,
		SkeySig: d.skeySig, KeyIndex: d.keyIndex, Platform: d.platform, PreKeys: d.preKeys}
	s.exec(`INSERT INTO wasim_companions (pn, device, data) VALUES ($1, $2, $3) ON CONFLICT (pn, device) DO UPDATE SET data=excluded.data`,
		d.acct.pn, int(d.id), encodeGob(&rec))
}

func (s *Server) deleteCompanionLocked(d *companion) {
	s.exec(`DELETE FROM wasim_companions WHERE pn=$1 AND device=$2`, d.acct.pn, int(d.id))
	s.exec(`DELETE FROM wasim_queue WHERE pn=$1 AND device=$2`, d.acct.pn, int(d.id))
}

func (s *Server) persistQueueAddLocked(d *companion, key string, raw []byte) {
	s.exec(`INSERT INTO wasim_queue (pn, device, key, node) VALUES ($1, $2, $3, $4) ON CONFLICT (pn, device, key) DO UPDATE SET node=excluded.node`,
		d.acct.pn, int(d.id), key, raw)
}

func (s *Server) persistQueueDelLocked(d *companion, key string) {
	s.exec(`DELETE FROM wasim_queue WHERE pn=$1 AND device=$2 AND key=$3`, d.acct.pn, int(d.id), key)
}

func (s *Server) persistPatchLocked(a *account, name string, v uint64, raw []byte) {
	s.exec(`INSERT INTO wasim_appstate_patches (pn, collection, version, patch) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		a.pn, name, int64(v), raw)
}

// persistPhoneLocked stores the phone's app-state key, hash states and view
// (p.mu held) and its device store.
func (s *Server) persistPhoneLocked(p *Phone) {
	if s.db == nil {
		return
	}
	as := p.appState
	rec := phoneRecord{KeyID: as.keyID, KeyData: as.keyData, KeyTS: as.keyTS, States: as.states, View: as.view, Published: as.pushName, HistSent: p.histSent}
	s.exec(`INSERT INTO wasim_phones (pn, data) VALUES ($1, $2) ON CONFLICT (pn) DO UPDATE SET data=excluded.data`, p.acct.pn, encodeGob(&rec))
	s.saveSim(p.acct.primary)
}

// load creates the tables and restores all persisted state.
func (s *Server) load(ctx context.Context) error {
	pool := s.db.pool
	if _, err := pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	// The media key signs auth tokens and direct paths; keeping it lets
	// clients use cached media_conn tokens and old direct paths after a restart.
	if _, err := pool.Exec(ctx, `INSERT INTO wasim_meta (k, v) VALUES ('media_key', $1) ON CONFLICT (k) DO NOTHING`, s.mediaKey); err != nil {
		return fmt.Errorf("media key: %w", err)
	}
	if err := pool.QueryRow(ctx, `SELECT v FROM wasim_meta WHERE k='media_key'`).Scan(&s.mediaKey); err != nil {
		return fmt.Errorf("media key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := pool.Query(ctx, `SELECT a.pn, a.data, d.keys, d.store FROM wasim_accounts a JOIN wasim_sim_devices d USING (pn)`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pn string
		var data, keyData, storeData []byte
		if err = rows.Scan(&pn, &data, &keyData, &storeData); err != nil {
			rows.Close()
			return err
		}
		var rec accountRecord
		var kr simKeysRecord
		if err = decodeGob(data, &rec); err != nil {
			rows.Close()
			return fmt.Errorf("account %s: %w", pn, err)
		}
		if err = decodeGob(keyData, &kr); err != nil {
			rows.Close()
			return fmt.Errorf("device keys %s: %w", pn, err)
		}
		a := &account{s: s, pn: pn, lid: rec.LID, pushName: rec.PushName, pictureURL: rec.PictureURL, blocklist: rec.Blocklist,
			nextDevID: rec.NextDevID, companions: map[uint16]*companion{}, patches: map[string][][]byte{}}
		a.primary = s.newSimDevice(a)
		dev := a.primary.store
		dev.NoiseKey = keys.NewKeyPairFromPrivateKey(kr.Noise)
		dev.IdentityKey = keys.NewKeyPairFromPrivateKey(kr.Identity)
		sig := kr.SignedPreKeySig
		dev.SignedPreKey = &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey(kr.SignedPreKey), KeyID: kr.SignedPreKeyID, Signature: &sig}
		dev.RegistrationID = kr.RegistrationID
		dev.AdvSecretKey = kr.AdvSecret
		if err = dev.Sessions.(*memstore.Store).Restore(storeData); err != nil {
			rows.Close()
			return fmt.Errorf("device store %s: %w", pn, err)
		}
		a.phone = &Phone{acct: a, s: s, appState: newPhoneAppState()}
		a.contact = &Contact{acct: a, s: s}
		s.accounts[pn] = a
		s.byLID[a.lid] = a
	}
	rows.Close()
	if err = rows.Err(); err != nil {
		return err
	}

	rows, err = pool.Query(ctx, `SELECT pn, data FROM wasim_phones`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pn string
		var data []byte
		if err = rows.Scan(&pn, &data); err != nil {
			rows.Close()
			return err
		}
		a := s.accounts[pn]
		var rec phoneRecord
		if a == nil || decodeGob(data, &rec) != nil {
			continue
		}
		as := a.phone.appState
		as.keyID, as.keyData, as.keyTS, as.pushName = rec.KeyID, rec.KeyData, rec.KeyTS, rec.Published
		if rec.States != nil {
			as.states = rec.States
		}
		if rec.View.Chats != nil {
			as.view = rec.View
		}
		a.phone.histSent = rec.HistSent
	}
	rows.Close()

	rows, err = pool.Query(ctx, `SELECT pn, device, data FROM wasim_companions`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pn string
		var devID int
		var data []byte
		if err = rows.Scan(&pn, &devID, &data); err != nil {
			rows.Close()
			return err
		}
		a := s.accounts[pn]
		var rec companionRecord
		if a == nil || decodeGob(data, &rec) != nil {
			continue
		}
		a.companions[uint16(devID)] = &companion{acct: a, id: uint16(devID), noisePub: rec.NoisePub, identityPub: rec.IdentityPub,
			regID: rec.RegID, skeyID: rec.SkeyID, skeyPub: rec.SkeyPub, skeySig: rec.SkeySig, keyIndex: rec.KeyIndex,
			platform: rec.Platform, preKeys: rec.PreKeys}
	}
	rows.Close()

	rows, err = pool.Query(ctx, `SELECT pn, device, key, node FROM wasim_queue ORDER BY seq`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pn, key string
		var devID int
		var node []byte
		if err = rows.Scan(&pn, &devID, &key, &node); err != nil {
			rows.Close()
			return err
		}
		if a := s.accounts[pn]; a != nil {
			if d := a.companions[uint16(devID)]; d != nil {
				d.queue = append(d.queue, &pendingStanza{Key: key, Node: node})
			}
		}
	}
	rows.Close()

	rows, err = pool.Query(ctx, `SELECT pn, collection, patch FROM wasim_appstate_patches ORDER BY pn, collection, version`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pn, name string
		var patch []byte
		if err = rows.Scan(&pn, &name, &patch); err != nil {
			rows.Close()
			return err
		}
		if a := s.accounts[pn]; a != nil {
			a.patches[name] = append(a.patches[name], patch)
		}
	}
	rows.Close()
	return rows.Err()
}
