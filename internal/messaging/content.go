package messaging

import (
	"slices"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The content fields of sent messages (gateway.MessageContent): what the
// send knew, stored with the message as for received ones. The file size
// is the uploaded file's (set in send from SentMessage.Media).

// sentMediaContent is the content of a media send: the document's name,
// the image's or sticker's dimensions where the loader measured them, the
// voice-note and GIF flags.
func sentMediaContent(r gateway.MediaSend, width, height int) gateway.MessageContent {
	var c gateway.MessageContent
	if r.Kind == gateway.MediaDocument && r.FileName != "" {
		n := r.FileName
		c.FileName = &n
	}
	if width > 0 && height > 0 {
		c.Width, c.Height = &width, &height
	}
	c.PTT = r.Kind == gateway.MediaAudio && r.PTT
	c.GIF = r.Kind == gateway.MediaVideo && r.GIF
	return c
}

// sentContent is the content of a location, contact or poll send.
func sentContent(out gateway.OutgoingContent) gateway.MessageContent {
	var c gateway.MessageContent
	if l := out.Location; l != nil {
		c.Location = &gateway.MessageLocation{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	}
	for _, v := range out.VCards {
		c.VCards = append(c.VCards, v.VCard)
	}
	if p := out.Poll; p != nil {
		c.Poll = &gateway.MessagePoll{Question: p.Question, Options: make([]gateway.PollOption, len(p.Options)),
			SelectableCount: p.SelectableCount}
		for i, o := range p.Options {
			c.Poll.Options[i] = gateway.PollOption{Name: o}
		}
	}
	return c
}

// forwardedContent is the content of a forwarded message: the source's,
// without a poll's tally.
func forwardedContent(src *gateway.Message) gateway.MessageContent {
	c := src.MessageContent
	c.VCards = slices.Clone(c.VCards)
	c.Poll = nil // polls are not forwarded
	return c
}
