package wasim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/optional"
	"go.mau.fi/util/random"
	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"

	"github.com/wagate-dev/wagate/internal/wasim/memstore"
)

// account is one WhatsApp account: a simulated primary device (the phone,
// device 0) and zero or more real companion devices (whatsmeow clients).
type account struct {
	s        *Server
	pn       string // phone number user part
	lid      string // LID user part
	pushName string

	primary    *simDevice
	companions map[uint16]*companion
	nextDevID  uint16

	blocklist  []string
	pictureURL string

	// app state (server side: opaque patches per collection)
	patches map[string][][]byte

	phone   *Phone
	contact *Contact
}

// uploadedPreKey is a one-time prekey a companion uploaded.
type uploadedPreKey struct {
	ID  uint32
	Pub [32]byte
}

// companion is a linked (real) client device.
type companion struct {
	acct        *account
	id          uint16
	noisePub    [32]byte
	identityPub [32]byte
	regID       uint32
	skeyID      uint32
	skeyPub     [32]byte
	skeySig     [64]byte
	keyIndex    uint32
	platform    string
	preKeys     []uploadedPreKey

	queue []*pendingStanza

	conn     *conn
	loggedIn bool
	frozen   bool
	// replaced counts the connections of this device the simulator closed
	// because the device logged in again while one was live.
	replaced int
}

// pendingStanza is a stanza waiting for the device's receipt or ack.
type pendingStanza struct {
	Key  string // class:type:id
	Node []byte // binary.Marshal output
}

func (d *companion) jid() types.JID {
	return types.JID{User: d.acct.pn, Server: types.DefaultUserServer, Device: d.id}
}

func (d *companion) lidJID() types.JID {
	return types.JID{User: d.acct.lid, Server: types.HiddenUserServer, Device: d.id}
}

func (a *account) pnJID() types.JID {
	return types.NewJID(a.pn, types.DefaultUserServer)
}

func (a *account) lidJID() types.JID {
	return types.NewJID(a.lid, types.HiddenUserServer)
}

func (a *account) sortedCompanionIDs() []uint16 {
	return slices.Sorted(maps.Keys(a.companions))
}

// normalizePhone strips everything but digits and a JID suffix.
func normalizePhone(phone string) string {
	if u, _, ok := strings.Cut(phone, "@"); ok {
		phone = u
	}
	if u, _, ok := strings.Cut(phone, ":"); ok {
		phone = u
	}
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lidFor derives the account's LID deterministically from its number.
func lidFor(pn string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte("wasim-lid:" + pn))
	return fmt.Sprintf("%d", 100000000000000+h.Sum64()%800000000000000)
}

// accountLocked returns (creating if needed) the account for a number.
func (s *Server) accountLocked(phone string) *account {
	pn := normalizePhone(phone)
	if a := s.accounts[pn]; a != nil {
		return a
	}
	a := &account{
		s:          s,
		pn:         pn,
		lid:        lidFor(pn),
		pushName:   "User " + pn,
		companions: map[uint16]*companion{},
		nextDevID:  1,
		patches:    map[string][][]byte{},
	}
	a.primary = s.newSimDevice(a)
	a.phone = &Phone{acct: a, s: s, appState: newPhoneAppState()}
	a.contact = &Contact{acct: a, s: s}
	s.accounts[pn] = a
	s.byLID[a.lid] = a
	s.persistAccountLocked(a)
	return a
}

// accountByJIDLocked finds an account by PN or LID JID (any device).
func (s *Server) accountByJIDLocked(jid types.JID) *account {
	switch jid.Server {
	case types.DefaultUserServer, types.LegacyUserServer:
		return s.accounts[jid.User]
	case types.HiddenUserServer:
		return s.byLID[jid.User]
	}
	return nil
}

// ReservedPrefix starts the numbers that are never on WhatsApp, even with
// Options.AutoRegister (for testing "The number is not on WhatsApp").
const ReservedPrefix = "999"

