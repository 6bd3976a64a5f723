package wasim

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// TestCrossedSessionsStayDecryptable reproduces the soak's "no valid
// sessions" pair (run B of 3 December) deterministically, with two
// simulated devices and no network: both start a Signal session with the
// other at the same moment (two prekey messages cross), each replies on
// the session it received, and the replies cross as well. libsignal
// resolves the crossing by keeping both sessions in the record and
// decrypting with whichever matches. go.mau.fi/libsignal tries the
// current state first and ratchets it in place (new root key, sender
// chain, receiver chain) before the MAC check fails; when an older state
// then decrypts, the damaged one is kept, and the next messages on it can
// never be decrypted again, in either direction. The simulator decrypts
// each attempt on a fresh copy of the record (decryptRecord).
func TestCrossedSessionsStayDecryptable(t *testing.T) {
	ctx := context.Background()
	s := &Server{}
	mk := func(pn string) *simDevice {
		a := &account{s: s, pn: pn, lid: lidFor(pn)}
		a.primary = s.newSimDevice(a)
		return a.primary
	}
	a, b := mk("15550300001"), mk("15550300002")
	aAddr := types.NewJID(a.acct.lid, types.HiddenUserServer)
	bAddr := types.NewJID(b.acct.lid, types.HiddenUserServer)
	type wire struct {
		typ string
		ct  []byte
	}
	send := func(from, to *simDevice, toAddr types.JID, text string) wire {
		t.Helper()
		typ, ct, err := from.encrypt(ctx, toAddr, &waE2E.Message{Conversation: proto.String(text)}, func() (*prekeyBundle, error) {
			return to.prekeyBundle(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		return wire{typ, ct}
	}
	recv := func(at *simDevice, fromAddr types.JID, w wire, text string) {
		t.Helper()
		msg, err := at.decrypt(ctx, fromAddr, w.typ, w.ct)
		if err != nil {
			t.Fatalf("%s could not decrypt %q (%s): %v", at.acct.pn, text, w.typ, err)
		}
		if msg.GetConversation() != text {
			t.Fatalf("decrypted %q, want %q", msg.GetConversation(), text)
		}
	}
	a1 := send(a, b, bAddr, "a1") // both start a session: two pkmsgs cross
	b1 := send(b, a, aAddr, "b1")
	recv(b, aAddr, a1, "a1")
	b2 := send(b, a, aAddr, "b2") // b answers on the session a started
	recv(a, bAddr, b1, "b1")
	a2 := send(a, b, bAddr, "a2") // a answers on the session b started
	recv(a, bAddr, b2, "b2")
	recv(b, aAddr, a2, "a2")
	for i, text := range []string{"a3", "a4"} {
		recv(b, aAddr, send(a, b, bAddr, text), text)
		reply := []string{"b3", "b4"}[i]
		recv(a, bAddr, send(b, a, aAddr, reply), reply)
	}
}
