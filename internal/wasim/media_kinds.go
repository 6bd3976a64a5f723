package wasim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"time"

	"go.mau.fi/util/random"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// KindFields are the fields of a Received message beyond text and
// reactions: media, location, contacts, polls and the context shared by
// every kind (forwarded, mentions).
type KindFields struct {
	// MediaSHA256 is the hex SHA-256 of the decrypted attachment (set
	// only when the download, MAC and hashes checked out).
	MediaSHA256 string
	Caption     string
	FileName    string
	PTT         bool // audio: a voice note
	GIF         bool // video: plays as a GIF
	Seconds     uint32
	Width       uint32
	Height      uint32

	Latitude, Longitude   float64
	LocationName, Address string

	// VCards are the vCards of a contact message (one per contact).
	VCards       []string
	ContactNames []string

	PollName        string
	PollOptions     []string
	SelectableCount uint32
	// SelectedOptions are the option names of a decrypted poll vote;
	// PollVoteError says why a vote could not be decrypted.
	SelectedOptions []string
	PollVoteError   string

	Forwarded bool
	Mentions  []string
	// QuotedID is the message a reply quotes.
	QuotedID string

	LinkURL, LinkTitle, LinkDescription string
	LinkThumbnail                       bool
}

// contextOf copies the shared context of a message (forwarded, mentions).
func (r *Received) contextOf(ci *waE2E.ContextInfo) {
	if ci == nil {
		return
	}
	r.Forwarded = ci.GetIsForwarded()
	r.Mentions = append([]string(nil), ci.GetMentionedJID()...)
	if r.TargetID == "" && ci.GetStanzaID() != "" {
		r.QuotedID = ci.GetStanzaID()
	}
}

// classifyKind fills r for the kinds beyond text, image and the protocol
// messages; false when msg is none of them.
func (s *Server) classifyKind(msg *waE2E.Message, meta outMeta, r *Received) bool {
	wantType := "media"
	switch {
	case msg.GetVideoMessage() != nil:
		v := msg.GetVideoMessage()
		r.Kind, r.Caption, r.Text, r.GIF = KindVideo, v.GetCaption(), v.GetCaption(), v.GetGifPlayback()
		r.Seconds, r.Width, r.Height = v.GetSeconds(), v.GetWidth(), v.GetHeight()
		r.contextOf(v.GetContextInfo())
	case msg.GetAudioMessage() != nil:
		a := msg.GetAudioMessage()
		r.Kind, r.PTT, r.Seconds = KindAudio, a.GetPTT(), a.GetSeconds()
		r.contextOf(a.GetContextInfo())
	case msg.GetDocumentMessage() != nil || msg.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage() != nil:
		d := msg.GetDocumentMessage()
		if d == nil {
			d = msg.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
		}
		r.Kind, r.FileName, r.Caption, r.Text = KindDocument, d.GetFileName(), d.GetCaption(), d.GetCaption()
		r.contextOf(d.GetContextInfo())
	case msg.GetStickerMessage() != nil:
		st := msg.GetStickerMessage()
		r.Kind, r.Width, r.Height = KindSticker, st.GetWidth(), st.GetHeight()
		r.contextOf(st.GetContextInfo())
	case msg.GetLocationMessage() != nil:
		l := msg.GetLocationMessage()
		r.Kind, wantType = KindLocation, "text"
		r.Latitude, r.Longitude = l.GetDegreesLatitude(), l.GetDegreesLongitude()
		r.LocationName, r.Address = l.GetName(), l.GetAddress()
		r.contextOf(l.GetContextInfo())
	case msg.GetContactMessage() != nil:
		c := msg.GetContactMessage()
		r.Kind, wantType = KindContact, "media"
		r.VCards, r.ContactNames = []string{c.GetVcard()}, []string{c.GetDisplayName()}
		r.contextOf(c.GetContextInfo())
	case msg.GetContactsArrayMessage() != nil:
		ca := msg.GetContactsArrayMessage()
		r.Kind, wantType = KindContact, "media"
		for _, c := range ca.GetContacts() {
			r.VCards = append(r.VCards, c.GetVcard())
			r.ContactNames = append(r.ContactNames, c.GetDisplayName())
		}
		r.contextOf(ca.GetContextInfo())
	case pollCreation(msg) != nil:
		p := pollCreation(msg)
		r.Kind, wantType = KindPoll, "poll"
		r.PollName, r.Text, r.SelectableCount = p.GetName(), p.GetName(), p.GetSelectableOptionsCount()
		for _, o := range p.GetOptions() {
			r.PollOptions = append(r.PollOptions, o.GetOptionName())
		}
		r.contextOf(p.GetContextInfo())
		if len(msg.GetMessageContextInfo().GetMessageSecret()) != 32 {
			s.violation("poll %s sent without a 32-byte message secret: votes cannot be encrypted", meta.id)
		}
	case msg.GetPollUpdateMessage() != nil:
		r.Kind, wantType = KindPollVote, "poll"
		r.TargetID = msg.GetPollUpdateMessage().GetPollCreationMessageKey().GetID()
	default:
		return false
	}
	if meta.msgType != "" && meta.msgType != wantType {
		s.violation("%s message %s sent with type=%q, want %q", r.Kind, meta.id, meta.msgType, wantType)
	}
	return true
}

