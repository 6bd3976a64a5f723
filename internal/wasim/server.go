package wasim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.mau.fi/util/random"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Options configures a Server.
type Options struct {
	// Logger receives the simulator's logs. The zero value discards them.
	Logger zerolog.Logger
	// Strict records unknown IQs and unknown stanzas as violations
	// (see Violations) instead of only logging and counting them.
	Strict bool
	// DB, when set, persists the simulator's state in its own tables
	// (prefix wasim_) so a restarted simulator keeps linked devices and
	// undelivered stanzas. Nil keeps everything in memory.
	DB *pgxpool.Pool
	// CertLifetime is how long the generated server certificate is valid
	// (at least and by default 24 hours).
	CertLifetime time.Duration
	// ListenAddr is the TCP address Start listens on (default 127.0.0.1:0).
	ListenAddr string
	// AcceptCompression negotiates permessage-deflate (with context
	// takeover) when a client offers it, as whatsmeow always does and the
	// real server accepts. Off by default: every compressed connection
	// keeps inflate/deflate state. Counter("ws:compressed") counts the
	// connections that negotiated it.
	AcceptCompression bool
	// AutoRegister makes every valid phone number a WhatsApp user: a
	// usync (devices, contact, lid) or prekey lookup of an unknown number
	// creates its simulated contact on the fly, as Contact would (persisted
	// with Options.DB). Numbers in the reserved range (see
	// IsReservedNumber: starting with 999) stay "not on WhatsApp". Off by
	// default: only numbers created by Phone or Contact exist.
	AutoRegister bool
	// LIDGroups makes groups that companions create (and CreateGroup)
	// LID-addressed (addressing_mode="lid": members are listed and
	// messages attributed by LID, with the phone number alongside).
	// Off by default: phone-number addressing ("pn").
	LIDGroups bool
}

// Server is a protocol-level fake of the WhatsApp multi-device server. It
// speaks the real wire protocol (websocket, Noise XX, binary XML, Signal)
// to unmodified whatsmeow clients and simulates the phones and contacts
// on the other side.
type Server struct {
	opts    Options
	log     zerolog.Logger
	cert    *certChain
	baseCtx context.Context
	stop    context.CancelFunc

	httpSrv *http.Server
	ln      net.Listener

	mu          sync.Mutex
	accounts    map[string]*account // by PN user
	byLID       map[string]*account // by LID user
	conns       map[*conn]struct{}
	pendingRefs map[string]*registration
	pendingCode map[string]*codePairing // by phone PN user
	violations  []string
	groups      map[string]*group // by group id (user part of @g.us)

	retries     retryState
	statsMu     sync.Mutex
	unknownIQs  map[string]int
	sentTags    map[string]int
	persistErrs []string

	db *pgStore

	faults faultBook      // injected faults and ack accounting (fault_kinds.go)
	retry  mediaRetryBook // media of sent messages, expiry and re-upload (mediaretry.go)

	// media server: HMAC key of auth tokens and direct paths; blobs in
	// memory unless Options.DB is set (then in wasim_media).
	mediaKey []byte
	media    mediaStore

	conv convState // presence, chat states and calls (presence.go, call.go)
}

// New creates a simulator. Nothing listens until Start; Handler can be
// mounted instead. With Options.DB the persisted state is loaded here.
func New(opts Options) (*Server, error) {
	setupSignalLogger()
	setSignalTarget(opts.Logger)
	cert, err := newCertChain(opts.CertLifetime)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:        opts,
		log:         opts.Logger,
		cert:        cert,
		baseCtx:     ctx,
		stop:        cancel,
		accounts:    map[string]*account{},
		byLID:       map[string]*account{},
		conns:       map[*conn]struct{}{},
		pendingRefs: map[string]*registration{},
		pendingCode: map[string]*codePairing{},
		groups:      map[string]*group{},
		unknownIQs:  map[string]int{},
		sentTags:    map[string]int{},
		mediaKey:    random.Bytes(32),
		media:       mediaStore{blobs: map[string]*mediaBlob{}},
	}
	if opts.DB != nil {
		s.db = &pgStore{pool: opts.DB}
		if err = s.load(ctx); err != nil {
			cancel()
			return nil, fmt.Errorf("wasim: load state: %w", err)
		}
	}
	return s, nil
}

