package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// record stores one chat event of session sid as the stores do and returns
// its id.
func record(t *testing.T, s *testkit.Server, sid uuid.UUID, typ, jid string) string {
	t.Helper()
	var id string
	err := pgx.BeginFunc(context.Background(), s.Pool, func(tx pgx.Tx) error {
		var err error
		id, err = postgres.RecordEvent(context.Background(), tx, sid, typ, gateway.ChatEvent{JID: jid})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// envelopeOf is the webhook body of stored event id.
func envelopeOf(t *testing.T, s *testkit.Server, id string) string {
	t.Helper()
	var (
		sid  uuid.UUID
		typ  string
		data []byte
		at   time.Time
	)
	if err := s.Pool.QueryRow(context.Background(), `SELECT session_id, type, data, created_at FROM events WHERE id = $1`, id).
		Scan(&sid, &typ, &data, &at); err != nil {
		t.Fatal(err)
	}
	b, err := gateway.EventEnvelope(id, typ, sid, at, data)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keyHeader(key string, kv ...string) http.Header {
	h := http.Header{"X-Api-Key": {key}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// expectEvents reads events from st and checks they are ids, in order,
// each with its type and the webhook envelope as data.
func expectEvents(t *testing.T, s *testkit.Server, st *testkit.SSEStream, ids ...string) {
	t.Helper()
	for i, id := range ids {
		ev, err := st.NextEvent()
		if err != nil {
			t.Fatalf("event %d of %d: %v", i+1, len(ids), err)
		}
		if ev.ID != id {
			t.Fatalf("event %d: id %q, want %q (%+v)", i+1, ev.ID, id, ev)
		}
		if want := envelopeOf(t, s, id); ev.Data != want {
			t.Fatalf("event %s: data\n%s\nwant the webhook envelope\n%s", id, ev.Data, want)
		}
		var env struct{ Type string }
		_ = json.Unmarshal([]byte(ev.Data), &env)
		if ev.Event != env.Type {
			t.Fatalf("event %s: SSE event %q, envelope type %q", id, ev.Event, env.Type)
		}
	}
}

// TestEventStreamSSE: replay of the stored events after Last-Event-ID or
// ?after= (the header wins), then live events, each once, in order, with
// the webhook envelope as data; ?after=start replays everything; the
// events filter; an unknown id starts live after a stream.reset.
func TestEventStreamSSE(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	sid, key := s.CreateSession("stream-sse")
	other, _ := s.CreateSession("stream-sse-other")
	url := s.URL + "/sessions/" + sid.String() + "/events/stream"

	a := record(t, s, sid, gateway.EventChatArchived, "1@s.whatsapp.net")
	record(t, s, other, gateway.EventChatArchived, "9@s.whatsapp.net") // never in sid's stream
	b := record(t, s, sid, gateway.EventChatUnarchived, "1@s.whatsapp.net")
	c := record(t, s, sid, gateway.EventChatMarkedUnread, "2@s.whatsapp.net")

	// Live: only what comes after the connection.
	live := testkit.OpenSSE(t, url, keyHeader(key), time.Minute)
	if ev, err := live.Next(); err != nil || ev.Comment != "wagate event stream" {
		t.Fatalf("first line %+v %v", ev, err)
	}
	// Replay everything, then live.
	all := testkit.OpenSSE(t, url+"?after=start", keyHeader(key), time.Minute)
	expectEvents(t, s, all, a, b, c)
	d := record(t, s, sid, gateway.EventChatDeleted, "2@s.whatsapp.net")
	expectEvents(t, s, all, d)
	expectEvents(t, s, live, d)

	// Resume after b with the header; ?after=a is ignored then.
	resumed := testkit.OpenSSE(t, url+"?after="+a, keyHeader(key, "Last-Event-ID", b), time.Minute)
	expectEvents(t, s, resumed, c, d)
	// ?after= alone, with the key in the query as a browser's EventSource sends it.
	q := testkit.OpenSSE(t, url+"?after="+c+"&api_key="+key, nil, time.Minute)
	expectEvents(t, s, q, d)

	// The filter: webhook syntax, comma-separated.
	filtered := testkit.OpenSSE(t, url+"?after=start&events=chat.deleted,chat.unarchived", keyHeader(key), time.Minute)
	expectEvents(t, s, filtered, b, d)
	e := record(t, s, sid, gateway.EventChatArchived, "3@s.whatsapp.net")
	f := record(t, s, sid, gateway.EventChatDeleted, "3@s.whatsapp.net")
	expectEvents(t, s, filtered, f)
	expectEvents(t, s, all, e, f)

	// An id that is not stored (retention removed it, or never recorded
	// here: another session's event is not this stream's): reset, then live.
	for _, gone := range []string{"evt_" + uuid.NewString(), record(t, s, other, gateway.EventChatDeleted, "9@s.whatsapp.net")} {
		st := testkit.OpenSSE(t, url, keyHeader(key, "Last-Event-ID", gone), time.Minute)
		ev, err := st.NextEvent()
		if err != nil || ev.Event != httpapi.StreamEventReset || ev.ID != "" {
			t.Fatalf("after unknown %s: %+v %v, want a stream.reset without id", gone, ev, err)
		}
		var ctl struct{ Reason, Message, LastEventID string }
		if err := json.Unmarshal([]byte(ev.Data), &ctl); err != nil || ctl.Reason != "unknown_event" || ctl.LastEventID != gone || !strings.Contains(ctl.Message, "retention") {
			t.Fatalf("reset data %s", ev.Data)
		}
		g := record(t, s, sid, gateway.EventChatArchived, "4@s.whatsapp.net")
		expectEvents(t, s, st, g)
		st.Close()
	}
}

// TestEventStreamScopes: a session key streams only its own session (403
// on another's and on the admin stream); the admin stream carries every
// session's events; bad input is a 400 in the error schema.
func TestEventStreamScopes(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	sa, keyA := s.CreateSession("stream-scope-a")
	sb, keyB := s.CreateSession("stream-scope-b")

	for _, tc := range []struct {
		path, key string
		status    int
		err       string
	}{
		{"/sessions/" + sb.String() + "/events/stream", keyA, 403, gateway.MsgForeignSession},
		{"/events/stream", keyA, 403, gateway.MsgAdminKeyRequired},
		{"/events/stream", "", 401, gateway.MsgAPIKeyRequired},
		{"/sessions/" + sa.String() + "/events/stream?after=nonsense", keyA, 400, "Invalid after: must be an event id (evt_<uuid>) or start"},
		{"/sessions/" + sa.String() + "/events/stream?events=message,bogus", keyA, 400, ""},
	} {
		r := s.Do(http.MethodGet, tc.path, tc.key, nil)
		var body struct{ Error string }
		r.JSON(t, &body)
		if r.Status != tc.status || (tc.err != "" && body.Error != tc.err) {
			t.Errorf("GET %s: %d %s, want %d %q", tc.path, r.Status, r.Body, tc.status, tc.err)
		}
	}
	r := s.Do(http.MethodGet, "/sessions/"+sa.String()+"/events/stream", keyA, nil, "Last-Event-ID", "evt_x")
	var body struct{ Error string }
	r.JSON(t, &body)
	if r.Status != 400 || body.Error != "Invalid Last-Event-ID: must be an event id (evt_<uuid>) or start" {
		t.Errorf("bad Last-Event-ID: %d %s", r.Status, r.Body)
	}

	admin := testkit.OpenSSE(t, s.URL+"/events/stream", keyHeader(s.AdminKey), time.Minute)
	own := testkit.OpenSSE(t, s.URL+"/sessions/"+sb.String()+"/events/stream", keyHeader(keyB), time.Minute)
	x := record(t, s, sa, gateway.EventChatArchived, "1@s.whatsapp.net")
	y := record(t, s, sb, gateway.EventChatArchived, "2@s.whatsapp.net")
	// The shared database holds other tests' sessions: the admin stream
	// carries them too; skip those.
	seen := []string{}
	for len(seen) < 2 {
		ev, err := admin.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID == x || ev.ID == y {
			seen = append(seen, ev.ID)
		}
	}
	if seen[0] != x || seen[1] != y {
		t.Fatalf("admin stream order %v, want %s %s", seen, x, y)
	}
	expectEvents(t, s, own, y)
}

// TestEventStreamHeartbeat: an idle stream sends comment lines.
func TestEventStreamHeartbeat(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), Deps: func(d *httpapi.Deps) {
		d.StreamHeartbeat = 20 * time.Millisecond
	}})
	sid, key := s.CreateSession("stream-heartbeat")
	st := testkit.OpenSSE(t, s.URL+"/sessions/"+sid.String()+"/events/stream", keyHeader(key), time.Minute)
	for beats := 0; beats < 3; {
		ev, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment == "heartbeat" {
			beats++
		}
	}
	a := record(t, s, sid, gateway.EventChatArchived, "1@s.whatsapp.net")
	expectEvents(t, s, st, a)
}

// TestEventStreamWebSocket: the same path with Upgrade: websocket carries
// the same envelopes, replay then live, resumable with ?after=.
func TestEventStreamWebSocket(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	sid, key := s.CreateSession("stream-ws")
	a := record(t, s, sid, gateway.EventChatArchived, "1@s.whatsapp.net")
	b := record(t, s, sid, gateway.EventChatUnarchived, "1@s.whatsapp.net")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/sessions/" + sid.String() + "/events/stream"

	read := func(c *websocket.Conn, ids ...string) {
		t.Helper()
		for _, id := range ids {
			typ, msg, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText {
				t.Fatalf("read: %v %v", typ, err)
			}
			if want := envelopeOf(t, s, id); string(msg) != want {
				t.Fatalf("message\n%s\nwant\n%s", msg, want)
			}
		}
	}
	c, resp, err := websocket.Dial(ctx, wsURL+"?after=start&api_key="+key, nil)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer func() { _ = c.CloseNow() }()
	read(c, a, b)
	d := record(t, s, sid, gateway.EventChatDeleted, "1@s.whatsapp.net")
	read(c, d)
	_ = c.Close(websocket.StatusNormalClosure, "")

	c2, _, err := websocket.Dial(ctx, wsURL+"?after="+a, &websocket.DialOptions{HTTPHeader: keyHeader(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.CloseNow() }()
	read(c2, b, d)

	// An unknown id: a stream.reset control message first.
	c3, _, err := websocket.Dial(ctx, wsURL+"?after=evt_"+uuid.NewString(), &websocket.DialOptions{HTTPHeader: keyHeader(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c3.CloseNow() }()
	_, msg, err := c3.Read(ctx)
	var ctl struct {
		Type string
		Data struct{ Reason string }
	}
	if err != nil || json.Unmarshal(msg, &ctl) != nil || ctl.Type != "stream.reset" || ctl.Data.Reason != "unknown_event" {
		t.Fatalf("reset: %s %v", msg, err)
	}
	// A foreign session is refused before the upgrade.
	other, _ := s.CreateSession("stream-ws-other")
	_, resp, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/sessions/"+other.String()+"/events/stream",
		&websocket.DialOptions{HTTPHeader: keyHeader(key)})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign session over websocket: %v %v", err, resp)
	}
}

// TestEventStreamCutOnRevocation: an open stream ends with stream.closed
// "unauthorized" once its key is revoked or its session deleted (SSE), and
// a WebSocket closes with 4001 after the same control message; other
// streams go on.
func TestEventStreamCutOnRevocation(t *testing.T) {
	t.Parallel()
	s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cr, err := s.Admin().CreateApiKeyWithResponse(ctx, client.CreateApiKeyJSONRequestBody{Name: "stream-revoke"})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create key: %v", err)
	}
	managed := *cr.JSON201.ApiKey.Key
	r, err := s.Client(managed).CreateSessionWithResponse(ctx, client.CreateSessionJSONRequestBody{Name: "stream-revoke-m"})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create session: %v", err)
	}
	ms := r.JSON201.Session.Id
	sid, key := s.CreateSession("stream-revoke-s")
	url := func(id uuid.UUID) string { return s.URL + "/sessions/" + id.String() + "/events/stream" }

	byManaged := testkit.OpenSSE(t, url(ms), keyHeader(managed), time.Minute)
	bySessionKey := testkit.OpenSSE(t, url(sid), keyHeader(key), time.Minute)
	bystander := testkit.OpenSSE(t, url(ms), keyHeader(s.AdminKey), time.Minute)
	wsURL := "ws" + strings.TrimPrefix(url(sid), "http")
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: keyHeader(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.CloseNow() }()
	a := record(t, s, ms, gateway.EventChatArchived, "1@s.whatsapp.net")
	expectEvents(t, s, byManaged, a)
	b := record(t, s, sid, gateway.EventChatArchived, "1@s.whatsapp.net")
	expectEvents(t, s, bySessionKey, b)
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != envelopeOf(t, s, b) {
		t.Fatalf("websocket: %s %v", msg, err)
	}

	closed := func(st *testkit.SSEStream, last string) {
		t.Helper()
		ev, err := st.NextEvent()
		if err != nil || ev.Event != httpapi.StreamEventClosed || ev.ID != "" {
			t.Fatalf("want stream.closed, got %+v %v", ev, err)
		}
		var ctl struct{ Reason, Message, LastEventID string }
		if err := json.Unmarshal([]byte(ev.Data), &ctl); err != nil || ctl.Reason != httpapi.StreamReasonUnauthorized || ctl.LastEventID != last || ctl.Message == "" {
			t.Fatalf("closed data %s", ev.Data)
		}
		if ev, err := st.NextEvent(); err == nil {
			t.Fatalf("the stream goes on after stream.closed: %+v", ev)
		}
	}
	if rv, err := s.Admin().RevokeApiKeyWithResponse(ctx, cr.JSON201.ApiKey.Id); err != nil || rv.StatusCode() != http.StatusOK {
		t.Fatalf("revoke: %v", err)
	}
	closed(byManaged, a)
	// The admin key's stream of the same session is not affected.
	c := record(t, s, ms, gateway.EventChatUnarchived, "1@s.whatsapp.net")
	expectEvents(t, s, bystander, a, c)

	if d, err := s.Admin().DeleteSessionWithResponse(ctx, sid); err != nil || d.StatusCode() != http.StatusOK {
		t.Fatalf("delete: %v", err)
	}
	closed(bySessionKey, b)
	_, msg, err := ws.Read(ctx)
	var ctl struct {
		Type string
		Data struct{ Reason, LastEventID string }
	}
	if err != nil || json.Unmarshal(msg, &ctl) != nil || ctl.Type != httpapi.StreamEventClosed || ctl.Data.Reason != httpapi.StreamReasonUnauthorized {
		t.Fatalf("websocket control: %s %v", msg, err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != httpapi.WSCloseUnauthorized {
		t.Fatalf("websocket close: %v, want code %d", err, httpapi.WSCloseUnauthorized)
	}
}
