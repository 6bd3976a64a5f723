package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/testkit/chromium"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestDashboardInbox is the acceptance of the dashboard as an inbox, in
// headless Chromium against the real server in sandbox mode (whatsmeow
// talking to the simulator): the operator creates a session on the page
// (its key is shown once), the simulated phone links it, the operator opens
// its inbox, a contact writes and the message appears without a reload,
// opening the chat marks it read (the contact's device gets the read
// receipt), the operator answers (the contact's device decrypts the answer) and archives
// the chat (the phone's app state shows it archived). Screenshots are
// checked (size, colours) and kept in WAGATE_SCREENSHOT_DIR when set.
//
// It runs in a child process, as TestSandboxMode does: sandbox mode installs
// the simulator's root key process-wide.
func TestDashboardInbox(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
	}
	if os.Getenv("WAGATE_SANDBOX_TEST_CHILD") != "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestDashboardInbox$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "WAGATE_SANDBOX_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("dashboard child: %v\n%s", err, out)
		}
		return
	}
	const (
		admin   = "wamk_000000000000000000000000000000000000000000000009"
		phone   = "15550001111"
		contact = "15550002222"
		inText  = "Hello, is the shop open today? <b>not bold</b>"
		outText = "Yes, from 9 to 18. See you!"
	)
	m, _ := startSandboxMain(t, testkit.NewDatabaseURL(t), admin)
	base := "http://" + m.Addr.String()
	b := chromium.Start(t, 1400, 1000)
	shots := map[string][]byte{}

	b.Navigate(base + "/dashboard/#key=" + admin)
	b.WaitFor("the sessions board", `document.body.dataset.loaded === "true" && !document.getElementById("board").hidden`)
	var hash string
	b.Eval(`location.hash`, &hash)
	if hash != "" {
		t.Fatalf("the key stayed in the URL fragment: %q", hash)
	}
	// A marker that a reload would lose.
	b.Eval(`window.__notReloaded = 42`, nil)

	// Create a session on the page: its key is shown once.
	b.Eval(`document.getElementById("create-name").value = "shop-front"; document.getElementById("create-form").requestSubmit()`, nil)
	b.WaitFor("the new session's key", `!document.getElementById("created").hidden && document.getElementById("created-key").textContent.startsWith("wask_")`)
	var id string
	b.Eval(`document.getElementById("created").dataset.session`, &id)
	b.WaitFor("the QR code of the new session", `document.querySelector('.qr[data-id="`+id+`"][data-qr="png"] img[src^="blob:"]')`)
	shots["qr"] = b.Screenshot()
	b.Eval(`document.getElementById("created-close").click()`, nil)
	if got := func() string {
		var s string
		b.Eval(`document.getElementById("created-key").textContent`, &s)
		return s
	}(); got != "" {
		t.Errorf("the session key is still on the page after Done: %q", got)
	}

	// The simulated phone scans the QR code: the row turns connected.
	var linked struct {
		Jid string `json:"jid"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/link", admin, `{"phone":"`+phone+`","method":"qr"}`, &linked); code != http.StatusOK {
		t.Fatalf("link: %d", code)
	}
	row := `document.querySelector('#sessions tr[data-id="` + id + `"]')`
	b.WaitFor("the session connected", row+`.dataset.state === "connected" && `+row+`.querySelector(".phone").textContent === "`+phone+`"`)
	b.WaitFor("the QR card gone", `!document.querySelector('.qr[data-id="`+id+`"]')`)

	// Open the inbox: empty, live through the stream or polling.
	b.Eval(row+`.querySelector('button[data-action="inbox"]').click()`, nil)
	b.WaitFor("the inbox", `!document.getElementById("inbox").hidden && document.getElementById("inbox").dataset.session === "`+id+`"`)
	b.WaitFor("the live indicator", `["stream", "unavailable"].includes(document.getElementById("live").dataset.mode)`)
	var mode string
	b.Eval(`document.getElementById("live").dataset.mode`, &mode)
	t.Logf("inbox live mode: %s", mode)

	// A contact writes: the chat and the message appear without a reload.
	var in struct {
		MessageID string `json:"messageId"`
	}
	if code := call(t, m, http.MethodPost, "/sandbox/sessions/"+id+"/inbound", admin, `{"from":"`+contact+`","text":"`+strings.ReplaceAll(inText, `"`, `\"`)+`"}`, &in); code != http.StatusOK || in.MessageID == "" {
		t.Fatalf("inbound: %d %+v", code, in)
	}
	chat := `document.querySelector('#chat-list li[data-jid^="` + contact + `@"]')`
	b.WaitFor("the contact's chat in the list, unread", chat+` && `+chat+`.dataset.unread === "true"`)
	var jid string
	b.Eval(chat+`.dataset.jid`, &jid)
	b.Eval(chat+`.querySelector("button").click()`, nil)
	msg := `document.querySelector('#messages li.msg.in[data-id="` + in.MessageID + `"]')`
	b.WaitFor("the inbound message in the thread", msg+` && `+msg+`.querySelector(".text").textContent === `+strconv.Quote(inText))
	// Opening the unread chat marked it read: the contact's device got the
	// read receipt (the blue ticks) for the message, and the badge is gone.
	b.WaitFor("the chat marked read", `document.getElementById("thread").dataset.read === `+strconv.Quote(jid))
	until(t, "the contact's read receipt", func() bool {
		return slices.ContainsFunc(m.Sim.Contact(contact).Receipts(), func(r wasim.ReceiptRecord) bool {
			return r.ID == in.MessageID && r.Type == "read"
		})
	})
	b.WaitFor("the unread badge gone", chat+`.dataset.unread === "false" && !`+chat+`.querySelector(".badge")`)
	var bold bool
	b.Eval(`!!document.querySelector("#messages b")`, &bold)
	if bold {
		t.Error("message text was rendered as HTML")
	}

	// Answer it from the composer: the contact's device decrypts it.
	b.Eval(`document.getElementById("compose-text").value = `+strconv.Quote(outText)+`; document.getElementById("composer").requestSubmit()`, nil)
	b.WaitFor("the answer sent", `document.getElementById("thread").dataset.lastSent`)
	var sentID string
	b.Eval(`document.getElementById("thread").dataset.lastSent`, &sentID)
	out := `document.querySelector('#messages li.msg.out[data-id="` + sentID + `"]')`
	b.WaitFor("the answer in the thread", out+` && `+out+`.querySelector(".text").textContent === `+strconv.Quote(outText))
	waitContactGot(t, m, admin, contact, sentID, "text", outText)

	// An image with a caption from the composer: the contact's device
	// decrypts an image, and the thread previews it from the media endpoint.
	pic := filepath.Join(t.TempDir(), "shelf.png")
	writePNG(t, pic)
	b.SetFiles("#file-image", pic)
	b.WaitFor("the attachment", `!document.getElementById("attachment").hidden`)
	b.Eval(`document.getElementById("compose-text").value = "the blue one"; document.getElementById("composer").requestSubmit()`, nil)
	b.WaitFor("the image sent", `document.getElementById("thread").dataset.lastSent && document.getElementById("thread").dataset.lastSent !== `+strconv.Quote(sentID))
	var imageID string
	b.Eval(`document.getElementById("thread").dataset.lastSent`, &imageID)
	img := `document.querySelector('#messages li.msg.out[data-id="` + imageID + `"] img.preview')`
	b.WaitFor("the sent image's preview", img+` && `+img+`.src.startsWith("blob:") && `+img+`.complete && `+img+`.naturalWidth === 64`)
	waitContactGot(t, m, admin, contact, imageID, "image", "the blue one")
	shots["thread"] = b.Screenshot()

	// Archive the chat: the phone's app state has it archived, and the page
	// moves it to the archived list.
	b.Eval(`document.getElementById("chat-archive").click()`, nil)
	b.WaitFor("the chat archived on the page", `document.getElementById("thread").dataset.lastAction === "archive" && !document.getElementById("chat-unarchive").hidden`)
	waitPhoneArchived(t, m, admin, id, jid)
	b.WaitFor("the chat gone from the inbox list", `!`+chat)
	b.Eval(`document.querySelector('.filter[data-filter="archived"]').click()`, nil)
	b.WaitFor("the chat in the archived list", chat+` && `+chat+`.dataset.archived === "true"`)

	var still int
	b.Eval(`window.__notReloaded || 0`, &still)
	if still != 42 {
		t.Error("the page was reloaded")
	}
	shots["archived"] = b.Screenshot()
	for _, e := range b.Errors() {
		t.Errorf("page error: %s", e)
	}

	brand := color.RGBA{0x07, 0x5e, 0x54, 255}     // the header
	wall := color.RGBA{0xef, 0xea, 0xe2, 255}      // the thread's background
	bubbleOut := color.RGBA{0xd9, 0xfd, 0xd3, 255} // an answer's bubble
	checkScreenshot(t, "qr", shots["qr"], 1400, 1000, map[color.RGBA]int{brand: 10 * 1400, {0, 0, 0, 255}: 5000})
	checkScreenshot(t, "thread", shots["thread"], 1400, 1000, map[color.RGBA]int{wall: 100000, bubbleOut: 2000})
	checkScreenshot(t, "archived", shots["archived"], 1400, 1000, map[color.RGBA]int{wall: 100000})
}

func waitContactGot(t *testing.T, m *Main, key, contact, id, kind, text string) {
	t.Helper()
	var got struct {
		Messages []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		call(t, m, http.MethodGet, "/sandbox/contacts/"+contact+"/messages", key, "", &got)
		for _, msg := range got.Messages {
			if msg.ID == id && msg.Kind == kind && msg.Text == text {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the contact's device decrypted %+v, want %s %s %q", got.Messages, id, kind, text)
		}
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

func waitPhoneArchived(t *testing.T, m *Main, key, id, jid string) {
	t.Helper()
	var view struct {
		Chats []struct {
			Jid      string `json:"jid"`
			Archived bool   `json:"archived"`
		} `json:"chats"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		call(t, m, http.MethodGet, "/sandbox/sessions/"+id+"/phone", key, "", &view)
		for _, c := range view.Chats {
			if c.Jid == jid && c.Archived {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phone's view %+v, want %s archived", view.Chats, jid)
		}
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
}

// checkScreenshot checks that a screenshot is a w×h PNG with the page's
// styles on it (not blank): many colours, and at least want[c] pixels of
// each colour c of the stylesheet.
func checkScreenshot(t *testing.T, name string, raw []byte, w, h int, want map[color.RGBA]int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if bb := img.Bounds(); bb.Dx() != w || bb.Dy() != h {
		t.Fatalf("%s: %dx%d, want %dx%d", name, bb.Dx(), bb.Dy(), w, h)
	}
	colours := map[color.RGBA]int{}
	bb := img.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}]++
		}
	}
	if len(colours) < 32 {
		t.Errorf("%s: %d colours: blank or unstyled", name, len(colours))
	}
	for c, min := range want {
		if n := colours[c]; n < min {
			t.Errorf("%s: colour %v on %d pixels, want at least %d: the page is not styled or not showing what it should", name, c, n, min)
		}
	}
	if dir := os.Getenv("WAGATE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "dashboard-inbox-"+name+".png"), raw, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// writePNG writes a 64×64 two-colour PNG to path.
func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := color.RGBA{0x1f, 0x6f, 0xeb, 255}
			if (x/16+y/16)%2 == 0 {
				c = color.RGBA{0xf5, 0xa6, 0x23, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
