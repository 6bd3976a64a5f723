package wasim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// FaultKind names a failure the simulator can inject on a companion's
// connection, each reproducing what WhatsApp sends (see InjectFault).
type FaultKind string

// The fault kinds. The first seven are the sandbox API's kinds
// (POST /sandbox/sessions/{id}/faults).
const (
	// FaultDrop closes the socket abruptly (no stream end).
	FaultDrop FaultKind = "drop"
	// FaultSilent keeps the current socket open but answers and sends
	// nothing on it any more (the zombie); the next connection is served.
	FaultSilent FaultKind = "silent"
	// FaultStreamErrorAck is the WAHA 2151 / Evolution Go 185 pattern: a
	// status-broadcast stanza (<status type="media">) the server counts
	// as unacknowledged, then <stream:error><ack class="status" .../>
	// and the socket closes. The stanza stays queued until acked.
	FaultStreamErrorAck FaultKind = "stream-error-ack"
	// FaultPingError answers the next login with <stream:error><ping/>
	// (the current connection, if any, is dropped so a login follows).
	FaultPingError FaultKind = "ping-error"
	// FaultReplaced sends <stream:error code="409"><conflict
	// type="replaced"/> as when another client logs in with the keys.
	FaultReplaced FaultKind = "replaced"
	// FaultClientOutdated answers the next login with <failure
	// reason="405"/> (client version rejected); the current connection,
	// if any, is dropped so a login follows.
	FaultClientOutdated FaultKind = "client-outdated"
	// FaultLogout unlinks the device as if removed on the phone.
	FaultLogout FaultKind = "logout"

	// FaultLoginUnavailable answers the next login with <failure
	// reason="503"/> (WhatsApp's service unavailable: retry).
	FaultLoginUnavailable FaultKind = "login-unavailable"
	// FaultTempBan answers the next login with <failure reason="402"
	// code="101" expire="3600"/> (temporarily banned).
	FaultTempBan FaultKind = "temp-ban"
	// FaultHalfFrame writes the first half of a frame and then nothing
	// more on that socket (a half-delivered frame).
	FaultHalfFrame FaultKind = "half-frame"
	// FaultSlowAcks delays the server's <ack> of every message the
	// companion sends by Faults.SlowAckDelay (default 2 s).
	FaultSlowAcks FaultKind = "slow-acks"
	// FaultNoAcks makes the server stop acking the messages the companion
	// sends (they are still delivered); FaultClear ends it.
	FaultNoAcks FaultKind = "no-acks"
	// FaultClear ends slow-acks and no-acks and forgets a pending login
	// fault.
	FaultClear FaultKind = "clear"
)

// FaultKinds lists every kind InjectFault accepts.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultDrop, FaultSilent, FaultStreamErrorAck, FaultPingError, FaultReplaced,
		FaultClientOutdated, FaultLogout, FaultLoginUnavailable, FaultTempBan, FaultHalfFrame,
		FaultSlowAcks, FaultNoAcks, FaultClear}
}

// AckClasses are the stanza classes StreamErrorAck can name.
var AckClasses = []string{"status", "message", "receipt", "notification", "call"}

// ErrUnknownFault is returned for a kind outside FaultKinds.
var ErrUnknownFault = errors.New("wasim: unknown fault kind")

// ErrNoDevice is returned when the device is not linked.
var ErrNoDevice = errors.New("wasim: no such linked device")

// faultBook is the per-device fault state and the ack accounting. Its
// zero value is ready; it has its own lock (never held with s.mu taken
// after it).
type faultBook struct {
	mu sync.Mutex
	// keyed by the companion's noise key (stable per device, known to a
	// conn without s.mu)
	login    map[[32]byte]waBinary.Node // answer of the next login
	ackDelay map[[32]byte]time.Duration // <0: never ack
	// accounting
	outstanding map[string]string // dev|class:type:id -> class
	sent, acked map[string]int    // by class
	injected    map[FaultKind]int
}

// SlowAckDelay is how long FaultSlowAcks holds each ack.
const SlowAckDelay = 2 * time.Second

// ackedClasses are the stanza tags whatsmeow must acknowledge (with an
// <ack>, or a <receipt> for messages).
var ackedClasses = []string{"message", "receipt", "notification", "call", "status"}

func acctKey(noise [32]byte, class, typ, id string) string {
	if class == "message" {
		typ = ""
	}
	return hex.EncodeToString(noise[:6]) + "|" + queueKey(class, typ, id)
}

