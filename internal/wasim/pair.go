package wasim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/util/random"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/pbkdf2"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
)

var (
	advAccountSignaturePrefix = []byte{6, 0}
	advDeviceSignaturePrefix  = []byte{6, 1}
)

// qrPrefix is what whatsmeow puts before the QR fields since 2026.
const qrPrefix = "https://wa.me/settings/linked_devices#"

// refsPerQR is how many refs pair-device carries (like the real server: the
// first QR code lives 60 s, the others 20 s).
const refsPerQR = 6

// registration is an unpaired client connection waiting to be linked.
type registration struct {
	conn        *conn
	regID       uint32
	identityPub [32]byte
	skeyID      uint32
	skeyPub     [32]byte
	skeySig     [64]byte
	platform    string
	refs        []string
}

// codePairing is a pending "link with phone number" request.
type codePairing struct {
	reg     *registration
	pn      string
	wrapped []byte // companion's wrapped ephemeral key (80 bytes)
	ref     []byte
	finish  chan *waBinary.Node
}

func beUint(b []byte) uint32 {
	var v uint32
	for _, x := range b {
		v = v<<8 | uint32(x)
	}
	return v
}

func (s *Server) onHandshake(c *conn) {
	if pd := c.payload.GetDevicePairingData(); pd != nil {
		s.startRegistration(c, pd)
		return
	}
	s.login(c)
}

func (s *Server) startRegistration(c *conn, pd interface {
	GetERegid() []byte
	GetEIdent() []byte
	GetESkeyID() []byte
	GetESkeyVal() []byte
	GetESkeySig() []byte
	GetDeviceProps() []byte
}) {
	if len(pd.GetEIdent()) != 32 || len(pd.GetESkeyVal()) != 32 || len(pd.GetESkeySig()) != 64 {
		s.violation("registration payload with malformed keys")
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "400"}})
		return
	}
	reg := &registration{
		conn:        c,
		regID:       beUint(pd.GetERegid()),
		identityPub: [32]byte(pd.GetEIdent()),
		skeyID:      beUint(pd.GetESkeyID()),
		skeyPub:     [32]byte(pd.GetESkeyVal()),
		skeySig:     [64]byte(pd.GetESkeySig()),
	}
	var props waCompanionReg.DeviceProps
	if proto.Unmarshal(pd.GetDeviceProps(), &props) == nil {
		reg.platform = props.GetOs()
	}
	refNodes := make([]waBinary.Node, refsPerQR)
	s.mu.Lock()
	c.reg = reg
	for i := range refNodes {
		ref := "2@" + base64.RawStdEncoding.EncodeToString(random.Bytes(24))
		reg.refs = append(reg.refs, ref)
		s.pendingRefs[ref] = reg
		refNodes[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	s.mu.Unlock()
	c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "id": randomHex(8), "type": "set", "xmlns": "md",
	}, Content: []waBinary.Node{{Tag: "pair-device", Content: refNodes}}})
}

func (s *Server) login(c *conn) {
	user := strconv.FormatUint(c.payload.GetUsername(), 10)
	devID := uint16(c.payload.GetDevice())
	s.mu.Lock()
	var d *companion
	if a := s.accounts[user]; a != nil {
		d = a.companions[devID]
	}
	if d == nil || d.noisePub != c.noisePub {
		s.mu.Unlock()
		c.log.Info().Str("user", user).Uint16("device", devID).Msg("login refused")
		c.sendAndClose(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "401", "location": "wasim"}})
		return
	}
	if n, ok := s.faults.takeLoginFault(c.noisePub); ok { // fault_kinds.go
		s.mu.Unlock()
		c.log.Info().Str("answer", n.Tag).Msg("fault: login refused")
		c.sendAndClose(n)
		return
	}
	old := d.conn
	if old != nil && old != c {
		d.replaced++
	}
	d.conn = c
	d.loggedIn = true
	c.dev = d
	c.frozen.Store(d.frozen)
	queued := make([][]byte, len(d.queue))
	for i, p := range d.queue {
		queued[i] = p.Node
	}
	c.log.Debug().Str("device", d.jid().String()).Int("offline", len(queued)).Msg("device logged in")
	// Sent under s.mu (send never blocks) so nothing enqueued concurrently
	// can overtake <success> or the offline backlog.
	c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t": unixNow(), "lid": d.lidJID(), "props": "1", "location": "wasim",
	}})
	for _, raw := range queued {
		node, err := decodeNode(raw)
		if err != nil {
			c.log.Error().Err(err).Msg("corrupt queued stanza")
			continue
		}
		c.send(*node)
	}
	c.send(waBinary.Node{Tag: "ib", Content: []waBinary.Node{{Tag: "offline", Attrs: waBinary.Attrs{"count": strconv.Itoa(len(queued))}}}})
	s.mu.Unlock()
	if old != nil && old != c {
		old.sendAndClose(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "409"},
			Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "replaced"}}}})
	}
}

