package wasim

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
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
CREATE TABLE IF NOT EXISTS wasim_media_sent (
	message_id text PRIMARY KEY,
	blob_id    text NOT NULL,
	media_key  bytea NOT NULL,
	expired    boolean NOT NULL DEFAULT false
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

// stmt is one SQL statement with its arguments.
type stmt struct {
	query string
	args  []any
}

// persistAttempts is how often a write is tried before it counts as
// failed (transient errors: connection limits, restarts, timeouts).
const persistAttempts = 4

// write commits the statements in one transaction, retrying transient
// failures while the server runs. A write that still fails is logged and
// recorded (PersistErrors): nothing is dropped silently.
func (s *Server) write(stmts ...stmt) error {
	if s.db == nil || len(stmts) == 0 {
		return nil
	}
	var err error
	for attempt := 0; attempt < persistAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-s.baseCtx.Done():
				attempt = persistAttempts
				continue
			case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
			}
		}
		ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
		if len(stmts) == 1 {
			_, err = s.db.pool.Exec(ctx, stmts[0].query, stmts[0].args...)
		} else {
			err = pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
				for _, st := range stmts {
					if _, err := tx.Exec(ctx, st.query, st.args...); err != nil {
						return err
					}
				}
				return nil
			})
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	s.persistFailed(err)
	return err
}

func (s *Server) persistFailed(err error) {
	s.log.Error().Err(err).Msg("wasim persistence write failed")
	s.statsMu.Lock()
	s.persistErrs = append(s.persistErrs, err.Error())
	s.sentTags["persist:error"]++
	s.statsMu.Unlock()
}

// PersistErrors returns the Postgres writes that failed for good (after
// retries): the persisted state may miss these changes. Writes cut off by
// Close are included.
func (s *Server) PersistErrors() []string {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return slices.Clone(s.persistErrs)
}

func (s *Server) exec(query string, args ...any) {
	_ = s.write(stmt{query, args})
}

func accountStmt(a *account) stmt {
	rec := accountRecord{LID: a.lid, PushName: a.pushName, PictureURL: a.pictureURL, Blocklist: a.blocklist, NextDevID: a.nextDevID}
	return stmt{`INSERT INTO wasim_accounts (pn, data) VALUES ($1, $2) ON CONFLICT (pn) DO UPDATE SET data=excluded.data`,
		[]any{a.pn, encodeGob(&rec)}}
}

// persistAccountLocked stores the account and its simulated device in one
// transaction (load only restores accounts that have both).
func (s *Server) persistAccountLocked(a *account) {
	if s.db == nil {
		return
	}
	stmts := []stmt{accountStmt(a)}
	if st, ok := s.simStmt(a.primary); ok {
		stmts = append(stmts, st)
	}
	_ = s.write(stmts...)
}

// saveSim stores a simulated device's keys and Signal/app-state store.
func (s *Server) saveSim(d *simDevice) {
	if s.db == nil || d == nil {
		return
	}
	if st, ok := s.simStmt(d); ok {
		_ = s.write(st)
	}
}

func (s *Server) simStmt(d *simDevice) (stmt, bool) {
	dev := d.store
	ms, ok := dev.Sessions.(*memstore.Store)
	if !ok {
		return stmt{}, false
	}
	snap, err := ms.Snapshot()
	if err != nil {
		s.persistFailed(fmt.Errorf("snapshot of %s: %w", d.acct.pn, err))
		return stmt{}, false
	}
	k := simKeysRecord{
		Noise: *dev.NoiseKey.Priv, Identity: *dev.IdentityKey.Priv,
		SignedPreKey: *dev.SignedPreKey.Priv, SignedPreKeyID: dev.SignedPreKey.KeyID, SignedPreKeySig: *dev.SignedPreKey.Signature,
		RegistrationID: dev.RegistrationID, AdvSecret: dev.AdvSecretKey,
	}
	return stmt{`INSERT INTO wasim_sim_devices (pn, keys, store) VALUES ($1, $2, $3) ON CONFLICT (pn) DO UPDATE SET keys=excluded.keys, store=excluded.store`,
		[]any{d.acct.pn, encodeGob(&k), snap}}, true
}

func companionStmt(d *companion) stmt {
	rec := companionRecord{NoisePub: d.noisePub, IdentityPub: d.identityPub, RegID: d.regID, SkeyID: d.skeyID, SkeyPub: d.skeyPub,
		SkeySig: d.skeySig, KeyIndex: d.keyIndex, Platform: d.platform, PreKeys: d.preKeys}
	return stmt{`INSERT INTO wasim_companions (pn, device, data) VALUES ($1, $2, $3) ON CONFLICT (pn, device) DO UPDATE SET data=excluded.data`,
		[]any{d.acct.pn, int(d.id), encodeGob(&rec)}}
}

func (s *Server) persistCompanionLocked(d *companion) {
	if s.db == nil {
		return
	}
	_ = s.write(companionStmt(d))
}