// noteSent records a stanza sent to a client that expects an ack.
func (f *faultBook) noteSent(c *conn, node waBinary.Node) {
	if !slices.Contains(ackedClasses, node.Tag) {
		return
	}
	id, _ := node.Attrs["id"].(string)
	if id == "" {
		return
	}
	typ, _ := node.Attrs["type"].(string)
	k := acctKey(c.noisePub, node.Tag, typ, id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outstanding == nil {
		f.outstanding, f.sent, f.acked = map[string]string{}, map[string]int{}, map[string]int{}
	}
	if _, ok := f.outstanding[k]; ok {
		return // redelivered
	}
	f.outstanding[k] = node.Tag
	f.sent[node.Tag]++
}

// noteAcked records the client's ack (or a message's receipt).
func (f *faultBook) noteAcked(c *conn, class, typ string, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		k := acctKey(c.noisePub, class, typ, id)
		if cl, ok := f.outstanding[k]; ok {
			delete(f.outstanding, k)
			f.acked[cl]++
		}
	}
}

// AckReport is the simulator's accounting of stanzas that expect an ack.
type AckReport struct {
	// Sent and Acked count distinct stanzas by class (a redelivery counts once).
	Sent, Acked map[string]int
	// Outstanding lists the stanzas not acked yet ("class:type:id", sorted).
	Outstanding []string
}

// Acks returns the ack accounting over all devices.
func (s *Server) Acks() AckReport {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	r := AckReport{Sent: map[string]int{}, Acked: map[string]int{}}
	for k, v := range f.sent {
		r.Sent[k] = v
	}
	for k, v := range f.acked {
		r.Acked[k] = v
	}
	for k := range f.outstanding {
		_, key, _ := strings.Cut(k, "|")
		r.Outstanding = append(r.Outstanding, key)
	}
	sort.Strings(r.Outstanding)
	return r
}

// FaultsInjected counts the faults injected, by kind.
func (s *Server) FaultsInjected() map[FaultKind]int {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[FaultKind]int{}
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

// takeLoginFault returns the answer a login with this key gets instead of
// <success>, once.
func (f *faultBook) takeLoginFault(noise [32]byte) (waBinary.Node, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.login[noise]
	if ok {
		delete(f.login, noise)
	}
	return n, ok
}

func (f *faultBook) setLogin(noise [32]byte, n waBinary.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.login == nil {
		f.login = map[[32]byte]waBinary.Node{}
	}
	f.login[noise] = n
}

func (f *faultBook) setAckDelay(noise [32]byte, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ackDelay == nil {
		f.ackDelay = map[[32]byte]time.Duration{}
	}
	if d == 0 {
		delete(f.ackDelay, noise)
		return
	}
	f.ackDelay[noise] = d
}

// serverAck sends the server's <ack> of a client stanza, unless a slow-acks
// or no-acks fault holds it.
func (s *Server) serverAck(c *conn, ack waBinary.Node) {
	f := &s.faults
	f.mu.Lock()
	d := f.ackDelay[c.noisePub]
	f.mu.Unlock()
	switch {
	case d < 0:
		c.log.Debug().Any("id", ack.Attrs["id"]).Msg("fault: ack withheld")
	case d > 0:
		go func() {
			select {
			case <-time.After(d):
				c.send(ack)
			case <-c.ctx.Done():
			}
		}()
	default:
		c.send(ack)
	}
}

// InjectFault injects one fault on the linked companion device (see the
// FaultKind constants).
func (s *Server) InjectFault(device types.JID, kind FaultKind) error {
	if !slices.Contains(FaultKinds(), kind) {
		return fmt.Errorf("%w %q", ErrUnknownFault, kind)
	}
	s.mu.Lock()
	d := s.companionLocked(device)
	var noise [32]byte
	var c *conn
	if d != nil {
		noise, c = d.noisePub, d.conn
	}
	s.mu.Unlock()
	if d == nil {
		return ErrNoDevice
	}
	f := &s.faults
	f.mu.Lock()
	if f.injected == nil {
		f.injected = map[FaultKind]int{}
	}
	f.injected[kind]++
	f.mu.Unlock()
	switch kind {
	case FaultDrop:
		s.DropConnection(device)
	case FaultSilent:
		if c != nil {
			c.frozen.Store(true) // this socket only: the next one is served
		}
	case FaultStreamErrorAck:
		return s.StreamErrorAck(device, "status")
	case FaultPingError:
		f.setLogin(noise, waBinary.Node{Tag: "stream:error", Content: []waBinary.Node{{Tag: "ping"}}})
		s.dropConn(c)
	case FaultReplaced:
		s.StreamError(device, "replaced")
	case FaultClientOutdated:
		f.setLogin(noise, waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "405", "location": "wasim"}})
		s.dropConn(c)
	case FaultLoginUnavailable:
		f.setLogin(noise, waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "503", "location": "wasim"}})
		s.dropConn(c)
	case FaultTempBan:
		f.setLogin(noise, waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{
			"reason": "402", "code": "101", "expire": "3600", "location": "wasim"}})
		s.dropConn(c)
	case FaultLogout:
		s.RemoteLogout(device)
	case FaultHalfFrame:
		if c != nil {
			s.halfFrame(c)
		}
	case FaultSlowAcks:
		f.setAckDelay(noise, SlowAckDelay)
	case FaultNoAcks:
		f.setAckDelay(noise, -1)
	case FaultClear:
		f.setAckDelay(noise, 0)
		f.mu.Lock()
		delete(f.login, noise)
		f.mu.Unlock()
	}
	return nil
}