// Handler returns the simulator's HTTP endpoint: websocket upgrades (on
// any path; whatsmeow's redirected transport requests /ws/chat) and the
// media server (uploads to /mms/..., downloads of /v/... direct paths).
// Mount it at the root.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Start listens on Options.ListenAddr (default 127.0.0.1:0) and serves Handler.
func (s *Server) Start() error {
	addr := s.opts.ListenAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("wasim: listen: %w", err)
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("http server stopped")
		}
	}()
	return nil
}

// Addr returns the host:port Start listens on.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops listening and drops every connection.
func (s *Server) Close() error {
	s.stop()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.httpSrv.Shutdown(ctx)
	}
	return nil
}

func (s *Server) trackConn(c *conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
		return
	}
	delete(s.conns, c)
	if c.dev != nil && c.dev.conn == c {
		c.dev.conn = nil
	}
	if c.reg != nil {
		for ref, r := range s.pendingRefs {
			if r == c.reg {
				delete(s.pendingRefs, ref)
			}
		}
		for pn, cp := range s.pendingCode {
			if cp.reg == c.reg {
				delete(s.pendingCode, pn)
			}
		}
	}
}

func (s *Server) countSent(tag string) {
	s.statsMu.Lock()
	s.sentTags[tag]++
	s.statsMu.Unlock()
}

// Counter returns how often the simulator saw or sent something, e.g.
// "iq:privacy-tokens" (privacy token IQs answered) or a stanza tag sent.
func (s *Server) Counter(name string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.sentTags[name]
}

// violation records a protocol violation (see Violations).
func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.log.Warn().Str("violation", msg).Msg("protocol violation")
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
}

// Violations returns the protocol violations seen so far: strict checks on
// client stanzas (e.g. a pin without edit="2") and, with Options.Strict,
// unknown IQs and stanzas.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// UnknownIQs returns how often each unknown IQ (xmlns/type/child) was seen.
func (s *Server) UnknownIQs() map[string]int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make(map[string]int, len(s.unknownIQs))
	for k, v := range s.unknownIQs {
		out[k] = v
	}
	return out
}

func (s *Server) handleNode(c *conn, node *waBinary.Node) {
	switch node.Tag {
	case "iq":
		switch node.AttrGetter().OptionalString("type") {
		case "result", "error":
			if !c.deliverResponse(node) {
				c.log.Debug().Str("id", node.AttrGetter().OptionalString("id")).Msg("unexpected iq response")
			}
		default:
			s.handleIQ(c, node)
		}
	case "message":
		s.handleMessage(c, node)
	case "receipt":
		s.handleReceipt(c, node)
	case "ack":
		s.handleAck(c, node)
	case "presence": // presence.go
		s.handlePresence(c, node)
	case "chatstate": // presence.go
		s.handleChatState(c, node)
	case "call": // call.go
		s.handleCall(c, node)
	case "ib":
		c.log.Debug().Str("tag", node.Tag).Msg("ignored stanza")
	default:
		c.log.Warn().Str("tag", node.Tag).Msg("unknown stanza")
		if s.opts.Strict {
			s.violation("unknown stanza <%s>", node.Tag)
		}
	}
}

// device returns the linked companion device with this JID (PN or LID form).
func (s *Server) companionLocked(jid types.JID) *companion {
	acct := s.accountByJIDLocked(jid)
	if acct == nil {
		return nil
	}
	return acct.companions[jid.Device]
}

// Devices returns the linked companion devices of the account (PN device JIDs).
func (s *Server) Devices(phone string) []types.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.accounts[normalizePhone(phone)]
	if acct == nil {
		return nil
	}
	var out []types.JID
	for _, id := range acct.sortedCompanionIDs() {
		out = append(out, acct.companions[id].jid())
	}
	return out
}

