package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// kindContent is what a received message of a kind beyond text carries
// (openapi Message fileName … poll): file name and size, duration,
// dimensions, location, vCards, the poll. Zero for text messages.
func kindContent(msg *waE2E.Message) gateway.MessageContent {
	var c gateway.MessageContent
	size := func(n uint64) {
		if n > 0 {
			v := int64(n)
			c.FileSize = &v
		}
	}
	dims := func(w, h uint32) {
		if w > 0 && h > 0 {
			wi, hi := int(w), int(h)
			c.Width, c.Height = &wi, &hi
		}
	}
	secs := func(s uint32) {
		if s > 0 {
			v := int(s)
			c.Duration = &v
		}
	}
	switch {
	case msg.GetImageMessage() != nil:
		e := msg.GetImageMessage()
		size(e.GetFileLength())
		dims(e.GetWidth(), e.GetHeight())
	case msg.GetVideoMessage() != nil:
		e := msg.GetVideoMessage()
		size(e.GetFileLength())
		dims(e.GetWidth(), e.GetHeight())
		secs(e.GetSeconds())
		c.GIF = e.GetGifPlayback()
	case msg.GetAudioMessage() != nil:
		e := msg.GetAudioMessage()
		size(e.GetFileLength())
		secs(e.GetSeconds())
		c.PTT = e.GetPTT()
	case msg.GetDocumentMessage() != nil:
		e := msg.GetDocumentMessage()
		size(e.GetFileLength())
		if n := e.GetFileName(); n != "" {
			c.FileName = &n
		}
	case msg.GetStickerMessage() != nil:
		e := msg.GetStickerMessage()
		size(e.GetFileLength())
		dims(e.GetWidth(), e.GetHeight())
	case msg.GetLocationMessage() != nil:
		e := msg.GetLocationMessage()
		c.Location = &gateway.MessageLocation{Latitude: e.GetDegreesLatitude(), Longitude: e.GetDegreesLongitude(),
			Name: e.GetName(), Address: e.GetAddress()}
	case msg.GetLiveLocationMessage() != nil:
		e := msg.GetLiveLocationMessage()
		c.Location = &gateway.MessageLocation{Latitude: e.GetDegreesLatitude(), Longitude: e.GetDegreesLongitude()}
	case msg.GetContactMessage() != nil:
		c.VCards = []string{msg.GetContactMessage().GetVcard()}
	case msg.GetContactsArrayMessage() != nil:
		for _, e := range msg.GetContactsArrayMessage().GetContacts() {
			c.VCards = append(c.VCards, e.GetVcard())
		}
	default:
		if p := pollOf(msg); p != nil {
			c.Poll = &gateway.MessagePoll{Question: p.GetName(), Options: []gateway.PollOption{},
				SelectableCount: int(p.GetSelectableOptionsCount())}
			for _, o := range p.GetOptions() {
				c.Poll.Options = append(c.Poll.Options, gateway.PollOption{Name: o.GetOptionName()})
			}
		}
	}
	return c
}

// pollOf is the poll of a message, of any of its versions; nil if none.
func pollOf(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(),
		msg.GetPollCreationMessageV3()} {
		if p != nil {
			return p
		}
	}
	return nil
}

// pollVote decrypts a poll vote with the poll's message secret (whatsmeow
// keeps the secret of every poll sent or received in its message-secret
// store) and makes it a poll-vote change. A vote that does not decrypt
// (a poll this device never saw) is logged and dropped: nothing else can
// read it.
func (h *clientHandler) pollVote(ctx context.Context, evt *events.Message, b gateway.InboundBatch,
	change func(gateway.InboundChange) gateway.InboundBatch) gateway.InboundBatch {
	u := evt.Message.GetPollUpdateMessage()
	vote, err := h.cli.DecryptPollVote(ctx, evt)
	if err != nil {
		h.s.log.Warn().Err(err).Str("message_id", evt.Info.ID).Str("poll_id", u.GetPollCreationMessageKey().GetID()).
			Msg("poll vote not decrypted, dropped")
		return b
	}
	hashes := vote.GetSelectedOptions()
	if hashes == nil {
		hashes = [][]byte{}
	}
	return change(gateway.InboundChange{Kind: gateway.ChangePollVote, TargetID: u.GetPollCreationMessageKey().GetID(),
		PollHashes: hashes})
}