// pollCreation is the poll of a message, of any of its versions.
func pollCreation(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(), msg.GetPollCreationMessageV3()} {
		if p != nil {
			return p
		}
	}
	return nil
}

// pollRecord is what a device keeps of a poll to decrypt votes on it.
type pollRecord struct {
	creator []types.JID // PN and LID of the poll's sender
	secret  []byte
	options []string
}

// completeReceived finishes a Received after decryption and download:
// the attachment's hash, the secret of a poll, the decrypted vote.
func (s *Server) completeReceived(acct *account, sender *account, msg *waE2E.Message, r *Received) {
	if r.Media != nil && r.MediaError == "" {
		sum := sha256.Sum256(r.Media)
		r.MediaSHA256 = hex.EncodeToString(sum[:])
	}
	c := acct.contact
	switch r.Kind {
	case KindPoll:
		c.rememberPoll(r.ID, []types.JID{sender.pnJID(), sender.lidJID()}, msg.GetMessageContextInfo().GetMessageSecret(), r.PollOptions)
	case KindPollVote:
		if acct == sender {
			// The phone's copy of its companion's vote: the phone saw only
			// the polls its companions sent, not those sent to them.
			if _, known := c.Poll(r.TargetID); !known {
				return
			}
		}
		names, err := c.decryptVote(msg.GetPollUpdateMessage(), []types.JID{sender.pnJID(), sender.lidJID()})
		if err != nil {
			r.PollVoteError = err.Error()
			s.violation("simulated device %s could not decrypt the vote %s: %v", acct.pn, r.ID, err)
			return
		}
		r.SelectedOptions = names
	}
}

// rememberPoll keeps a poll's secret (a poll the contact received or sent).
func (c *Contact) rememberPoll(id string, creator []types.JID, secret []byte, options []string) {
	if len(secret) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.polls == nil {
		c.polls = map[string]pollRecord{}
	}
	c.polls[id] = pollRecord{creator: creator, secret: secret, options: options}
}

