package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// fakeMessaging is a gateway.MessagingService whose sends and archives run
// the XxxFunc fields; the other methods are not used by these tests (the
// embedded nil interface panics, which the server answers with 500).
type fakeMessaging struct {
	gateway.MessagingService
	SendTextFunc    func(ctx context.Context, sid uuid.UUID, to, text, quotedID string) (*gateway.Message, error)
	ArchiveChatFunc func(ctx context.Context, sid uuid.UUID, chatID string, archive bool) (string, error)
}

func (f *fakeMessaging) SendText(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string) (*gateway.Message, error) {
	return f.SendTextFunc(ctx, sid, to, text, quotedID)
}

func (f *fakeMessaging) ArchiveChat(ctx context.Context, sid uuid.UUID, chatID string, archive bool) (string, error) {
	return f.ArchiveChatFunc(ctx, sid, chatID, archive)
}

// TestIdempotencyMiddleware: with an Idempotency-Key the service acts once
// and a repeat gets the first answer byte for byte (status and body) even
// with the body written differently; another request under the key is
// refused; a failed request keeps nothing; keys are per session; without a
// key every request acts.
func TestIdempotencyMiddleware(t *testing.T) {
	t.Parallel()
	var sends atomic.Int32
	fail := atomic.Bool{}
	fake := &fakeMessaging{
		SendTextFunc: func(_ context.Context, _ uuid.UUID, to, text, _ string) (*gateway.Message, error) {
			if fail.Load() {
				return nil, gateway.E(gateway.CodeUnavailable, gateway.MsgStillConnecting)
			}
			n := sends.Add(1)
			// A different id and time per call: a replay is told from a new send.
			return &gateway.Message{ID: uuid.NewString(), ChatJID: to + "@s.whatsapp.net", Type: gateway.TypeText, Text: &text,
				Timestamp: time.Unix(1700000000+int64(n), 0)}, nil
		},
		ArchiveChatFunc: func(_ context.Context, _ uuid.UUID, chatID string, _ bool) (string, error) {
			return chatID + "@s.whatsapp.net", nil
		},
	}
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), Deps: func(d *httpapi.Deps) { d.Messaging = fake }})
	id, key := ts.CreateSession(uniq("idem"))
	other, otherKey := ts.CreateSession(uniq("idem-other"))
	send := "/sessions/" + id.String() + "/send"
	idem := func(k string) []string { return []string{"Idempotency-Key", k} }

	first := ts.Do("POST", send, key, []byte(`{"to":"919988066776","text":"hi"}`), idem("k1")...)
	if first.Status != 200 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	// The same request, keys in another order and spaced: the same answer.
	again := ts.Do("POST", send, key, []byte(`{ "text": "hi", "to": "919988066776" }`), idem("k1")...)
	if again.Status != first.Status || string(again.Body) != string(first.Body) || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay: %d %s %q\nfirst: %d %s %q", again.Status, again.Body, again.Header.Get("Content-Type"),
			first.Status, first.Body, first.Header.Get("Content-Type"))
	}
	if n := sends.Load(); n != 1 {
		t.Fatalf("%d sends for one key", n)
	}
	// Another body, or another operation, under the key: refused, nothing sent.
	for _, r := range []testkit.Response{
		ts.Do("POST", send, key, []byte(`{"to":"919988066776","text":"other"}`), idem("k1")...),
		ts.Do("POST", "/sessions/"+id.String()+"/chats/919988066776/archive", key, nil, idem("k1")...),
	} {
		if r.Status != http.StatusConflict || strings.TrimSpace(string(r.Body)) != testkit.ErrorJSON(gateway.MsgIdempotencyReused) {
			t.Errorf("reused key: %d %s", r.Status, r.Body)
		}
	}
	if n := sends.Load(); n != 1 {
		t.Fatalf("%d sends after reuse", n)
	}
	// Keys are per session: the other session's k1 is its own.
	if r := ts.Do("POST", "/sessions/"+other.String()+"/send", otherKey, []byte(`{"to":"919988066776","text":"other"}`), idem("k1")...); r.Status != 200 {
		t.Fatalf("other session: %d %s", r.Status, r.Body)
	}
	// A failure stores nothing: the retry acts.
	fail.Store(true)
	if r := ts.Do("POST", send, key, []byte(`{"to":"919988066776","text":"later"}`), idem("k2")...); r.Status != 503 {
		t.Fatalf("failing send: %d %s", r.Status, r.Body)
	}
	fail.Store(false)
	before := sends.Load()
	if r := ts.Do("POST", send, key, []byte(`{"to":"919988066776","text":"later"}`), idem("k2")...); r.Status != 200 || sends.Load() != before+1 {
		t.Fatalf("retry after failure: %d %s, sends %d -> %d", r.Status, r.Body, before, sends.Load())
	}
	// Without a key every request acts.
	before = sends.Load()
	for i := 0; i < 2; i++ {
		if r := ts.Do("POST", send, key, []byte(`{"to":"919988066776","text":"hi"}`)); r.Status != 200 {
			t.Fatalf("keyless send: %d %s", r.Status, r.Body)
		}
	}
	if n := sends.Load(); n != before+2 {
		t.Fatalf("keyless sends: %d, want %d", n, before+2)
	}
}

// TestIdempotencyConcurrentDuplicate: a duplicate that arrives while the
// first request is still running does not act; it gets the first answer.
func TestIdempotencyConcurrentDuplicate(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	var sends atomic.Int32
	fake := &fakeMessaging{SendTextFunc: func(_ context.Context, _ uuid.UUID, to, text, _ string) (*gateway.Message, error) {
		if sends.Add(1) == 1 {
			close(entered)
			<-release
		}
		return &gateway.Message{ID: uuid.NewString(), ChatJID: to + "@s.whatsapp.net", Type: gateway.TypeText, Text: &text, Timestamp: time.Now()}, nil
	}}
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), Deps: func(d *httpapi.Deps) { d.Messaging = fake }})
	id, key := ts.CreateSession(uniq("idem-race"))
	send := "/sessions/" + id.String() + "/send"
	body := []byte(`{"to":"919988066776","text":"once"}`)
	var wg sync.WaitGroup
	answers := make([]testkit.Response, 2)
	wg.Add(1)
	go func() { defer wg.Done(); answers[0] = ts.Do("POST", send, key, body, "Idempotency-Key", "race") }()
	<-entered // the first holds the key
	wg.Add(1)
	go func() { defer wg.Done(); answers[1] = ts.Do("POST", send, key, body, "Idempotency-Key", "race") }()
	close(release)
	wg.Wait()
	if n := sends.Load(); n != 1 {
		t.Fatalf("%d sends for one key", n)
	}
	if answers[0].Status != 200 || answers[1].Status != 200 || string(answers[0].Body) != string(answers[1].Body) {
		t.Fatalf("answers differ:\n%d %s\n%d %s", answers[0].Status, answers[0].Body, answers[1].Status, answers[1].Body)
	}
}