// persistPairingLocked commits a new companion together with its
// account (whose NextDevID already counts it). It runs before the client
// gets pair-success: from then on the client holds the device, so the
// simulator must never come back without it.
func (s *Server) persistPairingLocked(d *companion) error {
	if s.db == nil {
		return nil
	}
	return s.write(accountStmt(d.acct), companionStmt(d))
}

func (s *Server) deleteCompanionLocked(d *companion) {
	_ = s.write(stmt{`DELETE FROM wasim_companions WHERE pn=$1 AND device=$2`, []any{d.acct.pn, int(d.id)}},
		stmt{`DELETE FROM wasim_queue WHERE pn=$1 AND device=$2`, []any{d.acct.pn, int(d.id)}})
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
// CreateTables creates the simulator's tables in the database of pool when
// they are missing. New does so too, but simulators (or sandbox gateways)
// that start together on an empty database must run this first while
// holding the gateway's migration lock, or their concurrent CREATE TABLEs
// collide (pg_type_typname_nsp_index).
func CreateTables(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("wasim: create tables: %w", err)
	}
	// The group tables too: created only by load (outside the caller's
	// migration lock), two simulators starting together collided on
	// pg_type_typname_nsp_index (TestNodesStartTogether).
	if _, err := pool.Exec(ctx, groupSchema); err != nil {
		return fmt.Errorf("wasim: create group tables: %w", err)
	}
	return nil
}

func (s *Server) load(ctx context.Context) error {
	pool := s.db.pool
	if err := CreateTables(ctx, pool); err != nil {
		return err
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
	// Every number that has an account, a simulated device or a companion
	// row is restored. State written one statement at a time (older
	// versions) or cut off by a crash may lack a row: a missing account
	// record gets defaults, a missing simulated device new keys, and the
	// account is stored again. Dropping the account would silently drop its
	// linked devices, whose clients would then be refused ("login refused").
	var repaired []*account
	rows, err := pool.Query(ctx, `SELECT p.pn, a.data, d.keys, d.store FROM
		(SELECT pn FROM wasim_accounts UNION SELECT pn FROM wasim_sim_devices UNION SELECT pn FROM wasim_companions) p
		LEFT JOIN wasim_accounts a USING (pn) LEFT JOIN wasim_sim_devices d USING (pn)`)
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
		rec := accountRecord{LID: lidFor(pn), PushName: "User " + pn, NextDevID: 1}
		var kr simKeysRecord
		if data == nil {
			s.log.Warn().Str("pn", pn).Msg("no stored account record: defaults")
		} else if err = decodeGob(data, &rec); err != nil {
			rows.Close()
			return fmt.Errorf("account %s: %w", pn, err)
		}
		a := &account{s: s, pn: pn, lid: rec.LID, pushName: rec.PushName, pictureURL: rec.PictureURL, blocklist: rec.Blocklist,
			nextDevID: max(rec.NextDevID, 1), companions: map[uint16]*companion{}, patches: map[string][][]byte{}}
		a.primary = s.newSimDevice(a)
		a.phone = &Phone{acct: a, s: s, appState: newPhoneAppState()}
		a.contact = &Contact{acct: a, s: s}
		s.accounts[pn] = a
		s.byLID[a.lid] = a
		if data == nil || keyData == nil {
			repaired = append(repaired, a)
		}
		if keyData == nil {
			s.log.Warn().Str("pn", pn).Msg("no stored simulated device: new phone keys")
			continue
		}
		if err = decodeGob(keyData, &kr); err != nil {
			rows.Close()
			return fmt.Errorf("device keys %s: %w", pn, err)
		}
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
		if a == nil {
			continue
		}
		if err := decodeGob(data, &rec); err != nil {
			s.log.Error().Err(err).Str("pn", pn).Msg("phone state not restored")
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
		var rec companionRecord
		if err = decodeGob(data, &rec); err != nil {
			rows.Close()
			return fmt.Errorf("companion %s:%d: %w", pn, devID, err)
		}
		a := s.accounts[pn] // every pn with a companion row was loaded above
		if a.nextDevID <= uint16(devID) {
			a.nextDevID = uint16(devID) + 1 // never hand out a linked device's id again
		}
		a.companions[uint16(devID)] = &companion{acct: a, id: uint16(devID), noisePub: rec.NoisePub, identityPub: rec.IdentityPub,
			regID: rec.RegID, skeyID: rec.SkeyID, skeyPub: rec.SkeyPub, skeySig: rec.SkeySig, keyIndex: rec.KeyIndex,
			platform: rec.Platform, preKeys: rec.PreKeys}
	}
	rows.Close()

	for _, a := range repaired {
		s.persistAccountLocked(a) // with nextDevID past the linked devices
	}

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
	if err = rows.Err(); err != nil {
		return err
	}
	return s.loadGroupsLocked(ctx)
}