// decryptVote decrypts a poll vote as whatsmeow's DecryptPollVote does:
// AES-GCM with a key derived (HKDF) from the poll's message secret, the
// poll id, its creator and the voter. Which of the PN and LID forms the
// voter used is not on the wire, so each is tried (GCM authenticates).
func (c *Contact) decryptVote(u *waE2E.PollUpdateMessage, voter []types.JID) ([]string, error) {
	id := u.GetPollCreationMessageKey().GetID()
	c.mu.Lock()
	p, ok := c.polls[id]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("vote on unknown poll %s", id)
	}
	for _, v := range voter {
		for _, o := range p.creator {
			key, ad := pollVoteKey(p.secret, id, o, v)
			pt, err := gcmutil.Decrypt(key, u.GetVote().GetEncIV(), u.GetVote().GetEncPayload(), ad)
			if err != nil {
				continue
			}
			var vote waE2E.PollVoteMessage
			if err := proto.Unmarshal(pt, &vote); err != nil {
				return nil, fmt.Errorf("vote protobuf: %w", err)
			}
			return optionNames(p.options, vote.GetSelectedOptions())
		}
	}
	return nil, errors.New("vote does not decrypt with the poll's secret")
}

// pollVoteKey derives the key and additional data of a vote (whatsmeow's
// generateMsgSecretKey with the "Poll Vote" use case).
func pollVoteKey(secret []byte, pollID string, creator, voter types.JID) (key, ad []byte) {
	const useCase = "Poll Vote"
	cs, vs := creator.ToNonAD().String(), voter.ToNonAD().String()
	info := []byte(pollID + cs + vs + useCase)
	return hkdfutil.SHA256(secret, nil, info, 32), fmt.Appendf(nil, "%s\x00%s", pollID, vs)
}

// encryptVote is the contact's side of voting (as whatsmeow's
// EncryptPollVote): the selected options' hashes, encrypted for the poll.
func encryptVote(secret []byte, pollID string, creator, voter types.JID, options []string) (*waE2E.PollEncValue, error) {
	hashes := make([][]byte, len(options))
	for i, o := range options {
		h := sha256.Sum256([]byte(o))
		hashes[i] = h[:]
	}
	pt, err := proto.Marshal(&waE2E.PollVoteMessage{SelectedOptions: hashes})
	if err != nil {
		return nil, err
	}
	key, ad := pollVoteKey(secret, pollID, creator, voter)
	iv := random.Bytes(12)
	ct, err := gcmutil.Encrypt(key, iv, pt, ad)
	if err != nil {
		return nil, err
	}
	return &waE2E.PollEncValue{EncPayload: ct, EncIV: iv}, nil
}

// optionNames maps selected option hashes back to the poll's options.
func optionNames(options []string, hashes [][]byte) ([]string, error) {
	byHash := make(map[[32]byte]string, len(options))
	for _, o := range options {
		byHash[sha256.Sum256([]byte(o))] = o
	}
	out := []string{}
	for _, h := range hashes {
		var k [32]byte
		if len(h) != 32 {
			return nil, fmt.Errorf("selected option hash of %d bytes", len(h))
		}
		copy(k[:], h)
		name, ok := byHash[k]
		if !ok {
			return nil, errors.New("selected option is none of the poll's options")
		}
		out = append(out, name)
	}
	return out, nil
}

// Poll returns the options of a poll the contact received or sent, for
// tests; ok=false when it knows no such poll.
func (c *Contact) Poll(id string) (options []string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.polls[id]
	return p.options, ok
}

// SendPoll makes the contact send a poll to an account, with a fresh
// message secret it keeps to decrypt the votes.
func (c *Contact) SendPoll(ctx context.Context, to, question string, options []string, selectable uint32) (string, error) {
	opts := make([]*waE2E.PollCreationMessage_Option, len(options))
	for i, o := range options {
		opts[i] = &waE2E.PollCreationMessage_Option{OptionName: proto.String(o)}
	}
	secret := random.Bytes(32)
	id := newMessageID()
	c.rememberPoll(id, []types.JID{c.acct.pnJID(), c.acct.lidJID()}, secret, options)
	return c.SendMessage(ctx, to, &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{
			Name: proto.String(question), Options: opts, SelectableOptionsCount: proto.Uint32(selectable),
		},
		MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: secret},
	}, SendOptions{ID: id})
}

