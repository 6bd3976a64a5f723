package wasim

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"

	"go.mau.fi/whatsmeow/util/gcmutil"
)

// noiseState is the responder side of Noise_XX_25519_AESGCM_SHA256 as
// whatsmeow's socket.NoiseHandshake runs it (its chaining key is
// unexported, so the symmetric state is mirrored here).
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newNoiseState(pattern string, header []byte) (*noiseState, error) {
	ns := &noiseState{}
	h := []byte(pattern)
	if len(h) != 32 {
		sum := sha256.Sum256(h)
		h = sum[:]
	}
	ns.hash = h
	ns.salt = h
	var err error
	if ns.key, err = gcmutil.Prepare(h); err != nil {
		return nil, err
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	sum := sha256.Sum256(append(append([]byte{}, ns.hash...), data...))
	ns.hash = sum[:]
}

func iv(counter uint32) []byte {
	out := make([]byte, 12)
	binary.BigEndian.PutUint32(out[8:], counter)
	return out
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ct := ns.key.Seal(nil, iv(ns.counter), plaintext, ns.hash)
	ns.counter++
	ns.authenticate(ct)
	return ct
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := ns.key.Open(nil, iv(ns.counter), ciphertext, ns.hash)
	ns.counter++
	if err != nil {
		return nil, err
	}
	ns.authenticate(ciphertext)
	return pt, nil
}

func extractAndExpand(salt, data []byte) (write, read []byte, err error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	write = make([]byte, 32)
	read = make([]byte, 32)
	if _, err = io.ReadFull(h, write); err != nil {
		return nil, nil, err
	}
	if _, err = io.ReadFull(h, read); err != nil {
		return nil, nil, err
	}
	return write, read, nil
}

// mixDH mixes the X25519 shared secret of priv and pub into the key.
// crypto/ecdh with an already parsed private key is one scalar
// multiplication; curve25519.X25519 would derive the public key first.
func (ns *noiseState) mixDH(priv *ecdh.PrivateKey, pub []byte) error {
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return fmt.Errorf("x25519 public key: %w", err)
	}
	secret, err := priv.ECDH(pk)
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	ns.counter = 0
	write, read, err := extractAndExpand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.salt = write
	ns.key, err = gcmutil.Prepare(read)
	return err
}

// split returns the transport ciphers from the server's point of view:
// the client's write key is the server's read key.
func (ns *noiseState) split() (serverRead, serverWrite cipher.AEAD, err error) {
	clientWrite, clientRead, err := extractAndExpand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if serverRead, err = gcmutil.Prepare(clientWrite); err != nil {
		return nil, nil, err
	}
	if serverWrite, err = gcmutil.Prepare(clientRead); err != nil {
		return nil, nil, err
	}
	return serverRead, serverWrite, nil
}
