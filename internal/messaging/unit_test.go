package messaging_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
)

func TestValidReaction(t *testing.T) {
	t.Parallel()
	ok := []string{"", "👍", "❤️", "😂", "🙏", "🎉", "🔥", "💯", "✅", "❌", "⭐", "👍🏽", "👨‍👩‍👧", "🇮🇳", "1️⃣", "#️⃣", "🏳️‍🌈", "☺️"}
	bad := []string{"ok", "👍👍", "👍 ", " 👍", "a👍", "1", "🇮", "\u200d👍", "👍\u200d", "\ufe0f", strings.Repeat("👍", 20), "\xff"}
	for _, s := range ok {
		if !messaging.ValidReaction(s) {
			t.Errorf("ValidReaction(%q) = false, want true", s)
		}
	}
	for _, s := range bad {
		if messaging.ValidReaction(s) {
			t.Errorf("ValidReaction(%q) = true, want false", s)
		}
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageLoader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := pngBytes(t)
	b64 := base64.StdEncoding.EncodeToString(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok.png":
			_, _ = w.Write(data)
		case "/text":
			_, _ = w.Write([]byte("not an image"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	strict := &messaging.ImageLoader{}
	open := &messaging.ImageLoader{AllowPrivate: true}
	small := &messaging.ImageLoader{MaxBytes: 10, AllowPrivate: true}

	for name, src := range map[string]string{"base64": b64, "data URL": "data:image/png;base64," + b64, "raw url base64": strings.TrimRight(base64.URLEncoding.EncodeToString(data), "=")} {
		img, err := strict.Load(ctx, src, "")
		if err != nil || img.MimeType != "image/png" || img.Width != 3 || img.Height != 2 || !bytes.Equal(img.Data, data) {
			t.Fatalf("%s: %+v %v", name, img, err)
		}
	}
	if img, err := open.Load(ctx, srv.URL+"/ok.png", "image/png"); err != nil || !bytes.Equal(img.Data, data) {
		t.Fatalf("allowed private URL: %v", err)
	}
	cases := []struct {
		name   string
		l      *messaging.ImageLoader
		src    string
		mime   string
		code   gateway.Code
		substr string
	}{
		{"loopback refused", strict, srv.URL + "/ok.png", "", gateway.CodeInvalid, "private or loopback"},
		{"server path", strict, "/etc/passwd", "", gateway.CodeInvalid, "server file paths are not accepted"},
		{"windows path", strict, `C:\images\a.png`, "", gateway.CodeInvalid, "server file paths"},
		{"file URL", strict, "file:///etc/passwd", "", gateway.CodeInvalid, "server file paths"},
		{"not an image", strict, base64.StdEncoding.EncodeToString([]byte("hello world")), "", gateway.CodeInvalid, "JPEG, PNG or WebP"},
		{"mime mismatch", strict, b64, "image/jpeg", gateway.CodeInvalid, "does not match"},
		{"too large base64", small, b64, "", gateway.CodeTooLarge, "larger than"},
		{"too large URL", small, srv.URL + "/ok.png", "", gateway.CodeTooLarge, "larger than"},
		{"404", open, srv.URL + "/missing", "", gateway.CodeInvalid, "HTTP 404"},
		{"URL not an image", open, srv.URL + "/text", "", gateway.CodeInvalid, "JPEG, PNG or WebP"},
		{"bad data URL", strict, "data:image/png,abc", "", gateway.CodeInvalid, "base64"},
	}
	for _, tc := range cases {
		_, err := tc.l.Load(ctx, tc.src, tc.mime)
		if gateway.ErrorCode(err) != tc.code || !strings.Contains(gateway.ErrorMessage(err), tc.substr) {
			t.Errorf("%s: %v, want %s containing %q", tc.name, err, tc.code, tc.substr)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.1.1": false,
		"172.16.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false,
		"fd00::1": false, "fe80::1": false, "::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
	} {
		if got := messaging.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// fakeStore keeps messages in memory and records applied changes.
type fakeStore struct {
	msgs    map[string]*gateway.Message
	changes []gateway.InboundChange
}

func (f *fakeStore) StoreInbound(_ context.Context, _ uuid.UUID, b gateway.InboundBatch) error {
	for i := range b.Messages {
		m := b.Messages[i]
		f.msgs[m.ChatJID+"/"+m.ID] = &m
	}
	f.changes = append(f.changes, b.Changes...)
	return nil
}
func (f *fakeStore) GetMessage(_ context.Context, _ uuid.UUID, c gateway.ChatRef, id string) (*gateway.Message, error) {
	for _, j := range c.All() {
		if m, ok := f.msgs[j+"/"+id]; ok {
			return m, nil
		}
	}
	return nil, gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
}
func (f *fakeStore) FindMessage(ctx context.Context, sid uuid.UUID, id string) (*gateway.Message, error) {
	return nil, gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
}
func (f *fakeStore) ListMessages(context.Context, uuid.UUID, gateway.ChatRef, gateway.Page) ([]gateway.Message, string, error) {
	return nil, "", nil
}
func (f *fakeStore) GetChat(_ context.Context, _ uuid.UUID, c gateway.ChatRef) (*gateway.Chat, error) {
	return &gateway.Chat{JID: c.JID}, nil
}
func (f *fakeStore) ListChats(context.Context, uuid.UUID, gateway.ChatFilter, gateway.Page) ([]gateway.Chat, string, error) {
	return nil, "", nil
}
func (f *fakeStore) SaveSent(ctx context.Context, sid uuid.UUID, m gateway.Message) error {
	return f.StoreInbound(ctx, sid, gateway.InboundBatch{Messages: []gateway.Message{m}})
}
func (f *fakeStore) ApplyChanges(ctx context.Context, sid uuid.UUID, c []gateway.InboundChange) error {
	return f.StoreInbound(ctx, sid, gateway.InboundBatch{Changes: c})
}
func (f *fakeStore) DeleteExpired(context.Context, time.Time) (int64, error) { return 0, nil }

// fakeRuntime records the operations it was asked to perform.
type fakeRuntime struct {
	gateway.MessagingRuntime // unimplemented methods panic
	calls                    []string
	pin                      time.Duration
	star                     bool
}

func (f *fakeRuntime) ResolveChat(_ context.Context, _ uuid.UUID, jid string) (gateway.ChatRef, error) {
	return gateway.ChatRef{JID: jid}, nil
}
func (f *fakeRuntime) OwnJID(context.Context, uuid.UUID) (string, error) {
	return "1555@s.whatsapp.net", nil
}
func (f *fakeRuntime) Revoke(context.Context, uuid.UUID, gateway.MessageKey) error {
	f.calls = append(f.calls, "revoke")
	return nil
}
func (f *fakeRuntime) Edit(context.Context, uuid.UUID, gateway.MessageKey, string) (time.Time, error) {
	f.calls = append(f.calls, "edit")
	return time.Now(), nil
}
func (f *fakeRuntime) Pin(_ context.Context, _ uuid.UUID, _ gateway.MessageKey, d time.Duration) (time.Time, error) {
	f.calls, f.pin = append(f.calls, "pin"), d
	return time.Now(), nil
}
func (f *fakeRuntime) Star(_ context.Context, _ uuid.UUID, _ gateway.MessageKey, s bool) error {
	f.calls, f.star = append(f.calls, "star"), s
	return nil
}

// TestRuleWindows checks the edit and delete windows at their edges with an
// injected clock.
func TestRuleWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sent := time.Date(2026, 1, 28, 10, 0, 0, 0, time.UTC)
	const chat = "919988066776@s.whatsapp.net"
	setup := func(now time.Time) (*messaging.Service, *fakeRuntime) {
		st := &fakeStore{msgs: map[string]*gateway.Message{}}
		text := "hi"
		_ = st.SaveSent(ctx, uuid.Nil, gateway.Message{ID: "OWN", ChatJID: chat, FromMe: true, Timestamp: sent, Type: gateway.TypeText, Text: &text})
		_ = st.SaveSent(ctx, uuid.Nil, gateway.Message{ID: "THEIRS", ChatJID: chat, Sender: chat, Timestamp: sent, Type: gateway.TypeText, Text: &text})
		rt := &fakeRuntime{}
		return messaging.New(st, rt, messaging.Options{Now: func() time.Time { return now }, Recipients: restrictions{}}), rt
	}
	cases := []struct {
		name  string
		after time.Duration
		op    func(*messaging.Service) error
		want  string // "" = allowed
	}{
		{"edit at 14m59s", 15*time.Minute - time.Second, func(s *messaging.Service) error { return s.EditMessage(ctx, uuid.Nil, "919988066776", "OWN", "x") }, ""},
		{"edit at 15m01s", 15*time.Minute + time.Second, func(s *messaging.Service) error { return s.EditMessage(ctx, uuid.Nil, "919988066776", "OWN", "x") }, gateway.MsgCannotEdit},
		{"edit foreign", 0, func(s *messaging.Service) error { return s.EditMessage(ctx, uuid.Nil, "919988066776", "THEIRS", "x") }, gateway.MsgCannotEdit},
		{"delete at 47h59m", 48*time.Hour - time.Minute, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, "+919988066776", "OWN") }, ""},
		{"delete at 48h01m", 48*time.Hour + time.Minute, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, "+919988066776", "OWN") }, gateway.MsgCannotDelete},
		{"delete foreign", 0, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, chat, "THEIRS") }, gateway.MsgCannotDelete},
		{"edit whitespace", 0, func(s *messaging.Service) error { return s.EditMessage(ctx, uuid.Nil, chat, "OWN", " \n ") }, gateway.MsgTextRequired},
		{"pin bad duration", 0, func(s *messaging.Service) error { return s.PinMessage(ctx, uuid.Nil, chat, "OWN", "1h") }, gateway.MsgBadPinDuration},
		{"react bad emoji", 0, func(s *messaging.Service) error { return s.React(ctx, uuid.Nil, chat, "OWN", "x") }, gateway.MsgBadEmoji},
		{"unknown", 0, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, chat, "NOPE") }, gateway.MsgMessageNotFound},
		{"other chat", 0, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, "15550001111", "OWN") }, gateway.MsgMessageNotFound},
	}
	for _, tc := range cases {
		s, rt := setup(sent.Add(tc.after))
		err := tc.op(s)
		if tc.want == "" {
			if err != nil || len(rt.calls) != 1 {
				t.Errorf("%s: %v, calls %v", tc.name, err, rt.calls)
			}
			continue
		}
		if gateway.ErrorMessage(err) != tc.want || len(rt.calls) != 0 {
			t.Errorf("%s: %v (calls %v), want %q and no call", tc.name, err, rt.calls, tc.want)
		}
	}

	// Pin durations and the star default.
	for dur, want := range map[string]time.Duration{"": 24 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour} {
		s, rt := setup(sent)
		if err := s.PinMessage(ctx, uuid.Nil, chat, "OWN", dur); err != nil || rt.pin != want {
			t.Errorf("pin %q: %v, duration %v", dur, err, rt.pin)
		}
	}
	s, rt := setup(sent)
	if msg, err := s.StarMessage(ctx, uuid.Nil, chat, "OWN", nil); err != nil || !rt.star || msg != gateway.MsgMessageStarred {
		t.Errorf("star default: %v %v %q", err, rt.star, msg)
	}
	off := false
	if msg, err := s.StarMessage(ctx, uuid.Nil, chat, "OWN", &off); err != nil || rt.star || msg != gateway.MsgMessageStarred {
		t.Errorf("unstar: %v %v %q", err, rt.star, msg)
	}
}

