package wasim

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
)

const (
	frameLengthSize = 3
	outboxSize      = 4096
)

// conn is one client websocket connection after (or during) the Noise handshake.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	log    zerolog.Logger

	buf       []byte
	gotHeader bool
	frames    chan []byte

	readKey     cipher.AEAD
	readCounter uint32

	writeKey     cipher.AEAD
	writeCounter uint32
	outbox       outQueue

	noisePub [32]byte
	payload  *waWa6.ClientPayload

	// set after login; guarded by s.mu
	dev *companion
	reg *registration

	frozen atomic.Bool
	closed atomic.Bool

	waitMu  sync.Mutex
	waiters map[string]chan *waBinary.Node
}

// serveWS is the websocket endpoint.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ao := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if s.opts.AcceptCompression {
		ao.CompressionMode = websocket.CompressionContextTakeover
	}
	ws, err := websocket.Accept(w, r, ao)
	if err != nil {
		s.log.Warn().Err(err).Msg("websocket accept failed")
		return
	}
	if strings.Contains(w.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		s.countSent("ws:compressed")
	}
	ws.SetReadLimit(socket.FrameMaxSize)
	ctx, cancel := context.WithCancel(s.baseCtx)
	c := &conn{
		s:       s,
		ws:      ws,
		ctx:     ctx,
		cancel:  cancel,
		log:     s.log.With().Str("remote", r.RemoteAddr).Logger(),
		frames:  make(chan []byte, 64),
		outbox:  outQueue{wake: make(chan struct{}, 1)},
		waiters: map[string]chan *waBinary.Node{},
	}
	s.trackConn(c, true)
	defer s.trackConn(c, false)
	defer c.close()
	go c.readPump()
	if err := c.handshake(); err != nil {
		c.log.Debug().Err(err).Msg("noise handshake failed")
		return
	}
	go c.writePump()
	s.onHandshake(c)
	for {
		select {
		case <-ctx.Done():
			return
		case frame, ok := <-c.frames:
			if !ok {
				return
			}
			pt, err := c.readKey.Open(nil, iv(c.readCounter), frame, nil)
			c.readCounter++
			if err != nil {
				c.log.Warn().Err(err).Msg("failed to decrypt frame")
				return
			}
			data, err := waBinary.Unpack(pt)
			if err != nil {
				c.log.Warn().Err(err).Msg("failed to unpack frame")
				return
			}
			node, err := waBinary.Unmarshal(data)
			if err != nil {
				c.log.Warn().Err(err).Msg("failed to decode node")
				return
			}
			if c.frozen.Load() {
				continue
			}
			s.handleNode(c, node)
		}
	}
}

// readPump splits websocket messages into frames.
func (c *conn) readPump() {
	defer close(c.frames)
	defer c.cancel()
	for {
		_, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		c.buf = append(c.buf, data...)
		if !c.gotHeader {
			if len(c.buf) < len(socket.WAConnHeader) {
				continue
			}
			if !bytes.Equal(c.buf[:2], socket.WAConnHeader[:2]) {
				c.log.Warn().Msg("client did not send the WA header")
				return
			}
			c.buf = c.buf[len(socket.WAConnHeader):]
			c.gotHeader = true
		}
		for len(c.buf) >= frameLengthSize {
			n := int(c.buf[0])<<16 | int(c.buf[1])<<8 | int(c.buf[2])
			if len(c.buf) < frameLengthSize+n {
				break
			}
			frame := bytes.Clone(c.buf[frameLengthSize : frameLengthSize+n])
			c.buf = c.buf[frameLengthSize+n:]
			select {
			case c.frames <- frame:
			case <-c.ctx.Done():
				return
			}
		}
	}
}

func (c *conn) writeRaw(payload []byte) error {
	frame := make([]byte, frameLengthSize+len(payload))
	frame[0], frame[1], frame[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	copy(frame[frameLengthSize:], payload)
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, frame)
}

func (c *conn) readFrame(timeout time.Duration) ([]byte, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return nil, errors.New("connection closed")
		}
		return f, nil
	case <-time.After(timeout):
		return nil, errors.New("timeout")
	}
}