// Vote makes the contact vote on a poll it received from an account (its
// options by name; none retracts the vote), encrypted as WhatsApp does.
func (c *Contact) Vote(ctx context.Context, to, pollID string, options []string) (string, error) {
	c.mu.Lock()
	p, ok := c.polls[pollID]
	c.mu.Unlock()
	if !ok || len(p.creator) == 0 {
		return "", fmt.Errorf("wasim: contact %s knows no poll %s", c.acct.pn, pollID)
	}
	creator := p.creator[0]
	enc, err := encryptVote(p.secret, pollID, creator, c.acct.pnJID(), options)
	if err != nil {
		return "", err
	}
	return c.SendMessage(ctx, to, &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{
			RemoteJID: proto.String(creator.ToNonAD().String()), FromMe: proto.Bool(false), ID: proto.String(pollID),
		},
		Vote:              enc,
		SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}}, SendOptions{})
}

// GroupVote makes a member of group gid vote on a poll posted in the
// group (one the member received, e.g. from a session), as WhatsApp's
// apps do: the vote's key names the group as the chat and the poll's
// sender as the participant, and the vote is encrypted for the member as
// the group addresses it (its LID in a LID group, else its phone JID).
func (s *Server) GroupVote(ctx context.Context, gid, from, pollID string, options []string) (string, error) {
	c := s.Contact(from)
	c.mu.Lock()
	p, ok := c.polls[pollID]
	c.mu.Unlock()
	if !ok || len(p.creator) == 0 {
		return "", fmt.Errorf("wasim: contact %s knows no poll %s", c.acct.pn, pollID)
	}
	s.mu.Lock()
	g := s.groupByIDLocked(gid)
	if g == nil {
		s.mu.Unlock()
		return "", ErrGroupNotFound
	}
	gjid, voter := g.jid(), g.userJID(c.acct)
	creator := p.creator[0] // phone JID of the poll's sender
	if g.LID && len(p.creator) > 1 {
		creator = p.creator[1]
	}
	s.mu.Unlock()
	enc, err := encryptVote(p.secret, pollID, creator, voter, options)
	if err != nil {
		return "", err
	}
	return s.GroupSendMessage(ctx, gid, from, &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{
			RemoteJID: proto.String(gjid.String()), FromMe: proto.Bool(false), ID: proto.String(pollID),
			Participant: proto.String(creator.ToNonAD().String()),
		},
		Vote:              enc,
		SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}}, SendOptions{})
}

// unwrapDocument is the inner message of a document with a caption
// (DocumentWithCaptionMessage), else msg.
func unwrapDocument(msg *waE2E.Message) *waE2E.Message {
	if w := msg.GetDocumentWithCaptionMessage().GetMessage(); w != nil {
		return w
	}
	return msg
}

// MediaFields are the optional fields of a media message a contact sends.
type MediaFields struct {
	Caption  string
	FileName string // documents
	PTT      bool   // audio
	GIF      bool   // video
	// Seconds (video, audio) and Width, Height (video, sticker) are what
	// the sender's app declares; 0 leaves them out.
	Seconds, Width, Height uint32
}