// parseQR splits a QR string into ref, noise key, identity key and ADV
// secret. It accepts the "https://wa.me/settings/linked_devices#" 5-field
// form and the older 4-field form.
func parseQR(qr string) (ref string, noise, ident [32]byte, adv []byte, err error) {
	qr = strings.TrimPrefix(strings.TrimSpace(qr), qrPrefix)
	parts := strings.Split(qr, ",")
	if len(parts) != 4 && len(parts) != 5 {
		return "", noise, ident, nil, fmt.Errorf("wasim: QR has %d fields, want 4 or 5", len(parts))
	}
	dec := func(s string, n int) ([]byte, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		if len(b) != n {
			return nil, fmt.Errorf("length %d, want %d", len(b), n)
		}
		return b, nil
	}
	nb, err := dec(parts[1], 32)
	if err != nil {
		return "", noise, ident, nil, fmt.Errorf("wasim: QR noise key: %w", err)
	}
	ib, err := dec(parts[2], 32)
	if err != nil {
		return "", noise, ident, nil, fmt.Errorf("wasim: QR identity key: %w", err)
	}
	adv, err = dec(parts[3], 32)
	if err != nil {
		return "", noise, ident, nil, fmt.Errorf("wasim: QR adv secret: %w", err)
	}
	return parts[0], [32]byte(nb), [32]byte(ib), adv, nil
}

// ScanQR links the companion that shows this QR code to the phone's
// account, exactly like scanning it in "Linked devices". It returns the
// new companion device JID once the client has confirmed the pairing
// (pair-device-sign verified) and was told to reconnect (stream error 515).
func (p *Phone) ScanQR(ctx context.Context, qr string) (types.JID, error) {
	ref, noise, ident, adv, err := parseQR(qr)
	if err != nil {
		return types.EmptyJID, err
	}
	s := p.s
	s.mu.Lock()
	reg := s.pendingRefs[ref]
	s.mu.Unlock()
	if reg == nil {
		return types.EmptyJID, fmt.Errorf("wasim: unknown or expired QR ref %q", ref)
	}
	if reg.conn.noisePub != noise {
		s.violation("QR noise key does not match the connection's noise key")
		return types.EmptyJID, errors.New("wasim: QR noise key does not match the connection")
	}
	if reg.identityPub != ident {
		s.violation("QR identity key does not match the registration payload")
		return types.EmptyJID, errors.New("wasim: QR identity key does not match the registration")
	}
	return s.completePairing(ctx, p.acct, reg, adv)
}

