package sandbox

import (
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// receivedKind copies the kind fields of a message a contact decrypted.
func receivedKind(r wasim.Received) gateway.SandboxReceivedKind {
	k := gateway.SandboxReceivedKind{
		MimeType: r.MimeType, FileName: r.FileName, SHA256: r.MediaSHA256, Caption: r.Caption,
		PTT: r.PTT, GIF: r.GIF, Seconds: int(r.Seconds), LocationName: r.LocationName, Address: r.Address,
		VCards: r.VCards, PollOptions: r.PollOptions, SelectableCount: int(r.SelectableCount),
		SelectedOptions: r.SelectedOptions, Forwarded: r.Forwarded, Mentions: r.Mentions, QuotedID: r.QuotedID,
		LinkTitle: r.LinkTitle, LinkDescription: r.LinkDescription, LinkThumbnail: r.LinkThumbnail,
	}
	if r.Kind == wasim.KindLocation {
		lat, lon := r.Latitude, r.Longitude
		k.Latitude, k.Longitude = &lat, &lon
	}
	if r.Kind == wasim.KindPollVote && k.SelectedOptions == nil && r.PollVoteError == "" {
		k.SelectedOptions = []string{}
	}
	return k
}
