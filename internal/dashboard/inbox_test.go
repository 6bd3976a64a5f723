package dashboard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	browser "github.com/wagate-dev/wagate/internal/testkit/chromium"
)

const (
	contactJID = "15550003333@s.whatsapp.net"
	groupJID   = "120363000000000001@g.us"
	textID     = "3EB0TEXT0001"
	imageID    = "3EB0IMAGE001"
	streamedID = "3EB0STREAM01"
)

// inboxState is what the fake inbox endpoints saw, under fakeAPI.mu.
type inboxState struct {
	messageLists int               // GET .../messages calls
	streams      int               // GET .../events/stream connections
	lastEventIDs []string          // the Last-Event-ID header of each stream connection
	mediaKeyed   int               // media downloads that carried the key header
	posts        map[string]string // path -> body of the POSTs and PUTs
	openedThread chan struct{}     // closed on the first GET .../messages
}

// inboxRoutes adds the inbox endpoints of deltaID to the fake API, with the
// shapes of openapi.yaml (ChatListResponse, MessageListResponse,
// DeliveryListResponse, SendResponse, SuccessMessage, WebhookEvent), and an
// event stream that sends one message event, drops the connection, and
// then stays open with heartbeats.
func (f *fakeAPI) inboxRoutes(e *echo.Echo, auth echo.MiddlewareFunc) {
	f.inbox.posts = map[string]string{}
	f.inbox.openedThread = make(chan struct{})
	e.GET("/openapi.json", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"openapi": "3.0.3", "paths": map[string]any{
			"/sessions/{id}/send/document": map[string]any{"post": map[string]any{
				"operationId": "sendDocument",
				"requestBody": map[string]any{"content": map[string]any{"application/json": map[string]any{
					"schema": map[string]any{"$ref": "#/components/schemas/SendDocumentRequest"}}}},
			}},
		}, "components": map[string]any{"schemas": map[string]any{"SendDocumentRequest": map[string]any{
			"type": "object", "properties": map[string]any{"to": map[string]any{}, "document": map[string]any{}, "filename": map[string]any{}},
		}}}})
	})
	g := e.Group("/sessions/"+deltaID, auth)
	g.GET("/chats", func(c echo.Context) error {
		chats := []map[string]any{
			{"jid": contactJID, "name": "Ana Lima", "archived": false, "markedUnread": false, "unreadCount": 2, "lastMessageId": imageID, "lastMessageAt": "2026-01-28T10:06:00Z"},
			{"jid": groupJID, "name": "Shop team", "archived": false, "markedUnread": false, "unreadCount": 0, "lastMessageAt": "2026-01-28T09:00:00Z"},
		}
		if c.QueryParam("archived") == "true" {
			chats = []map[string]any{}
		}
		return c.JSON(http.StatusOK, map[string]any{"success": true, "chats": chats})
	})
	g.GET("/chats/:chat/messages", func(c echo.Context) error {
		f.mu.Lock()
		f.inbox.messageLists++
		if f.inbox.messageLists == 1 {
			close(f.inbox.openedThread)
		}
		f.mu.Unlock()
		if chat, _ := url.PathUnescape(c.Param("chat")); chat != contactJID { // echo leaves %40 escaped
			return c.JSON(http.StatusOK, map[string]any{"success": true, "messages": []any{}})
		}
		return c.JSON(http.StatusOK, map[string]any{"success": true, "messages": []any{
			message(imageID, false, "2026-01-28T10:06:00Z", "image", "the new shelf", "image/png"),
			message(textID, false, "2026-01-28T10:05:00Z", "text", "Do you have it in blue?", ""),
		}})
	})
	g.GET("/chats/:chat/messages/:mid/media", func(c echo.Context) error {
		if c.Param("mid") != imageID {
			return c.JSON(http.StatusNotFound, map[string]any{"success": false, "error": "This message has no media"})
		}
		f.mu.Lock()
		f.inbox.mediaKeyed++ // auth let it through: the key was in the header
		f.mu.Unlock()
		return c.Blob(http.StatusOK, "image/png", f.qrPNG)
	})
	g.GET("/events/stream", func(c echo.Context) error {
		f.mu.Lock()
		f.inbox.streams++
		n := f.inbox.streams
		f.inbox.lastEventIDs = append(f.inbox.lastEventIDs, c.Request().Header.Get("Last-Event-ID"))
		f.mu.Unlock()
		w := c.Response()
		w.Header().Set(echo.HeaderContentType, "text/event-stream")
		w.Header().Set(echo.HeaderCacheControl, "no-cache")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": connected\n\n")
		w.Flush()
		if n == 1 {
			// Once the operator has the chat open, one message arrives; then
			// the connection drops.
			select {
			case <-f.inbox.openedThread:
			case <-c.Request().Context().Done():
				return nil
			}
			env, _ := json.Marshal(map[string]any{
				"id": "evt_1", "type": "message", "sessionId": deltaID, "timestamp": "2026-01-28T10:07:00Z",
				"data": message(streamedID, false, "2026-01-28T10:07:00Z", "text", "Streamed <i>hello</i>\nsecond line", ""),
			})
			fmt.Fprintf(w, "id: evt_1\nevent: message\ndata: %s\n\n", env)
			w.Flush()
			return nil
		}
		for {
			select {
			case <-c.Request().Context().Done():
				return nil
			case <-time.After(500 * time.Millisecond):
				fmt.Fprint(w, ": heartbeat\n\n")
				w.Flush()
			}
		}
	})
	record := func(c echo.Context) string {
		body, _ := io.ReadAll(c.Request().Body)
		f.mu.Lock()
		f.inbox.posts[c.Request().Method+" "+c.Request().URL.Path] = string(body)
		f.mu.Unlock()
		return string(body)
	}
	g.POST("/chats/:chat/read", func(c echo.Context) error {
		record(c)
		return c.JSON(http.StatusOK, map[string]any{"success": true, "jid": contactJID, "messageIds": []string{imageID, textID}, "message": "Chat marked as read"})
	})
	g.POST("/chats/:chat/messages/:mid/star", func(c echo.Context) error {
		record(c)
		return c.JSON(http.StatusOK, map[string]any{"success": true, "message": "Message starred successfully"})
	})
	g.POST("/send/document", func(c echo.Context) error {
		record(c)
		return c.JSON(http.StatusOK, map[string]any{"success": true, "messageId": "3EB0DOC00001", "to": contactJID, "type": "document", "status": "sent", "timestamp": "2026-01-28T10:08:00Z"})
	})
	g.GET("/webhook-deliveries", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"success": true, "deliveries": []map[string]any{{
			"id": "17", "eventId": "evt_1", "eventType": "message", "webhookId": "55555555-5555-4555-8555-555555555555",
			"url": "https://hooks.example/wa", "status": "dead", "attempts": 12, "lastStatusCode": 500, "lastLatencyMs": 31,
			"lastError": nil, "createdAt": "2026-01-28T10:07:00Z",
		}}})
	})
	g.POST("/webhook-deliveries/:did/redeliver", func(c echo.Context) error {
		record(c)
		return c.JSON(http.StatusOK, map[string]any{"success": true, "delivery": map[string]any{
			"id": c.Param("did"), "eventId": "evt_1", "eventType": "message", "webhookId": "55555555-5555-4555-8555-555555555555",
			"url": "https://hooks.example/wa", "status": "pending", "attempts": 0, "createdAt": "2026-01-28T10:07:00Z",
		}})
	})
}