// restrictions is a fixed gateway.SendRestrictionStore.
type restrictions gateway.SendRestrictions

func (r restrictions) SendRestrictions(context.Context, uuid.UUID) (gateway.SendRestrictions, error) {
	return gateway.SendRestrictions(r), nil
}

func (f *fakeRuntime) SendText(_ context.Context, _ uuid.UUID, o gateway.OutgoingText) (gateway.SentMessage, error) {
	f.calls = append(f.calls, "send "+o.Chat.JID)
	return gateway.SentMessage{ID: "SENT", Timestamp: time.Now(), Chat: o.Chat}, nil
}

func (f *fakeRuntime) React(_ context.Context, _ uuid.UUID, k gateway.MessageKey, _ string) (time.Time, error) {
	f.calls = append(f.calls, "react "+k.ChatJID)
	return time.Now(), nil
}

// TestSendPolicy: a session whose owner key restricts recipients sends
// (and reacts, edits, deletes, pins) only into allowed phone chats, and
// nothing at all once the key expired; account-only operations stay
// allowed; an unwired policy refuses every send.
func TestSendPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const allowedChat, otherChat = "919988066776@s.whatsapp.net", "14155550123@s.whatsapp.net"
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	trial := restrictions{AllowedNumbers: []string{"919988066776"}, ExpiresAt: &later}
	setup := func(r gateway.SendRestrictionStore) (*messaging.Service, *fakeRuntime) {
		st := &fakeStore{msgs: map[string]*gateway.Message{}}
		text := "hi"
		for _, chat := range []string{allowedChat, otherChat} {
			_ = st.SaveSent(ctx, uuid.Nil, gateway.Message{ID: "OWN", ChatJID: chat, FromMe: true, Timestamp: now, Type: gateway.TypeText, Text: &text})
		}
		rt := &fakeRuntime{}
		return messaging.New(st, rt, messaging.Options{Now: func() time.Time { return now }, Recipients: r}), rt
	}
	send := func(to string) func(*messaging.Service) error {
		return func(s *messaging.Service) error { _, err := s.SendText(ctx, uuid.Nil, to, "hello", ""); return err }
	}
	cases := []struct {
		name string
		r    gateway.SendRestrictionStore
		op   func(*messaging.Service) error
		want string // "" = allowed
	}{
		{"unrestricted", restrictions{}, send("14155550123"), ""},
		{"allowed number", trial, send("+91 99880 66776"), ""},
		{"allowed number as JID", trial, send(allowedChat), ""},
		{"other number", trial, send("14155550123"), gateway.MsgRecipientNotAllowed},
		{"group", trial, send("120363025246125888@g.us"), gateway.MsgRecipientNotAllowed},
		{"LID without number", trial, send("123456789012345@lid"), gateway.MsgRecipientNotAllowed},
		{"expired", restrictions{AllowedNumbers: trial.AllowedNumbers, ExpiresAt: &earlier}, send(allowedChat), gateway.MsgTrialExpired},
		{"expired without list", restrictions{ExpiresAt: &earlier}, send(otherChat), gateway.MsgTrialExpired},
		{"react allowed", trial, func(s *messaging.Service) error { return s.React(ctx, uuid.Nil, allowedChat, "OWN", "👍") }, ""},
		{"react other", trial, func(s *messaging.Service) error { return s.React(ctx, uuid.Nil, otherChat, "OWN", "👍") }, gateway.MsgRecipientNotAllowed},
		{"edit other", trial, func(s *messaging.Service) error { return s.EditMessage(ctx, uuid.Nil, otherChat, "OWN", "x") }, gateway.MsgRecipientNotAllowed},
		{"delete other", trial, func(s *messaging.Service) error { return s.DeleteMessage(ctx, uuid.Nil, otherChat, "OWN") }, gateway.MsgRecipientNotAllowed},
		{"pin other", trial, func(s *messaging.Service) error { return s.PinMessage(ctx, uuid.Nil, otherChat, "OWN", "") }, gateway.MsgRecipientNotAllowed},
		{"star other (own account only)", trial, func(s *messaging.Service) error {
			_, err := s.StarMessage(ctx, uuid.Nil, otherChat, "OWN", nil)
			return err
		}, ""},
		{"no policy wired", nil, send(allowedChat), gateway.MsgInternal},
	}
	for _, tc := range cases {
		s, rt := setup(tc.r)
		err := tc.op(s)
		if tc.want == "" {
			if err != nil || len(rt.calls) != 1 {
				t.Errorf("%s: %v, calls %v", tc.name, err, rt.calls)
			}
			continue
		}
		if gateway.ErrorMessage(err) != tc.want || len(rt.calls) != 0 {
			t.Errorf("%s: %v (calls %v), want %q and no call", tc.name, err, rt.calls, tc.want)
		}
		if tc.want != gateway.MsgInternal && gateway.ErrorCode(err) != gateway.CodeForbidden {
			t.Errorf("%s: code %s, want forbidden", tc.name, gateway.ErrorCode(err))
		}
	}
}

