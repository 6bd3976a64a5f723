package wasim

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/random"
	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/appstate"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waServerSync"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// Phone is the simulated primary device (device 0) of an account. It
// links companions, holds the app-state sync key, decodes every app-state
// patch (MACs and LTHash verified) into a View, and decrypts the
// companions' device-sent copies of their messages.
type Phone struct {
	acct *account
	s    *Server

	mu       sync.Mutex // serializes app-state work
	appState *phoneAppState
	histSent int
}

type phoneAppState struct {
	keyID     []byte
	keyData   []byte
	keyTS     int64
	states    map[string]appstate.HashState
	view      PhoneView
	mutations []Mutation
	pushName  bool
}

func newPhoneAppState() *phoneAppState {
	return &phoneAppState{states: map[string]appstate.HashState{}, view: PhoneView{Chats: map[string]ChatView{}}}
}

// ChatView is the phone's view of one chat, from decoded app state.
type ChatView struct {
	Archived     bool
	MarkedUnread bool
	Deleted      bool
	Pinned       bool
	Muted        bool
}

// StarredRef identifies a starred message.
type StarredRef struct {
	Chat   string
	ID     string
	FromMe bool
}

// PhoneView is what the phone knows from app state.
type PhoneView struct {
	Chats    map[string]ChatView
	Starred  []StarredRef
	PushName string
	// Contacts is the address book synced as contact app state
	// (critical_unblock_low), by contact JID.
	Contacts map[string]ContactName
}

// ContactName is a saved contact's names (a contact action).
type ContactName struct {
	FullName  string
	FirstName string
}

// Mutation is one decoded app-state mutation (for assertions beyond View).
type Mutation struct {
	Collection string
	Operation  string // SET or REMOVE
	Index      []string
	Raw        *appstate.Mutation
}

// Phone returns the account's primary phone, creating the account on
// first use. Its LID is derived deterministically from the number.
func (s *Server) Phone(number string) *Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(number).phone
}

// JID returns the account's phone-number JID.
func (p *Phone) JID() types.JID { return p.acct.pnJID() }

// LID returns the account's LID JID.
func (p *Phone) LID() types.JID { return p.acct.lidJID() }

// Received returns what the phone decrypted: the companions' DSM copies of
// their sends and peer messages, in order.
func (p *Phone) Received() []Received { return p.acct.primary.Received() }

// WaitReceived waits until the phone decrypted a message matching pred.
func (p *Phone) WaitReceived(ctx context.Context, pred func(Received) bool) (Received, error) {
	return p.acct.primary.waitReceived(ctx, pred)
}

// SetPushName sets the name the phone publishes in app state.
func (p *Phone) SetPushName(name string) {
	p.s.mu.Lock()
	p.acct.pushName = name
	p.s.persistAccountLocked(p.acct)
	p.s.mu.Unlock()
}

// View returns a copy of the phone's decoded app-state view.
func (p *Phone) View() PhoneView {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.appState.view
	out := PhoneView{Chats: make(map[string]ChatView, len(v.Chats)), Starred: slices.Clone(v.Starred), PushName: v.PushName}
	for k, c := range v.Chats {
		out.Chats[k] = c
	}
	out.Contacts = make(map[string]ContactName, len(v.Contacts))
	for k, c := range v.Contacts {
		out.Contacts[k] = c
	}
	return out
}

// Mutations returns every app-state mutation the phone decoded.
func (p *Phone) Mutations() []Mutation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.appState.mutations)
}

func (p *Phone) processor() *appstate.Processor {
	return appstate.NewProcessor(p.acct.primary.store, waLog.Noop)
}

// ensureKeyLocked creates the account's app-state sync key (p.mu held).
func (p *Phone) ensureKeyLocked(ctx context.Context) error {
	as := p.appState
	if as.keyID != nil {
		return nil
	}
	as.keyID = random.Bytes(6)
	as.keyData = random.Bytes(32)
	as.keyTS = time.Now().UnixMilli()
	fp, _ := proto.Marshal(&waE2E.AppStateSyncKeyFingerprint{RawID: proto.Uint32(1), CurrentIndex: proto.Uint32(0)})
	if err := p.acct.primary.store.AppStateKeys.PutAppStateSyncKey(ctx, as.keyID, store.AppStateSyncKey{
		Data: as.keyData, Fingerprint: fp, Timestamp: as.keyTS,
	}); err != nil {
		return err
	}
	p.s.persistPhoneLocked(p)
	return nil
}