func message(id string, fromMe bool, ts, typ, text, mime string) map[string]any {
	m := map[string]any{
		"id": id, "chatJid": contactJID, "sender": contactJID, "fromMe": fromMe, "timestamp": ts, "type": typ,
		"text": text, "edited": false, "revoked": false, "starred": false, "reactions": []any{},
	}
	if mime != "" {
		m["mimeType"] = mime
	}
	return m
}

// TestInboxInChromium drives the inbox against the fake API in headless
// Chromium: the chat list (unread, groups), the thread with an image
// preview fetched with the key header, a message that arrives on the event
// stream, the stream's resumption with Last-Event-ID after a drop, starring
// a message, sending a document (the button exists because the spec has
// sendDocument), and redelivering a webhook delivery.
func TestInboxInChromium(t *testing.T) {
	t.Parallel()
	f, ts := newFakeAPI(t)
	b := browser.Start(t, 1280, 900)
	b.Navigate(ts.URL + "/dashboard/#key=" + adminKey)
	row := `document.querySelector('#sessions tr[data-id="` + deltaID + `"]')`
	b.WaitFor("the sessions", row)
	b.Eval(row+`.querySelector('button[data-action="inbox"]').click()`, nil)
	b.WaitFor("the stream", `document.getElementById("live").dataset.mode === "stream"`)

	contact := `document.querySelector('#chat-list li[data-jid="` + contactJID + `"]')`
	group := `document.querySelector('#chat-list li[data-jid="` + groupJID + `"]')`
	b.WaitFor("both chats", contact+` && `+group)
	var flags struct{ Unread, Group, Badge, Name string }
	b.Eval(`({Unread: `+contact+`.dataset.unread, Group: `+group+`.dataset.group, Badge: `+contact+`.querySelector(".badge").textContent, Name: `+contact+`.querySelector(".chat-name").textContent})`, &flags)
	if flags.Unread != "true" || flags.Group != "true" || flags.Badge != "2" || flags.Name != "Ana Lima" {
		t.Errorf("chat list flags %+v", flags)
	}
	var doc bool
	b.Eval(`!document.getElementById("attach-document").hidden`, &doc)
	if !doc {
		t.Error("no document button although the spec has sendDocument")
	}

	b.Eval(contact+`.querySelector("button").click()`, nil)
	img := `document.querySelector('#messages li[data-id="` + imageID + `"] img.preview')`
	b.WaitFor("the image preview", img+` && `+img+`.src.startsWith("blob:") && `+img+`.complete && `+img+`.naturalWidth > 0`)
	// Opening the unread chat marks it read.
	waitFake(t, f, "the mark-read request", func() bool {
		_, ok := f.inbox.posts["POST /sessions/"+deltaID+"/chats/"+contactJID+"/read"]
		return ok
	})
	b.WaitFor("the thread marked read", `document.getElementById("thread").dataset.read === "`+contactJID+`"`)
	streamed := `document.querySelector('#messages li[data-id="` + streamedID + `"] .text')`
	b.WaitFor("the streamed message", streamed)
	var got string
	b.Eval(streamed+`.textContent`, &got)
	if got != "Streamed <i>hello</i>\nsecond line" {
		t.Errorf("streamed text %q", got)
	}
	var order []string
	b.Eval(`Array.from(document.querySelectorAll("#messages li.msg")).map((li) => li.dataset.id)`, &order)
	if strings.Join(order, ",") != textID+","+imageID+","+streamedID {
		t.Errorf("thread order %v, want oldest first", order)
	}
	// The stream dropped after evt_1: the page reconnects from there.
	waitFake(t, f, "a reconnection with Last-Event-ID evt_1", func() bool {
		return len(f.inbox.lastEventIDs) >= 2 && f.inbox.lastEventIDs[0] == "" && f.inbox.lastEventIDs[1] == "evt_1"
	})
	b.WaitFor("live again", `document.getElementById("live").dataset.mode === "stream"`)
	// Keyboard focus shows a message's actions (as hovering does).
	b.Eval(`document.querySelector('#messages li[data-id="`+imageID+`"] .act.star').focus()`, nil)
	b.WaitFor("the focused message's actions shown", `getComputedStyle(document.querySelector('#messages li[data-id="`+imageID+`"] .msg-actions')).opacity === "1"`)
	shot := b.Screenshot()

	// Star the image.
	b.Eval(`document.querySelector('#messages li[data-id="`+imageID+`"] .act.star').click()`, nil)
	waitFake(t, f, "the star request", func() bool {
		return f.inbox.posts["POST /sessions/"+deltaID+"/chats/"+contactJID+"/messages/"+imageID+"/star"] == `{"star":true}`
	})

	// Send a document with a caption.
	file := filepath.Join(t.TempDir(), "price list.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4 fake"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.SetFiles("#file-document", file)
	b.WaitFor("the attachment", `!document.getElementById("attachment").hidden`)
	b.Eval(`document.getElementById("compose-text").value = "prices"; document.getElementById("composer").requestSubmit()`, nil)
	b.WaitFor("the document sent", `document.getElementById("thread").dataset.lastSent === "3EB0DOC00001"`)
	f.mu.Lock()
	var sent map[string]string
	_ = json.Unmarshal([]byte(f.inbox.posts["POST /sessions/"+deltaID+"/send/document"]), &sent)
	f.mu.Unlock()
	if sent["to"] != contactJID || sent["filename"] != "price list.pdf" || sent["caption"] != "prices" ||
		sent["document"] != "data:application/pdf;base64,JVBERi0xLjQgZmFrZQ==" {
		t.Errorf("document send body %v", sent)
	}

	// Redeliver the dead delivery.
	b.Eval(`document.getElementById("tab-deliveries").click()`, nil)
	drow := `document.querySelector('#deliveries tr[data-id="17"]')`
	b.WaitFor("the delivery", drow+` && `+drow+`.dataset.status === "dead"`)
	b.Eval(drow+`.querySelector("button.redeliver").click()`, nil)
	waitFake(t, f, "the redeliver request", func() bool {
		_, ok := f.inbox.posts["POST /sessions/"+deltaID+"/webhook-deliveries/17/redeliver"]
		return ok
	})
	for _, e := range b.Errors() {
		t.Errorf("page error: %s", e)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inbox.mediaKeyed == 0 {
		t.Error("the image was not fetched from the media endpoint")
	}
	for _, u := range f.urls {
		if strings.Contains(u, adminKey) || strings.Contains(u, "api_key") {
			t.Errorf("the key went into a URL: %s", u)
		}
	}

	img2, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if bb := img2.Bounds(); bb.Dx() != 1280 || bb.Dy() != 900 {
		t.Errorf("screenshot %v", bb)
	}
	if dir := os.Getenv("WAGATE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "dashboard-inbox-fake.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// waitFake polls a condition on the fake API's state (under its lock).
func waitFake(t *testing.T, f *fakeAPI, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f.mu.Lock()
		ok := cond()
		state := strconv.Itoa(f.inbox.streams) + " streams, Last-Event-IDs " + fmt.Sprint(f.inbox.lastEventIDs) + ", posts " + fmt.Sprint(f.inbox.posts)
		f.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s; the fake saw %s", what, state)
		}
		time.Sleep(100 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}