func (s *Server) dropConn(c *conn) {
	if c != nil {
		c.close()
	}
}

// halfFrame freezes the socket and writes a frame header announcing more
// bytes than follow: the client waits for the rest, which never comes.
func (s *Server) halfFrame(c *conn) {
	c.frozen.Store(true)
	payload := make([]byte, 64)
	frame := make([]byte, frameLengthSize+len(payload)/2)
	frame[0], frame[1], frame[2] = 0, 0, byte(len(payload))
	go func() {
		// coder/websocket serialises concurrent writers.
		_ = c.ws.Write(c.ctx, websocket.MessageBinary, frame)
	}()
}

// StreamErrorAck reproduces the "unacked stanza, then ack stream error"
// pattern for a stanza class (AckClasses): it queues a stanza of that
// class for the device (a status-broadcast <status type="media">, a text
// message from a contact, a delivery receipt, a "status" notification, a
// call terminate), then sends <stream:error><ack class=… id=…/> naming it
// and closes the socket. The stanza stays queued, and is delivered again
// at the next login, until the device acks it.
func (s *Server) StreamErrorAck(device types.JID, class string) error {
	if !slices.Contains(AckClasses, class) {
		return fmt.Errorf("wasim: unknown ack class %q", class)
	}
	from := s.Contact("19990000001") // a simulated peer (reserved range)
	s.mu.Lock()
	d := s.companionLocked(device)
	if d == nil {
		s.mu.Unlock()
		return ErrNoDevice
	}
	id := newMessageID()
	now := unixNow()
	typ := ""
	var node waBinary.Node
	switch class {
	case "status":
		typ = "media"
		node = waBinary.Node{Tag: "status", Attrs: waBinary.Attrs{"from": types.StatusBroadcastJID,
			"participant": from.JID(), "id": id, "type": typ, "t": now}}
	case "receipt":
		node = waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{"from": from.JID(), "id": id, "t": now}}
	case "notification":
		typ = "status"
		node = waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{"from": from.JID(), "id": id,
			"type": typ, "t": now}, Content: []waBinary.Node{{Tag: "set", Content: []byte("busy")}}}
	case "call":
		node = waBinary.Node{Tag: "call", Attrs: waBinary.Attrs{"from": from.JID(), "id": id, "t": now},
			Content: []waBinary.Node{{Tag: "terminate", Attrs: waBinary.Attrs{
				"call-id": randomHexUpper(16), "call-creator": from.JID(), "reason": "timeout"}}}}
	}
	c := d.conn
	if class != "message" {
		s.enqueueLocked(d, queueKey(class, typ, id), node)
	}
	phone := d.acct.pn
	s.mu.Unlock()
	if class == "message" {
		var err error
		// A real message: decrypted, stored and acked by the client.
		if id, err = from.SendText(s.baseCtx, phone, "before the ack stream error"); err != nil {
			return err
		}
	}
	if c == nil {
		return nil
	}
	attrs := waBinary.Attrs{"class": class, "id": id}
	if typ != "" {
		attrs["type"] = typ
	}
	if class == "status" {
		attrs["from"] = types.StatusBroadcastJID
	}
	c.sendAndClose(waBinary.Node{Tag: "stream:error", Content: []waBinary.Node{{Tag: "ack", Attrs: attrs}}})
	return nil
}
