package whatsapp

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Expired media recovery. WhatsApp's media servers keep a file for a
// limited time; the phone keeps it longer. When a download answers
// 404/410 (403 too: an expired signature), the companion asks the phone
// to upload it again with a media retry receipt (the message id encrypted
// with a key derived from the media key, whatsmeow's
// SendMediaRetryReceipt). The phone answers with a mediaretry
// notification (events.MediaRetry) holding the new direct path, encrypted
// the same way (DecryptMediaRetryNotification). RecoverMedia does that
// round trip, bounded by Options.MediaRetryTimeout.

// Texts of a failed recovery.
const (
	MsgPhoneNoReupload   = "The phone did not re-upload the media; open WhatsApp on the phone and retry"
	MsgMediaNotOnPhone   = "The media is no longer available on WhatsApp or on the phone"
	msgMediaRetryFailed  = "The phone could not re-upload the media"
	msgMediaRetryRefused = "WhatsApp refused the request to re-upload the media"
)

// mediaRetries are the recoveries waiting for the phone, by session and
// message id (one waiter per message: concurrent downloads of the same
// message share the answer).
type mediaRetries struct {
	mu      sync.Mutex
	waiting map[retryKey][]chan *events.MediaRetry
}

type retryKey struct {
	sid uuid.UUID
	id  string
}

func (r *mediaRetries) wait(k retryKey) (chan *events.MediaRetry, func()) {
	ch := make(chan *events.MediaRetry, 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[retryKey][]chan *events.MediaRetry{}
	}
	r.waiting[k] = append(r.waiting[k], ch)
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		list := r.waiting[k]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(r.waiting, k)
		} else {
			r.waiting[k] = list
		}
	}
}

// deliver hands a mediaretry notification to the downloads waiting for
// it; one nobody waits for is dropped (logged by the caller's level).
func (r *mediaRetries) deliver(sid uuid.UUID, evt *events.MediaRetry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.waiting[retryKey{sid, evt.MessageID}] {
		select {
		case ch <- evt:
		default:
		}
	}
}

// RecoverMedia implements gateway.MediaRecoverer: it asks the phone to
// upload the file of message m again and returns the new direct path.
func (m *Manager) RecoverMedia(ctx context.Context, sid uuid.UUID, msg *gateway.Message) (string, error) {
	if msg == nil || msg.Media == nil || len(msg.Media.MediaKey) == 0 {
		return "", gateway.E(gateway.CodeNotFound, gateway.MsgNoMedia)
	}
	cli, err := m.client(sid)
	if err != nil {
		return "", err
	}
	chat, err := types.ParseJID(msg.ChatJID)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	info := &types.MessageInfo{ID: msg.ID, MessageSource: types.MessageSource{Chat: chat, IsFromMe: msg.FromMe, IsGroup: chat.Server == types.GroupServer}}
	if info.IsGroup && msg.Sender != "" {
		if sender, err := types.ParseJID(msg.Sender); err == nil {
			info.Sender = sender
		} else if j, err := waid.Parse("sender", msg.Sender); err == nil {
			info.Sender, _ = types.ParseJID(j.String())
		}
	}
	ch, done := m.retries.wait(retryKey{sid, msg.ID})
	defer done()
	if err := cli.SendMediaRetryReceipt(ctx, info, msg.Media.MediaKey); err != nil {
		return "", TranslateError(err)
	}
	timer := time.NewTimer(m.opts.MediaRetryTimeout)
	defer timer.Stop()
	var evt *events.MediaRetry
	select {
	case evt = <-ch:
	case <-timer.C:
		return "", gateway.E(gateway.CodeUnavailable, MsgPhoneNoReupload)
	case <-ctx.Done():
		return "", gateway.Wrap(gateway.CodeUnavailable, MsgPhoneNoReupload, ctx.Err())
	}
	notif, err := whatsmeow.DecryptMediaRetryNotification(evt, msg.Media.MediaKey)
	switch {
	case errors.Is(err, whatsmeow.ErrMediaNotAvailableOnPhone):
		return "", gateway.Wrap(gateway.CodeNotFound, MsgMediaNotOnPhone, err)
	case err != nil:
		return "", gateway.Wrap(gateway.CodeUnavailable, msgMediaRetryFailed, err)
	}
	switch notif.GetResult() {
	case waMmsRetry.MediaRetryNotification_SUCCESS:
	case waMmsRetry.MediaRetryNotification_NOT_FOUND:
		return "", gateway.E(gateway.CodeNotFound, MsgMediaNotOnPhone)
	case waMmsRetry.MediaRetryNotification_DECRYPTION_ERROR:
		return "", gateway.E(gateway.CodeUnavailable, msgMediaRetryRefused)
	default:
		return "", gateway.E(gateway.CodeUnavailable, msgMediaRetryFailed)
	}
	if notif.GetDirectPath() == "" {
		return "", gateway.E(gateway.CodeUnavailable, msgMediaRetryFailed)
	}
	return notif.GetDirectPath(), nil
}