// handshake runs the Noise XX responder.
func (c *conn) handshake() error {
	first, err := c.readFrame(20 * time.Second)
	if err != nil {
		return fmt.Errorf("client hello: %w", err)
	}
	var hello waWa6.HandshakeMessage
	if err = proto.Unmarshal(first, &hello); err != nil {
		return fmt.Errorf("client hello: %w", err)
	}
	ce := hello.GetClientHello().GetEphemeral()
	if len(ce) != 32 {
		return errors.New("client hello without ephemeral key")
	}
	ns, err := newNoiseState(socket.NoiseStartPattern, socket.WAConnHeader)
	if err != nil {
		return err
	}
	ns.authenticate(ce)
	se, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	sePub := se.PublicKey().Bytes()
	ns.authenticate(sePub)
	if err = ns.mixDH(se, ce); err != nil {
		return err
	}
	staticCT := ns.encrypt(c.s.cert.leaf.Pub[:])
	if err = ns.mixDH(c.s.cert.leafDH, ce); err != nil {
		return err
	}
	certCT := ns.encrypt(c.s.cert.chain)
	resp, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: sePub, Static: staticCT, Payload: certCT,
	}})
	if err != nil {
		return err
	}
	if err = c.writeRaw(resp); err != nil {
		return fmt.Errorf("server hello: %w", err)
	}
	finishRaw, err := c.readFrame(20 * time.Second)
	if err != nil {
		return fmt.Errorf("client finish: %w", err)
	}
	var finish waWa6.HandshakeMessage
	if err = proto.Unmarshal(finishRaw, &finish); err != nil {
		return fmt.Errorf("client finish: %w", err)
	}
	cs, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil || len(cs) != 32 {
		return fmt.Errorf("client static: %w", err)
	}
	c.noisePub = [32]byte(cs)
	if err = ns.mixDH(se, c.noisePub[:]); err != nil {
		return err
	}
	payloadRaw, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	c.payload = &waWa6.ClientPayload{}
	if err = proto.Unmarshal(payloadRaw, c.payload); err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	c.readKey, c.writeKey, err = ns.split()
	return err
}

// writePump encrypts and writes queued nodes in order.
func (c *conn) writePump() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.outbox.wake:
		}
		for _, item := range c.outbox.takeAll() {
			ct := c.writeKey.Seal(nil, iv(c.writeCounter), item.data, nil)
			c.writeCounter++
			if err := c.writeRaw(ct); err != nil {
				c.log.Debug().Err(err).Msg("write failed")
				c.cancel()
				return
			}
			if item.closeAfter {
				// Let the client read the final stanza and hang up first:
				// closing with unread input would reset the connection and
				// could discard the stanza on the client side.
				select {
				case <-c.ctx.Done():
				case <-time.After(time.Second):
				}
				c.close()
				return
			}
		}
	}
}

// outQueue is a connection's queue of frames for the writer, of at most
// outboxSize frames. It holds only what is queued (a buffered channel of
// that size was 128 KiB per connection, allocated and zeroed for each of
// them).
type outQueue struct {
	mu    sync.Mutex
	items []outItem
	wake  chan struct{} // capacity 1: something was queued
}

// push queues item; false when the queue is full.
func (q *outQueue) push(item outItem) bool {
	q.mu.Lock()
	if len(q.items) >= outboxSize {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, item)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// takeAll removes and returns everything queued, in order.
func (q *outQueue) takeAll() []outItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// outItem is one plaintext frame for the writer.
type outItem struct {
	data       []byte
	closeAfter bool
}

// send queues a node for the client. It never blocks: a client that does
// not read fast enough is disconnected.
func (c *conn) send(node waBinary.Node) {
	c.enqueue(node, false)
}

func (c *conn) enqueue(node waBinary.Node, closeAfter bool) {
	if c.closed.Load() || c.frozen.Load() {
		return
	}
	data, err := waBinary.Marshal(node)
	if err != nil {
		c.log.Error().Err(err).Msg("failed to marshal node")
		return
	}
	c.s.countSent(node.Tag)
	c.s.faults.noteSent(c, node)
	if !c.outbox.push(outItem{data: data, closeAfter: closeAfter}) {
		c.log.Warn().Msg("outbox full, dropping connection")
		c.cancel()
	}
}

// sendAndClose sends a final node, then closes the websocket once it and
// everything queued before it were written.
func (c *conn) sendAndClose(node waBinary.Node) {
	if c.closed.Load() {
		return
	}
	if c.frozen.Load() || c.writeKey == nil {
		c.close()
		return
	}
	c.enqueue(node, true)
}

func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.cancel()
		_ = c.ws.CloseNow()
		c.waitMu.Lock()
		for id, ch := range c.waiters {
			close(ch)
			delete(c.waiters, id)
		}
		c.waitMu.Unlock()
	}
}

// request sends a server-initiated IQ and waits for its answer.
func (c *conn) request(ctx context.Context, node waBinary.Node) (*waBinary.Node, error) {
	id, _ := node.Attrs["id"].(string)
	ch := make(chan *waBinary.Node, 1)
	c.waitMu.Lock()
	if c.closed.Load() {
		c.waitMu.Unlock()
		return nil, errors.New("connection closed")
	}
	c.waiters[id] = ch
	c.waitMu.Unlock()
	c.send(node)
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, errors.New("connection closed")
		}
		return resp, nil
	case <-ctx.Done():
		c.waitMu.Lock()
		delete(c.waiters, id)
		c.waitMu.Unlock()
		return nil, ctx.Err()
	}
}

// deliverResponse hands an iq result/error to a waiting request.
func (c *conn) deliverResponse(node *waBinary.Node) bool {
	id, _ := node.Attrs["id"].(string)
	c.waitMu.Lock()
	ch, ok := c.waiters[id]
	if ok {
		delete(c.waiters, id)
	}
	c.waitMu.Unlock()
	if ok {
		ch <- node
	}
	return ok
}