// SendMedia makes the contact send a video, audio, document or sticker
// (kind is KindVideo, KindAudio, KindDocument or KindSticker) as WhatsApp
// does: encrypted with a fresh media key for the kind's media type,
// uploaded to the simulator's media server, then the message of the kind.
func (c *Contact) SendMedia(ctx context.Context, to, kind string, data []byte, mime string, f MediaFields) (string, error) {
	if len(data) == 0 {
		return "", errors.New("wasim: empty media")
	}
	mt, mms := whatsmeow.MediaImage, "image"
	switch kind {
	case KindVideo:
		mt, mms = whatsmeow.MediaVideo, "video"
	case KindAudio:
		mt, mms = whatsmeow.MediaAudio, "audio"
	case KindDocument:
		mt, mms = whatsmeow.MediaDocument, "document"
	case KindSticker:
	default:
		return "", fmt.Errorf("wasim: SendMedia of kind %q", kind)
	}
	mediaKey, blob, fileSHA, encSHA, err := encryptMedia(data, mt)
	if err != nil {
		return "", err
	}
	_, dp, full, err := c.s.storeUpload(ctx, mms, c.acct.pnJID().String(), blob)
	if err != nil {
		return "", fmt.Errorf("wasim: store %s: %w", kind, err)
	}
	n, ts := uint64(len(data)), time.Now().Unix()
	var msg waE2E.Message
	switch kind {
	case KindVideo:
		msg.VideoMessage = &waE2E.VideoMessage{URL: &full, DirectPath: &dp, Mimetype: &mime, MediaKey: mediaKey, FileSHA256: fileSHA,
			FileEncSHA256: encSHA, FileLength: &n, MediaKeyTimestamp: &ts, Caption: optString(f.Caption), GifPlayback: proto.Bool(f.GIF),
			Seconds: optUint32(f.Seconds), Width: optUint32(f.Width), Height: optUint32(f.Height)}
	case KindAudio:
		msg.AudioMessage = &waE2E.AudioMessage{URL: &full, DirectPath: &dp, Mimetype: &mime, MediaKey: mediaKey, FileSHA256: fileSHA,
			FileEncSHA256: encSHA, FileLength: &n, MediaKeyTimestamp: &ts, PTT: proto.Bool(f.PTT), Seconds: optUint32(f.Seconds)}
	case KindDocument:
		msg.DocumentMessage = &waE2E.DocumentMessage{URL: &full, DirectPath: &dp, Mimetype: &mime, MediaKey: mediaKey, FileSHA256: fileSHA,
			FileEncSHA256: encSHA, FileLength: &n, MediaKeyTimestamp: &ts, FileName: optString(f.FileName), Caption: optString(f.Caption)}
	case KindSticker:
		msg.StickerMessage = &waE2E.StickerMessage{URL: &full, DirectPath: &dp, Mimetype: &mime, MediaKey: mediaKey, FileSHA256: fileSHA,
			FileEncSHA256: encSHA, FileLength: &n, MediaKeyTimestamp: &ts, Width: optUint32(f.Width), Height: optUint32(f.Height)}
	}
	return c.SendMessage(ctx, to, &msg, SendOptions{})
}

func optUint32(v uint32) *uint32 {
	if v == 0 {
		return nil
	}
	return &v
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SendLocation makes the contact send a location (a LocationMessage, as
// the phone's "share location" does).
func (c *Contact) SendLocation(ctx context.Context, to string, lat, lon float64, name, address string) (string, error) {
	return c.SendMessage(ctx, to, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(lat), DegreesLongitude: proto.Float64(lon),
		Name: optString(name), Address: optString(address),
	}}, SendOptions{})
}

// SendContacts makes the contact share contact cards: one vCard is a
// ContactMessage, several a ContactsArrayMessage (as the phone does).
// names are the display names, one per vCard.
func (c *Contact) SendContacts(ctx context.Context, to string, names, vcards []string) (string, error) {
	if len(vcards) == 0 || len(names) != len(vcards) {
		return "", errors.New("wasim: SendContacts needs one name per vCard")
	}
	if len(vcards) == 1 {
		return c.SendMessage(ctx, to, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
			DisplayName: proto.String(names[0]), Vcard: proto.String(vcards[0]),
		}}, SendOptions{})
	}
	arr := &waE2E.ContactsArrayMessage{DisplayName: proto.String(fmt.Sprintf("%d contacts", len(vcards)))}
	for i, v := range vcards {
		arr.Contacts = append(arr.Contacts, &waE2E.ContactMessage{DisplayName: proto.String(names[i]), Vcard: proto.String(v)})
	}
	return c.SendMessage(ctx, to, &waE2E.Message{ContactsArrayMessage: arr}, SendOptions{})
}