func (p *Phone) keyShareMessage() *waE2E.Message {
	as := p.appState
	return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_SHARE.Enum(),
		AppStateSyncKeyShare: &waE2E.AppStateSyncKeyShare{Keys: []*waE2E.AppStateSyncKey{{
			KeyID: &waE2E.AppStateSyncKeyId{KeyID: as.keyID},
			KeyData: &waE2E.AppStateSyncKeyData{
				KeyData:     as.keyData,
				Fingerprint: &waE2E.AppStateSyncKeyFingerprint{RawID: proto.Uint32(1), CurrentIndex: proto.Uint32(0), DeviceIndexes: []uint32{0}},
				Timestamp:   proto.Int64(as.keyTS),
			},
		}}},
	}}
}

// prepareLink runs on the phone before a new companion is registered: it
// creates the app-state key and publishes the push name and seed patches
// once, so the new companion finds them in its first fetch (and gets no
// server_sync for them).
func (p *Phone) prepareLink(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensureKeyLocked(ctx); err != nil {
		return err
	}
	if p.appState.pushName {
		return nil
	}
	p.appState.pushName = true
	p.s.persistPhoneLocked(p)
	p.s.mu.Lock()
	name := p.acct.pushName
	p.s.mu.Unlock()
	if err := p.pushPatchLocked(ctx, appstate.BuildSettingPushName(name)); err != nil {
		return err
	}
	for _, seed := range seedPatches() {
		if err := p.pushPatchLocked(ctx, seed); err != nil {
			return err
		}
	}
	return nil
}

// onCompanionLinked shares the app-state key with a new companion.
func (p *Phone) onCompanionLinked(ctx context.Context, d *companion) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sendPeer(ctx, d, p.keyShareMessage())
}

// seedPatches gives the collections a first version, as a real phone's
// account always has some state. Without it a companion's first fetch of
// an empty collection is a full sync, and whatsmeow emits no events for
// changes it learns in a full sync (EmitAppStateEventsOnFullSync=false), so
// a phone-side archive right after pairing would go unnoticed.
// regular_low gets the real setting_unarchiveChats mutation; regular_high
// and regular get an index whatsmeow ignores ("wasim_seed").
func seedPatches() []appstate.PatchInfo {
	ts := proto.Int64(time.Now().UnixMilli())
	seed := func(name appstate.WAPatchName) appstate.PatchInfo {
		return appstate.PatchInfo{Type: name, Mutations: []appstate.MutationInfo{{
			Index: []string{"wasim_seed"}, Version: 1, Value: &waSyncAction.SyncActionValue{Timestamp: ts},
		}}}
	}
	return []appstate.PatchInfo{
		{Type: appstate.WAPatchRegularLow, Mutations: []appstate.MutationInfo{{
			Index: []string{appstate.IndexSettingUnarchiveChats}, Version: 4,
			Value: &waSyncAction.SyncActionValue{Timestamp: ts, UnarchiveChatsSetting: &waSyncAction.UnarchiveChatsSetting{UnarchiveChats: proto.Bool(false)}},
		}}},
		seed(appstate.WAPatchRegularHigh),
		seed(appstate.WAPatchRegular),
	}
}