// DeviceConnections returns, summed over the phone's linked devices, the
// connections the simulator holds now and how many it had to replace (a
// device logging in again while its previous connection was live). ok is
// false when the phone has no linked device.
func (s *Server) DeviceConnections(phone string) (connections, replaced int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.accounts[normalizePhone(phone)]
	if acct == nil || len(acct.companions) == 0 {
		return 0, 0, false
	}
	for _, d := range acct.companions {
		replaced += d.replaced
		for c := range s.conns {
			if c.dev == d && !c.closed.Load() {
				connections++
			}
		}
	}
	return connections, replaced, true
}

// Known reports whether an account exists for the number (created by
// Phone, Contact, pairing or Options.AutoRegister), without creating it.
func (s *Server) Known(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[normalizePhone(phone)] != nil
}

// Connected reports whether the companion device is logged in right now.
func (s *Server) Connected(device types.JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.companionLocked(device)
	return d != nil && d.conn != nil && d.loggedIn
}

func (s *Server) connOf(device types.JID) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.companionLocked(device)
	if d == nil {
		return nil
	}
	return d.conn
}

// DropConnection closes the device's socket abruptly (no stream end).
func (s *Server) DropConnection(device types.JID) {
	if c := s.connOf(device); c != nil {
		c.close()
	}
}

// StreamError sends <stream:error code=…/> and closes the socket. Codes
// with a conflict: "replaced" sends <conflict type="replaced"/> (any code),
// "device_removed" sends code 401 with <conflict type="device_removed"/>.
func (s *Server) StreamError(device types.JID, code string) {
	c := s.connOf(device)
	if c == nil {
		return
	}
	node := waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": code}}
	switch code {
	case "replaced":
		node.Attrs["code"] = "409"
		node.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "replaced"}}}
	case "device_removed":
		node.Attrs["code"] = "401"
		node.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "device_removed"}}}
	}
	c.sendAndClose(node)
}

// RemoteLogout unlinks the device as if the user removed it on the phone:
// a connected device gets <stream:error code=401><conflict
// type="device_removed"/>, and later logins get <failure reason=401>.
func (s *Server) RemoteLogout(device types.JID) {
	s.mu.Lock()
	d := s.companionLocked(device)
	var c *conn
	if d != nil {
		c = d.conn
		s.removeCompanionLocked(d)
	}
	s.mu.Unlock()
	if c != nil {
		c.sendAndClose(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "401"},
			Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "device_removed"}}}})
	}
}

// Freeze makes the server stop answering the device (and stop sending to
// it) while keeping the socket open, so a liveness check can be tested.
func (s *Server) Freeze(device types.JID, frozen bool) {
	s.mu.Lock()
	d := s.companionLocked(device)
	if d != nil {
		d.frozen = frozen
	}
	var c *conn
	if d != nil {
		c = d.conn
	}
	s.mu.Unlock()
	if c != nil {
		c.frozen.Store(frozen)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newMessageID() string {
	return "3A" + randomHexUpper(9)
}

func randomHexUpper(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%X", b)
}

func unixNow() string {
	return strconv.FormatInt(time.Now().Unix(), 10)
}

func iqResult(req *waBinary.Node, content ...waBinary.Node) waBinary.Node {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id": req.Attrs["id"], "type": "result", "from": types.ServerJID,
	}}
	if len(content) > 0 {
		n.Content = content
	}
	return n
}

func iqError(req *waBinary.Node, code int, text string) waBinary.Node {
	return waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"id": req.Attrs["id"], "type": "error", "from": types.ServerJID,
	}, Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": strconv.Itoa(code), "text": text}}}}
}

// HTTPClient returns an http.Client whose transport sends whatsmeow's
// websocket (wss://web.whatsapp.com/ws/chat) to this simulator over plain
// TCP. Use it for SetPreLoginHTTPClient, SetWebsocketHTTPClient and
// SetMediaHTTPClient.
func (s *Server) HTTPClient() *http.Client {
	return ClientFor(s.Addr())
}

// ClientFor is HTTPClient for a simulator listening at addr (e.g. in
// another process). Proxies from the environment are ignored and only
// HTTP/1.1 is spoken.
func ClientFor(addr string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:             nil,
		DialContext:       dial,
		DialTLSContext:    dial,
		ForceAttemptHTTP2: false,
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:      1,
		IdleConnTimeout:   time.Second,
	}}
}