// TestMediaKinds: the size limit belongs to the kind (default, overridden
// per kind by MaxSendBytes, for images also by the former Images.MaxBytes);
// a kind the domain does not send yet is refused before anything is
// resolved, loaded or sent.
func TestMediaKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := &fakeRuntime{}
	svc := func(o messaging.Options) *messaging.Service {
		o.Recipients = restrictions{}
		return messaging.New(&fakeStore{msgs: map[string]*gateway.Message{}}, rt, o)
	}
	for _, tc := range []struct {
		name string
		o    messaging.Options
		want int64
	}{
		{"default", messaging.Options{}, messaging.DefaultMaxImageBytes},
		{"per kind", messaging.Options{MaxSendBytes: map[gateway.MediaKind]int64{gateway.MediaImage: 1234}}, 1234},
		{"former image option", messaging.Options{Images: messaging.ImageLoader{MaxBytes: 99}}, 99},
		{"per kind wins", messaging.Options{MaxSendBytes: map[gateway.MediaKind]int64{gateway.MediaImage: 7}, Images: messaging.ImageLoader{MaxBytes: 99}}, 7},
	} {
		if got := svc(tc.o).MaxSendBytes(gateway.MediaImage); got != tc.want {
			t.Errorf("%s: image limit %d, want %d", tc.name, got, tc.want)
		}
	}
	s := svc(messaging.Options{MaxSendBytes: map[gateway.MediaKind]int64{gateway.MediaImage: 10}})
	if got := s.MaxSendBytes(gateway.MediaVideo); got != 0 {
		t.Errorf("video limit %d before video sends exist", got)
	}
	_, err := s.SendMedia(ctx, uuid.Nil, "919988066776", gateway.MediaSend{Kind: gateway.MediaVideo, Source: "AAAA"})
	if gateway.ErrorCode(err) != gateway.CodeInvalid || gateway.ErrorMessage(err) != `media kind "video" is not supported` || len(rt.calls) != 0 {
		t.Errorf("video send: %v, calls %v", err, rt.calls)
	}
	// The kind's limit applies to the send: 10 bytes.
	png := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89}, 11))
	_, err = s.SendMedia(ctx, uuid.Nil, "919988066776", gateway.MediaSend{Kind: gateway.MediaImage, Source: png})
	if gateway.ErrorCode(err) != gateway.CodeTooLarge || gateway.ErrorMessage(err) != "image is larger than 10 bytes" || len(rt.calls) != 0 {
		t.Errorf("image over the kind's limit: %v, calls %v", err, rt.calls)
	}
}