// EnterCode types the pairing code shown by the companion's PairPhone
// (with or without the dash) into the phone. The companion must have called
// PairPhone with this phone's number.
func (p *Phone) EnterCode(ctx context.Context, code string) (types.JID, error) {
	code = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	if len(code) != 8 {
		return types.EmptyJID, fmt.Errorf("wasim: pairing code must have 8 characters, got %d", len(code))
	}
	s := p.s
	s.mu.Lock()
	cp := s.pendingCode[p.acct.pn]
	s.mu.Unlock()
	if cp == nil {
		return types.EmptyJID, fmt.Errorf("wasim: no pending code pairing for %s", p.acct.pn)
	}
	w := cp.wrapped
	compEph := make([]byte, 32)
	ctr, err := codeCipher(code, w[0:32], w[32:48])
	if err != nil {
		return types.EmptyJID, err
	}
	ctr.XORKeyStream(compEph, w[48:80])

	phoneEph := keys.NewKeyPair()
	salt, ivb := random.Bytes(32), random.Bytes(16)
	ctr, err = codeCipher(code, salt, ivb)
	if err != nil {
		return types.EmptyJID, err
	}
	encEph := make([]byte, 32)
	ctr.XORKeyStream(encEph, phoneEph.Pub[:])
	wrapped := bytes.Join([][]byte{salt, ivb, encEph}, nil)

	phoneIdent := p.acct.primary.store.IdentityKey
	reg := cp.reg
	reg.conn.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "type": "link_code_companion_reg", "id": randomHex(8), "t": unixNow(),
	}, Content: []waBinary.Node{{Tag: "link_code_companion_reg", Content: []waBinary.Node{
		{Tag: "link_code_pairing_ref", Content: cp.ref},
		{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrapped},
		{Tag: "primary_identity_pub", Content: phoneIdent.Pub[:]},
	}}}})

	var finish *waBinary.Node
	select {
	case finish = <-cp.finish:
	case <-ctx.Done():
		return types.EmptyJID, ctx.Err()
	case <-reg.conn.ctx.Done():
		return types.EmptyJID, errors.New("wasim: companion disconnected during code pairing")
	}
	bundle, _ := finish.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	compIdent, _ := finish.GetChildByTag("companion_identity_public").Content.([]byte)
	if len(bundle) < 32+12+16 {
		return types.EmptyJID, errors.New("wasim: short key bundle")
	}
	ephShared, err := curve25519.X25519(phoneEph.Priv[:], compEph)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: ephemeral agreement: %w", err)
	}
	kbKey := hkdfutil.SHA256(ephShared, bundle[0:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32)
	block, err := aes.NewCipher(kbKey)
	if err != nil {
		return types.EmptyJID, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return types.EmptyJID, err
	}
	pt, err := gcm.Open(nil, bundle[32:44], bundle[44:], nil)
	if err != nil || len(pt) != 96 {
		return types.EmptyJID, errors.New("wasim: cannot open key bundle (wrong pairing code?)")
	}
	if !bytes.Equal(pt[0:32], reg.identityPub[:]) || !bytes.Equal(compIdent, reg.identityPub[:]) {
		s.violation("code pairing: companion identity in key bundle does not match registration")
		return types.EmptyJID, errors.New("wasim: companion identity mismatch")
	}
	if !bytes.Equal(pt[32:64], phoneIdent.Pub[:]) {
		return types.EmptyJID, errors.New("wasim: primary identity mismatch in key bundle")
	}
	identShared, err := curve25519.X25519(phoneIdent.Priv[:], pt[0:32])
	if err != nil {
		return types.EmptyJID, err
	}
	adv := hkdfutil.SHA256(bytes.Join([][]byte{ephShared, identShared, pt[64:96]}, nil), nil, []byte("adv_secret"), 32)
	s.mu.Lock()
	delete(s.pendingCode, p.acct.pn)
	s.mu.Unlock()
	return s.completePairing(ctx, p.acct, reg, adv)
}

func codeCipher(code string, salt, ivb []byte) (cipher.Stream, error) {
	key := pbkdf2.Key([]byte(code), salt, 2<<16, 32, sha256.New)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewCTR(block, ivb), nil
}

// testHookPairSigned, when set (tests only), runs after the client's
// pair-device-sign was verified, before the pairing is finished.
var testHookPairSigned atomic.Pointer[func()]

