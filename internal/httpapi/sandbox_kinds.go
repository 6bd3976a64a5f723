package httpapi

import (
	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// receivedKindFields sets the kind fields of a contact's message (only
// those the kind has).
func receivedKindFields(item *api.SandboxReceived, k gateway.SandboxReceivedKind) {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	flag := func(b bool) *bool {
		if !b {
			return nil
		}
		return &b
	}
	list := func(l []string) *[]string {
		if l == nil {
			return nil
		}
		return &l
	}
	item.MimeType, item.FileName, item.Sha256, item.Caption = str(k.MimeType), str(k.FileName), str(k.SHA256), str(k.Caption)
	item.Ptt, item.Gif, item.Forwarded, item.LinkThumbnail = flag(k.PTT), flag(k.GIF), flag(k.Forwarded), flag(k.LinkThumbnail)
	item.Latitude, item.Longitude = k.Latitude, k.Longitude
	if k.Seconds > 0 {
		n := k.Seconds
		item.Seconds = &n
	}
	item.LocationName, item.Address = str(k.LocationName), str(k.Address)
	item.Vcards, item.PollOptions, item.SelectedOptions, item.Mentions = list(k.VCards), list(k.PollOptions), list(k.SelectedOptions), list(k.Mentions)
	if k.SelectableCount != 0 || k.PollOptions != nil {
		n := k.SelectableCount
		item.SelectableCount = &n
	}
	item.QuotedId, item.LinkTitle, item.LinkDescription = str(k.QuotedID), str(k.LinkTitle), str(k.LinkDescription)
}
