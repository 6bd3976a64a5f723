// Command goclient shows wagate's generated Go client (gen/client): it
// creates a session with the admin key, prints the session's one-time key,
// waits for the QR code and prints it (and, with -png, saves it as an image).
// In sandbox mode, -sandbox-phone links the session with a simulated phone
// and waits until it is connected.
//
//	WAGATE_ADMIN_KEY=wamk_... go run ./examples/goclient -name shop
//	WAGATE_ADMIN_KEY=wamk_... go run ./examples/goclient -sandbox-phone 15550001111
//
// Flags: -url (WAGATE_URL, default http://localhost:3000), -name, -png FILE,
// -wait (how long to wait for the QR code / the link), -sandbox-phone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wagate-dev/wagate/gen/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", envOr("WAGATE_URL", "http://localhost:3000"), "wagate base URL (WAGATE_URL)")
	name := flag.String("name", fmt.Sprintf("example-%d", time.Now().Unix()), "session name (unique)")
	pngPath := flag.String("png", "", "also save the QR code as a PNG to this file")
	wait := flag.Duration("wait", 60*time.Second, "how long to wait for the QR code and for the link")
	sandboxPhone := flag.String("sandbox-phone", "", "sandbox mode: link with this simulated phone number")
	flag.Parse()

	adminKey := os.Getenv("WAGATE_ADMIN_KEY")
	if adminKey == "" {
		return errors.New("set WAGATE_ADMIN_KEY to the admin key (wamk_...)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait+30*time.Second)
	defer cancel()

	admin, err := newClient(*url, adminKey)
	if err != nil {
		return err
	}

	// 1. Create the session (admin key). The session key is shown only here.
	created, err := admin.CreateSessionWithResponse(ctx, client.CreateSessionRequest{Name: *name})
	if err != nil {
		return err
	}
	if created.JSON201 == nil {
		return apiError("create session", created.StatusCode(), created.Body)
	}
	s := created.JSON201.Session
	fmt.Printf("session  %s (%s)\nstate    %s\nkey      %s\n         %s\n",
		s.Id, s.Name, s.State, created.JSON201.ApiKey, created.JSON201.Warning)

	// From here on act with the session's own key, as an application would.
	own, err := newClient(*url, created.JSON201.ApiKey)
	if err != nil {
		return err
	}

	// 2. Wait until a QR code is waiting to be scanned.
	state, err := waitForState(ctx, own, s.Id, *wait, client.QrReady, client.Connected)
	if err != nil {
		return err
	}
	if state == client.QrReady {
		qr, err := own.GetSessionQRWithResponse(ctx, s.Id, nil)
		if err != nil {
			return err
		}
		if qr.JSON200 == nil {
			return apiError("get QR", qr.StatusCode(), qr.Body)
		}
		fmt.Printf("qr       %s\n", qr.JSON200.Qr)
		fmt.Println("         scan it in WhatsApp > Linked devices > Link a device (render it as a QR code, or use -png)")
		if *pngPath != "" {
			if err := savePNG(ctx, own, s.Id, *pngPath); err != nil {
				return err
			}
		}
	}

	// 3. Sandbox only: let a simulated phone scan the code.
	if *sandboxPhone != "" && state != client.Connected {
		link, err := admin.SandboxLinkWithResponse(ctx, s.Id, client.SandboxLinkRequest{Phone: *sandboxPhone})
		if err != nil {
			return err
		}
		if link.JSON200 == nil {
			return apiError("sandbox link", link.StatusCode(), link.Body)
		}
		fmt.Printf("linked   %s\n", link.JSON200.Jid)
		if _, err := waitForState(ctx, own, s.Id, *wait, client.Connected); err != nil {
			return err
		}
	}
	return nil
}

func newClient(url, key string) (*client.ClientWithResponses, error) {
	return client.NewClientWithResponses(url,
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-API-Key", key)
			return nil
		}))
}

// waitForState polls the session's status every second until its state is
// one of want, and prints each state it sees.
func waitForState(ctx context.Context, c *client.ClientWithResponses, id client.SessionId, timeout time.Duration, want ...client.SessionState) (client.SessionState, error) {
	deadline := time.Now().Add(timeout)
	var last client.SessionState
	for {
		st, err := c.GetSessionStatusWithResponse(ctx, id)
		if err != nil {
			return "", err
		}
		switch {
		case st.JSON200 != nil:
			state := st.JSON200.Session.State
			if state != last {
				fmt.Printf("state    %s\n", state)
				last = state
			}
			for _, w := range want {
				if state == w {
					return state, nil
				}
			}
			if state == client.Failed {
				msg := ""
				if st.JSON200.Session.LastError != nil {
					msg = *st.JSON200.Session.LastError
				}
				return state, fmt.Errorf("session failed: %s", msg)
			}
		case st.StatusCode() != http.StatusTooManyRequests:
			return "", apiError("get status", st.StatusCode(), st.Body)
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("still %s after %s, wanted %v", last, timeout, want)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func savePNG(ctx context.Context, c *client.ClientWithResponses, id client.SessionId, path string) error {
	format := client.GetSessionQRParamsFormatPng
	// The API allows one QR request per 5 seconds per session.
	time.Sleep(5 * time.Second)
	resp, err := c.GetSessionQRWithResponse(ctx, id, &client.GetSessionQRParams{Format: &format})
	if err != nil {
		return err
	}
	if resp.StatusCode() != http.StatusOK || !strings.HasPrefix(resp.HTTPResponse.Header.Get("Content-Type"), "image/png") {
		return apiError("get QR as PNG", resp.StatusCode(), resp.Body)
	}
	if err := os.WriteFile(path, resp.Body, 0o644); err != nil {
		return err
	}
	fmt.Printf("qr png   %s\n", path)
	return nil
}

func apiError(what string, status int, body []byte) error {
	return fmt.Errorf("%s: HTTP %d: %s", what, status, body)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