// IsReservedNumber reports whether a phone number (digits, with or without
// "+" or a JID suffix) is in the reserved range ReservedPrefix: Options.AutoRegister
// never creates it. Phone and Contact still can.
func IsReservedNumber(phone string) bool {
	return strings.HasPrefix(normalizePhone(phone), ReservedPrefix)
}

// autoRegisterable reports whether AutoRegister may create an account for
// the user part of a PN JID: 7 to 15 digits (E.164 without the "+"), not
// starting with 0 and not in the reserved range.
func autoRegisterable(user string) bool {
	if len(user) < 7 || len(user) > 15 || user[0] == '0' || strings.HasPrefix(user, ReservedPrefix) {
		return false
	}
	for _, r := range user {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// lookupAccountLocked is accountByJIDLocked for lookups a client makes
// (usync, prekey fetch): with Options.AutoRegister an unknown, valid phone
// number (PN JID) becomes an account, as if Contact had created it. LIDs
// are never created: a client only learns one from a PN lookup.
func (s *Server) lookupAccountLocked(jid types.JID) *account {
	if a := s.accountByJIDLocked(jid); a != nil || !s.opts.AutoRegister {
		return a
	}
	if jid.Server != types.DefaultUserServer || !autoRegisterable(jid.User) {
		return nil
	}
	return s.autoRegisterLocked(jid.User)
}

// autoRegisterLocked creates the account of a number no one created yet
// (Options.AutoRegister; the caller checked autoRegisterable).
func (s *Server) autoRegisterLocked(pn string) *account {
	a := s.accountLocked(pn)
	s.log.Debug().Str("phone", pn).Msg("auto-registered a simulated contact")
	s.countSent("auto-registered")
	return a
}

// simDevice is a device the simulator runs itself (a phone or a contact's
// only device). It holds real Signal state in a whatsmeow store.Device.
type simDevice struct {
	mu    sync.Mutex
	acct  *account
	store *store.Device

	recvMu   sync.Mutex
	received []Received
	notify   chan struct{}
}

func (s *Server) newSimDevice(a *account) *simDevice {
	dev := s.newSimStore(a)
	return &simDevice{acct: a, store: dev, notify: make(chan struct{})}
}

// newSimStore creates the store.Device of a simulated primary device.
func (s *Server) newSimStore(a *account) *store.Device {
	lids := memstore.NewLIDMap()
	ident := keys.NewKeyPair()
	dev := &store.Device{
		NoiseKey:       keys.NewKeyPair(),
		IdentityKey:    ident,
		RegistrationID: binary.BigEndian.Uint32(random.Bytes(4)) & 0x3fff,
		AdvSecretKey:   random.Bytes(32),
		LIDs:           lids,
		Initialized:    true,
	}
	dev.SignedPreKey = ident.CreateSignedPreKey(1)
	pn := types.NewJID(a.pn, types.DefaultUserServer)
	dev.ID = &pn
	dev.LID = types.NewJID(a.lid, types.HiddenUserServer)
	dev.SetAllStores(memstore.New(lids))
	return dev
}

func padMessage(plaintext []byte) []byte {
	pad := random.Bytes(1)[0] & 0xf
	if pad == 0 {
		pad = 0xf
	}
	out := slices.Clone(plaintext)
	for i := 0; i < int(pad); i++ {
		out = append(out, pad)
	}
	return out
}

func unpadMessage(plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, fmt.Errorf("empty plaintext")
	}
	n := int(plaintext[len(plaintext)-1])
	if n == 0 || n > len(plaintext) {
		return nil, fmt.Errorf("bad padding")
	}
	return plaintext[:len(plaintext)-n], nil
}

// encrypt encrypts a message for the peer address, building a session from
// the bundle returned by getBundle when there is none.
func (d *simDevice) encrypt(ctx context.Context, addr types.JID, msg *waE2E.Message, getBundle func() (*prekey.Bundle, error)) (string, []byte, error) {
	plaintext, err := proto.Marshal(msg)
	if err != nil {
		return "", nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	sa := addr.SignalAddress()
	builder := session.NewBuilderFromSignal(d.store, sa, store.SignalProtobufSerializer)
	has, err := d.store.ContainsSession(ctx, sa)
	if err != nil {
		return "", nil, err
	}
	if !has {
		bundle, err := getBundle()
		if err != nil {
			return "", nil, fmt.Errorf("prekey bundle for %s: %w", addr, err)
		}
		if err = builder.ProcessBundle(ctx, bundle); err != nil {
			return "", nil, fmt.Errorf("process bundle for %s: %w", addr, err)
		}
	}
	ct, err := session.NewCipher(builder, sa).Encrypt(ctx, padMessage(plaintext))
	if err != nil {
		return "", nil, fmt.Errorf("encrypt for %s: %w", addr, err)
	}
	encType := "msg"
	if ct.Type() == protocol.PREKEY_TYPE {
		encType = "pkmsg"
	}
	d.acct.s.saveSim(d)
	return encType, ct.Serialize(), nil
}

// encryptRetry encrypts a message again for a retry receipt; with a bundle
// (the receipt's keys) it first replaces the session with a new one.
func (d *simDevice) encryptRetry(ctx context.Context, addr types.JID, msg *waE2E.Message, bundle *prekey.Bundle) (string, []byte, error) {
	if bundle != nil {
		d.mu.Lock()
		err := d.store.Sessions.DeleteSession(ctx, addr.SignalAddress().String())
		d.mu.Unlock()
		if err != nil {
			return "", nil, err
		}
	}
	return d.encrypt(ctx, addr, msg, func() (*prekey.Bundle, error) {
		if bundle == nil {
			return nil, fmt.Errorf("no session and no keys in the retry receipt")
		}
		return bundle, nil
	})
}

// decrypt decrypts a pkmsg/msg from the peer address.
func (d *simDevice) decrypt(ctx context.Context, addr types.JID, encType string, ct []byte) (*waE2E.Message, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sa := addr.SignalAddress()
	ser := store.SignalProtobufSerializer
	var pt []byte
	switch encType {
	case "pkmsg":
		m, err := protocol.NewPreKeySignalMessageFromBytes(ct, ser.PreKeySignalMessage, ser.SignalMessage)
		if err != nil {
			return nil, err
		}
		if pt, err = d.decryptRecord(ctx, sa, m, m.WhisperMessage()); err != nil {
			return nil, err
		}
	case "msg":
		m, err := protocol.NewSignalMessageFromBytes(ct, ser.SignalMessage)
		if err != nil {
			return nil, err
		}
		if pt, err = d.decryptRecord(ctx, sa, nil, m); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported enc type %q", encType)
	}
	d.acct.s.saveSim(d)
	pt, err := unpadMessage(pt)
	if err != nil {
		return nil, err
	}
	var msg waE2E.Message
	if err = proto.Unmarshal(pt, &msg); err != nil {
		return nil, err
	}
	return &msg, nil
}

// decryptRecord decrypts a Signal message with the session record of sa
// (pre, when not nil, is the prekey message it came in: its session is
// added to the record first), trying the current state and then each
// archived one, every attempt on a fresh copy of the record.
//
// go.mau.fi/libsignal's Cipher.DecryptWithRecord tries the states of the
// record itself, and DecryptWithState ratchets a state in place (root key,
// sender chain, a new receiver chain) before the MAC check fails; when a
// later state decrypts, the record is stored with the damaged one, whose
// next messages can then never be decrypted, and whose sending chain the
// peer cannot follow when it is promoted again. With two sessions in one
// record (both sides started a session at once) that is a permanent
// "no valid sessions" both ways: the soak's lost pair
// (TestCrossedSessionsStayDecryptable). libsignal's reference
// implementation decrypts on a copy of each state; so does this.
func (d *simDevice) decryptRecord(ctx context.Context, sa *protocol.SignalAddress, pre *protocol.PreKeySignalMessage, m *protocol.SignalMessage) ([]byte, error) {
	ser := store.SignalProtobufSerializer
	if pre == nil {
		has, err := d.store.ContainsSession(ctx, sa)
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, fmt.Errorf("%w %s", signalerror.ErrNoSessionForUser, sa)
		}
	}
	base, err := d.store.LoadSession(ctx, sa)
	if err != nil {
		return nil, err
	}
	var unsignedPreKeyID *optional.Uint32
	if pre != nil {
		builder := session.NewBuilderFromSignal(d.store, sa, ser)
		if unsignedPreKeyID, err = builder.Process(ctx, base, pre); err != nil {
			return nil, err
		}
	}
	raw := base.Serialize()
	cipher := session.NewCipher(session.NewBuilderFromSignal(d.store, sa, ser), sa)
	n := 1 + len(base.PreviousSessionStates())
	for i := range n {
		fresh, err := record.NewSessionFromBytes(raw, ser.Session, ser.State)
		if err != nil {
			return nil, err
		}
		st := fresh.Structure()
		if i > 0 { // the archived state i-1 becomes current, the current one is archived first
			prev := append([]*record.StateStructure{st.SessionState}, st.PreviousStates[:i-1]...)
			prev = append(prev, st.PreviousStates[i:]...)
			st = &record.SessionStructure{SessionState: st.PreviousStates[i-1], PreviousStates: prev}
		}
		rec, err := record.NewSessionFromStructure(st, ser.Session, ser.State)
		if err != nil {
			return nil, err
		}
		pt, _, err := cipher.DecryptWithState(ctx, rec.SessionState(), m)
		if errors.Is(err, signalerror.ErrOldCounter) {
			return nil, err
		} else if err != nil {
			continue
		}
		if err = d.store.StoreSession(ctx, sa, rec); err != nil {
			return nil, err
		}
		if unsignedPreKeyID != nil && !unsignedPreKeyID.IsEmpty {
			if err = d.store.RemovePreKey(ctx, unsignedPreKeyID.Value); err != nil {
				return nil, err
			}
		}
		return pt, nil
	}
	return nil, signalerror.ErrNoValidSessions
}

// bundle returns the simulated device's own prekey bundle with a fresh
// one-time prekey.
func (d *simDevice) bundle(ctx context.Context) (regID uint32, ident [32]byte, skey *keys.PreKey, otk *keys.PreKey, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	otk, err = d.store.PreKeys.GenOnePreKey(ctx)
	d.acct.s.saveSim(d)
	return d.store.RegistrationID, *d.store.IdentityKey.Pub, d.store.SignedPreKey, otk, err
}

// companionBundleLocked builds a libsignal bundle for a companion from its
// uploads, consuming one one-time prekey.
func (s *Server) companionBundleLocked(d *companion) *prekey.Bundle {
	var pkID *optional.Uint32
	var pkPub ecc.ECPublicKeyable
	if len(d.preKeys) > 0 {
		pk := d.preKeys[0]
		d.preKeys = d.preKeys[1:]
		pkID = optional.NewOptionalUint32(pk.ID)
		pkPub = ecc.NewDjbECPublicKey(pk.Pub)
		s.persistCompanionLocked(d)
		s.checkLowPreKeysLocked(d)
	} else {
		pkID = optional.NewEmptyUint32()
	}
	return prekey.NewBundle(d.regID, uint32(d.id), pkID, d.skeyID, pkPub,
		ecc.NewDjbECPublicKey(d.skeyPub), d.skeySig, identity.NewKey(ecc.NewDjbECPublicKey(d.identityPub)))
}

func (s *Server) removeCompanionLocked(d *companion) {
	delete(d.acct.companions, d.id)
	d.loggedIn = false
	s.deleteCompanionLocked(d)
	s.notifyDevicesChangedLocked(d.acct)
}

type prekeyBundle = prekey.Bundle