// completePairing sends pair-success, verifies pair-device-sign, registers
// the companion and sends stream error 515.
func (s *Server) completePairing(ctx context.Context, acct *account, reg *registration, advSecret []byte) (types.JID, error) {
	s.mu.Lock()
	devID := acct.nextDevID
	acct.nextDevID++
	s.mu.Unlock()
	phoneIdent := acct.primary.store.IdentityKey
	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(binary.BigEndian.Uint32(random.Bytes(4))),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(uint32(devID)),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return types.EmptyJID, err
	}
	accSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*phoneIdent.Priv),
		bytes.Join([][]byte{advAccountSignaturePrefix, details, reg.identityPub[:]}, nil))
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details: details, AccountSignatureKey: phoneIdent.Pub[:], AccountSignature: accSig[:],
	})
	if err != nil {
		return types.EmptyJID, err
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details: signed, HMAC: mac.Sum(nil), AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return types.EmptyJID, err
	}
	jid := types.JID{User: acct.pn, Server: types.DefaultUserServer, Device: devID}
	lid := types.JID{User: acct.lid, Server: types.HiddenUserServer, Device: devID}
	d := &companion{
		acct: acct, id: devID, noisePub: reg.conn.noisePub, identityPub: reg.identityPub,
		regID: reg.regID, skeyID: reg.skeyID, skeyPub: reg.skeyPub, skeySig: reg.skeySig,
		keyIndex: uint32(devID), platform: reg.platform,
	}
	// The phone's side first (app-state key, push name, seed patches), then
	// the device is committed: the client stores its device as soon as it
	// gets pair-success, so a Postgres-backed simulator must already have
	// it then, or a restart before the end of the pairing would refuse the
	// client's login and log the session out.
	if err = acct.phone.prepareLink(ctx); err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: phone app state: %w", err)
	}
	s.mu.Lock()
	err = s.persistPairingLocked(d)
	s.mu.Unlock()
	if err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: store the new device: %w", err)
	}
	linked := false
	defer func() {
		if !linked { // not confirmed: forget the device again
			s.mu.Lock()
			if acct.companions[devID] == nil {
				s.deleteCompanionLocked(d)
			}
			s.mu.Unlock()
		}
	}()
	reqCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := reg.conn.request(reqCtx, waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "id": randomHex(8), "type": "set", "xmlns": "md", "t": unixNow(),
	}, Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
		{Tag: "device-identity", Content: container},
		{Tag: "device", Attrs: waBinary.Attrs{"jid": jid, "lid": lid}},
		{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
	}}}})
	if err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: waiting for pair-device-sign: %w", err)
	}
	if resp.AttrGetter().OptionalString("type") != "result" {
		return types.EmptyJID, fmt.Errorf("wasim: client rejected pairing: %s", resp.String())
	}
	identNode, ok := resp.GetOptionalChildByTag("pair-device-sign", "device-identity")
	raw, _ := identNode.Content.([]byte)
	var signedBack waAdv.ADVSignedDeviceIdentity
	if !ok || proto.Unmarshal(raw, &signedBack) != nil {
		s.violation("pair-device-sign without a device identity")
		return types.EmptyJID, errors.New("wasim: malformed pair-device-sign")
	}
	if !bytes.Equal(signedBack.GetDetails(), details) || len(signedBack.GetDeviceSignature()) != 64 ||
		!ecc.VerifySignature(ecc.NewDjbECPublicKey(reg.identityPub),
			bytes.Join([][]byte{advDeviceSignaturePrefix, details, reg.identityPub[:], phoneIdent.Pub[:]}, nil),
			[64]byte(signedBack.GetDeviceSignature())) {
		s.violation("pair-device-sign with an invalid device signature")
		return types.EmptyJID, errors.New("wasim: invalid device signature in pair-device-sign")
	}
	if h := testHookPairSigned.Load(); h != nil {
		(*h)()
	}
	linked = true
	s.mu.Lock()
	acct.companions[devID] = d
	for _, ref := range reg.refs {
		delete(s.pendingRefs, ref)
	}
	s.notifyDevicesChangedLocked(acct)
	s.mu.Unlock()
	if err = acct.phone.onCompanionLinked(ctx, d); err != nil {
		s.log.Error().Err(err).Msg("phone failed to share app state keys")
	}
	reg.conn.sendAndClose(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
	return jid, nil
}
