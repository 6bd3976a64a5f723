package wasim

import (
	"crypto/ecdh"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// rootSeed derives the test root key. It is fixed so that a simulator and a
// gateway in different processes agree on the root without exchanging it.
const rootSeed = "wasim test root key v1 - never trusted by real WhatsApp clients"

var (
	rootOnce sync.Once
	rootKey  *keys.KeyPair
)

// deterministicKeyPair derives a clamped Curve25519 key pair from a label.
func deterministicKeyPair(label string) *keys.KeyPair {
	priv := sha256.Sum256([]byte(label))
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	return keys.NewKeyPairFromPrivateKey(priv)
}

func testRoot() *keys.KeyPair {
	rootOnce.Do(func() {
		rootKey = deterministicKeyPair(rootSeed)
	})
	return rootKey
}

var installOnce sync.Once

// InstallRootKey makes whatsmeow in this process trust the simulator's test
// certificate root by assigning whatsmeow.WACertPubKey. It is idempotent
// (sync.Once) and process-global; the root is derived from a fixed seed, so
// every process that calls it trusts every simulator. Never call it in a
// process that must talk to real WhatsApp. It also installs a logger for
// libsignal once (see setupSignalLogger) unless one is installed.
func InstallRootKey() {
	setupSignalLogger()
	installOnce.Do(func() {
		whatsmeow.WACertPubKey = *testRoot().Pub
	})
}

// certChain is the server's Noise static key with its certificate chain.
type certChain struct {
	leaf   *keys.KeyPair
	leafDH *ecdh.PrivateKey // leaf.Priv, parsed once for the handshakes
	chain  []byte           // marshalled waCert.CertChain
}

const (
	intermediateSerial = 1
	leafSerial         = 2
)

func signedCert(details *waCert.CertChain_NoiseCertificate_Details, signer *keys.KeyPair) (*waCert.CertChain_NoiseCertificate, error) {
	raw, err := proto.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("marshal certificate details: %w", err)
	}
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*signer.Priv), raw)
	return &waCert.CertChain_NoiseCertificate{Details: raw, Signature: sig[:]}, nil
}

// newCertChain builds root -> intermediate -> leaf, valid from an hour ago
// for the given lifetime (at least 24 hours).
func newCertChain(lifetime time.Duration) (*certChain, error) {
	if lifetime < 24*time.Hour {
		lifetime = 24 * time.Hour
	}
	root := testRoot()
	inter := keys.NewKeyPair()
	leaf := keys.NewKeyPair()
	notBefore := uint64(time.Now().Add(-time.Hour).Unix())
	notAfter := uint64(time.Now().Add(lifetime).Unix())
	interCert, err := signedCert(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(intermediateSerial),
		IssuerSerial: proto.Uint32(whatsmeow.WACertIssuerSerial),
		Key:          inter.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	}, root)
	if err != nil {
		return nil, err
	}
	leafCert, err := signedCert(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(leafSerial),
		IssuerSerial: proto.Uint32(intermediateSerial),
		Key:          leaf.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	}, inter)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(&waCert.CertChain{Intermediate: interCert, Leaf: leafCert})
	if err != nil {
		return nil, fmt.Errorf("marshal certificate chain: %w", err)
	}
	leafDH, err := ecdh.X25519().NewPrivateKey(leaf.Priv[:])
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	return &certChain{leaf: leaf, leafDH: leafDH, chain: raw}, nil
}