// sendPeer encrypts a peer message from the phone to one companion and queues it.
func (p *Phone) sendPeer(ctx context.Context, d *companion, msg *waE2E.Message) error {
	s := p.s
	s.mu.Lock()
	addr := d.lidJID()
	s.mu.Unlock()
	encType, ct, err := p.acct.primary.encrypt(ctx, addr, msg, func() (*prekeyBundle, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.companionBundleLocked(d), nil
	})
	if err != nil {
		return err
	}
	id := newMessageID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.acct.companions[d.id] != d {
		return errors.New("wasim: companion was unlinked")
	}
	s.enqueueLocked(d, queueKey("message", "", id), waBinary.Node{Tag: "message", Attrs: waBinary.Attrs{
		"from": p.acct.pnJID(), "id": id, "t": unixNow(), "type": "text", "category": "peer",
	}, Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": encType}, Content: ct}}})
	return nil
}

// handlePeerMessage answers peer protocol messages from a companion.
func (p *Phone) handlePeerMessage(ctx context.Context, d *companion, msg *waE2E.Message) {
	pm := msg.GetProtocolMessage()
	if pm.GetType() == waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_REQUEST {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.appState.keyID == nil {
			return
		}
		if err := p.sendPeer(ctx, d, p.keyShareMessage()); err != nil {
			p.s.log.Error().Err(err).Msg("phone failed to answer key request")
		}
	}
}

// syncLocked decodes patches the phone has not seen yet (p.mu held).
func (p *Phone) syncLocked(ctx context.Context, name string) error {
	as := p.appState
	state := as.states[name]
	raws := p.s.patchesAfter(p.acct, name, state.Version)
	if len(raws) == 0 {
		return nil
	}
	list := &appstate.PatchList{Name: appstate.WAPatchName(name)}
	for _, raw := range raws {
		var patch waServerSync.SyncdPatch
		if err := proto.Unmarshal(raw, &patch); err != nil {
			return err
		}
		list.Patches = append(list.Patches, &patch)
	}
	muts, newState, err := p.processor().DecodePatches(ctx, list, state, true)
	if err != nil {
		return fmt.Errorf("phone could not decode %s: %w", name, err)
	}
	as.states[name] = newState
	for i := range muts {
		p.applyLocked(name, &muts[i])
	}
	p.s.persistPhoneLocked(p)
	return nil
}

func (p *Phone) applyLocked(name string, m *appstate.Mutation) {
	as := p.appState
	as.mutations = append(as.mutations, Mutation{Collection: name, Operation: m.Operation.String(), Index: m.Index, Raw: m})
	if len(m.Index) < 1 {
		return
	}
	set := m.Operation == waServerSync.SyncdMutation_SET
	chatOf := func() (string, ChatView) {
		if len(m.Index) < 2 {
			return "", ChatView{}
		}
		return m.Index[1], as.view.Chats[m.Index[1]]
	}
	act := m.Action
	switch m.Index[0] {
	case appstate.IndexArchive:
		k, cv := chatOf()
		cv.Archived = set && act.GetArchiveChatAction().GetArchived()
		as.view.Chats[k] = cv
	case appstate.IndexMarkChatAsRead:
		k, cv := chatOf()
		cv.MarkedUnread = set && !act.GetMarkChatAsReadAction().GetRead()
		as.view.Chats[k] = cv
	case appstate.IndexDeleteChat:
		k, cv := chatOf()
		cv.Deleted = set
		as.view.Chats[k] = cv
	case appstate.IndexPin:
		k, cv := chatOf()
		cv.Pinned = set && act.GetPinAction().GetPinned()
		as.view.Chats[k] = cv
	case appstate.IndexMute:
		k, cv := chatOf()
		cv.Muted = set && act.GetMuteAction().GetMuted()
		as.view.Chats[k] = cv
	case appstate.IndexStar:
		if len(m.Index) < 4 {
			return
		}
		ref := StarredRef{Chat: m.Index[1], ID: m.Index[2], FromMe: m.Index[3] == "1"}
		as.view.Starred = slices.DeleteFunc(as.view.Starred, func(r StarredRef) bool { return r.Chat == ref.Chat && r.ID == ref.ID })
		if set && act.GetStarAction().GetStarred() {
			as.view.Starred = append(as.view.Starred, ref)
		}
	case appstate.IndexSettingPushName:
		if set {
			as.view.PushName = act.GetPushNameSetting().GetName()
		}
	case appstate.IndexContact:
		if len(m.Index) < 2 {
			return
		}
		if as.view.Contacts == nil {
			as.view.Contacts = map[string]ContactName{}
		}
		if !set {
			delete(as.view.Contacts, m.Index[1])
			return
		}
		ca := act.GetContactAction()
		as.view.Contacts[m.Index[1]] = ContactName{FullName: ca.GetFullName(), FirstName: ca.GetFirstName()}
	}
}

// pushPatchLocked encodes a phone-side change, stores it on the server and
// notifies the companions (p.mu held).
func (p *Phone) pushPatchLocked(ctx context.Context, info appstate.PatchInfo) error {
	if err := p.ensureKeyLocked(ctx); err != nil {
		return err
	}
	name := string(info.Type)
	for attempt := 0; attempt < 3; attempt++ {
		if err := p.syncLocked(ctx, name); err != nil {
			return err
		}
		state := p.appState.states[name]
		raw, err := p.processor().EncodePatch(ctx, p.appState.keyID, state, info)
		if err != nil {
			return err
		}
		if _, _, ok := p.s.appendPatch(p.acct, name, raw, state.Version, nil); !ok {
			continue // a companion uploaded meanwhile
		}
		return p.syncLocked(ctx, name)
	}
	return errors.New("wasim: phone could not upload app-state patch (conflicts)")
}

// SetArchived archives or unarchives a chat on the phone; companions get
// a server_sync notification and emit events.Archive.
func (p *Phone) SetArchived(ctx context.Context, chat types.JID, archived bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pushPatchLocked(ctx, appstate.BuildArchive(chat, archived, time.Time{}, nil))
}

// PushAppState encodes any app-state change on the phone (see the
// appstate.Build* helpers) and syncs it to the companions.
func (p *Phone) PushAppState(ctx context.Context, info appstate.PatchInfo) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pushPatchLocked(ctx, info)
}

// SaveContact saves the contact of phone under its names in the account's address book
// and syncs it to the companions as WhatsApp does: a contact action in the
// critical_unblock_low collection, indexed by the contact's phone JID and
// carrying its LID. whatsmeow stores the names (its contact store) and
// emits events.Contact.
func (p *Phone) SaveContact(ctx context.Context, phone, fullName, firstName string) error {
	contact := types.NewJID(normalizePhone(phone), types.DefaultUserServer)
	act := &waSyncAction.ContactAction{FullName: proto.String(fullName), FirstName: proto.String(firstName),
		SaveOnPrimaryAddressbook: proto.Bool(true)}
	p.s.mu.Lock()
	if a := p.s.accountByJIDLocked(contact); a != nil {
		act.LidJID = proto.String(a.lidJID().String())
	}
	p.s.mu.Unlock()
	return p.PushAppState(ctx, appstate.PatchInfo{Type: appstate.WAPatchCriticalUnblockLow, Mutations: []appstate.MutationInfo{{
		Index: []string{appstate.IndexContact, contact.String()}, Version: 2,
		Value: &waSyncAction.SyncActionValue{Timestamp: proto.Int64(time.Now().UnixMilli()), ContactAction: act},
	}}})
}

// HistoryMessage is one old message for SendHistory.
type HistoryMessage struct {
	// Chat is the other party (phone number or JID).
	Chat      string
	FromMe    bool
	Text      string
	ID        string
	Timestamp time.Time
}

// SendHistory sends a history-sync chunk with these messages from the
// phone to every companion, inline in the HistorySyncNotification (no
// media download). The first call sends INITIAL_BOOTSTRAP, later calls RECENT.
func (p *Phone) SendHistory(ctx context.Context, msgs []HistoryMessage) error {
	if len(msgs) == 0 {
		return errors.New("wasim: no history messages")
	}
	byChat := map[string][]*waHistorySync.HistorySyncMsg{}
	var order []string
	for _, m := range msgs {
		chat := m.Chat
		if jid, err := types.ParseJID(chat); err == nil && strings.Contains(chat, "@") {
			chat = jid.ToNonAD().String()
		} else {
			chat = types.NewJID(normalizePhone(chat), types.DefaultUserServer).String()
		}
		id := m.ID
		if id == "" {
			id = newMessageID()
		}
		ts := m.Timestamp
		if ts.IsZero() {
			ts = time.Now()
		}
		if _, ok := byChat[chat]; !ok {
			order = append(order, chat)
		}
		wmi := &waWeb.WebMessageInfo{
			Key:              &waCommon.MessageKey{RemoteJID: proto.String(chat), FromMe: proto.Bool(m.FromMe), ID: proto.String(id)},
			Message:          &waE2E.Message{Conversation: proto.String(m.Text)},
			MessageTimestamp: proto.Uint64(uint64(ts.Unix())),
			Status:           waWeb.WebMessageInfo_DELIVERY_ACK.Enum(),
		}
		byChat[chat] = append(byChat[chat], &waHistorySync.HistorySyncMsg{Message: wmi})
	}
	p.mu.Lock()
	syncType := waHistorySync.HistorySync_INITIAL_BOOTSTRAP
	notifType := waE2E.HistorySyncType_INITIAL_BOOTSTRAP
	if p.histSent > 0 {
		syncType, notifType = waHistorySync.HistorySync_RECENT, waE2E.HistorySyncType_RECENT
	}
	p.histSent++
	chunk := uint32(p.histSent)
	p.mu.Unlock()
	hs := &waHistorySync.HistorySync{SyncType: syncType.Enum(), ChunkOrder: proto.Uint32(chunk), Progress: proto.Uint32(100)}
	for _, chat := range order {
		ms := byChat[chat]
		// newest first, like the phone sends them
		sort.SliceStable(ms, func(i, j int) bool {
			return ms[i].GetMessage().GetMessageTimestamp() > ms[j].GetMessage().GetMessageTimestamp()
		})
		for i, m := range ms {
			m.MsgOrderID = proto.Uint64(uint64(len(ms) - i))
		}
		hs.Conversations = append(hs.Conversations, &waHistorySync.Conversation{
			ID: proto.String(chat), Messages: ms, LastMsgTimestamp: ms[0].GetMessage().MessageTimestamp,
		})
	}
	raw, err := proto.Marshal(hs)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(raw)
	if err = zw.Close(); err != nil {
		return err
	}
	msg := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
		HistorySyncNotification: &waE2E.HistorySyncNotification{
			SyncType:                          notifType.Enum(),
			ChunkOrder:                        proto.Uint32(chunk),
			Progress:                          proto.Uint32(100),
			FileLength:                        proto.Uint64(uint64(buf.Len())),
			InitialHistBootstrapInlinePayload: buf.Bytes(),
		},
	}}
	p.s.mu.Lock()
	var devs []*companion
	for _, id := range p.acct.sortedCompanionIDs() {
		devs = append(devs, p.acct.companions[id])
	}
	p.s.mu.Unlock()
	if len(devs) == 0 {
		return errors.New("wasim: no linked companion to send history to")
	}
	for _, d := range devs {
		if err := p.sendPeer(ctx, d, msg); err != nil {
			return err
		}
	}
	return nil
}
