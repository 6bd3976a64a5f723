package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const clusterAdmin = "wamk_00000000000000000000000000000000000000000000516b"

// TestClusterSixtySessions is issue 18 item 7 and its acceptance, with
// real processes (one `wagate simulator`, three `wagate serve`, one
// database):
//
//  1. 60 sessions created through the three nodes in turn are spread by
//     placement (20 each) and linked.
//  2. Every endpoint kind works through every node for every session,
//     including those the other nodes own: status and get (naming the
//     owner), send text (the contact decodes it), a chat operation
//     (archive, unarchive), list messages, and QR (409: linked).
//  3. Simulated contacts send an inbound burst to sessions of all three
//     nodes; node-2 is killed with SIGKILL in the middle of it. Every
//     session is connected again on the survivors, every message of the
//     burst is in the store (readable through the survivors) and reached
//     the session's webhook receiver, and no device was ever connected
//     twice (`replaced` = 0 on every device, one live connection each).
func TestClusterSixtySessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wagate binary")
	}
	const (
		total   = 60
		rounds  = 4 // burst messages per session
		outTo   = "15550006000"
		inFrom  = "15550006001"
		secret  = "whsec_cluster_sixty_sessions_0123456789"
		listLim = "?limit=200"
	)
	started := time.Now()
	rcv := newReceiver(t)
	rcv.setSecret(secret)
	c := startClusterN(t, clusterAdmin, 3, func(_ int, env map[string]string) {
		env["WAGATE_WEBHOOK_ALLOW_PRIVATE"] = "1"
		// A killed node's running deliveries are rescued after 12s.
		env["WAGATE_WEBHOOK_TIMEOUT"], env["WAGATE_WEBHOOK_RESCUE_AFTER"] = "2s", "12s"
	})
	ss := c.createLinked(total, func(j int) string { return fmt.Sprintf("1555061%04d", j) })
	per := map[int]int{}
	for _, s := range ss {
		per[s.owner]++
	}
	for i := range 3 {
		if per[i] != total/3 {
			t.Fatalf("placement: %v sessions per node, want %d each", per, total/3)
		}
	}
	linkedAt := time.Now()
	t.Logf("%d sessions created and linked, %v per node, %s", total, per, linkedAt.Sub(started).Round(time.Millisecond))

	// 2. Every endpoint through every node.
	var texts []string
	var textsMu sync.Mutex
	errs := parallel(len(ss), 6, func(j int) error {
		s := ss[j]
		want := "node-" + strconv.Itoa(s.owner)
		for k, api := range c.apis {
			for _, path := range []string{"/sessions/" + s.id, "/sessions/" + s.id + "/status"} {
				code, _, body, err := api.call(http.MethodGet, path, nil)
				var out struct {
					Session struct {
						ID    string  `json:"id"`
						State string  `json:"state"`
						Node  *string `json:"node"`
					} `json:"session"`
				}
				if err != nil || code != http.StatusOK || json.Unmarshal(body, &out) != nil ||
					out.Session.ID != s.id || out.Session.State != "connected" || out.Session.Node == nil || *out.Session.Node != want {
					return fmt.Errorf("GET %s through node-%d: %d %s %v, want connected on %s", path, k, code, body, err, want)
				}
			}
			text := fmt.Sprintf("sixty via node-%d to %s", k, s.id)
			code, _, body, err := api.call(http.MethodPost, "/sessions/"+s.id+"/send", map[string]any{"to": outTo, "text": text})
			var sent struct {
				MessageID string `json:"messageId"`
			}
			if err != nil || code != http.StatusOK || json.Unmarshal(body, &sent) != nil || sent.MessageID == "" {
				return fmt.Errorf("send %s through node-%d: %d %s %v", s.id, k, code, body, err)
			}
			textsMu.Lock()
			texts = append(texts, text)
			textsMu.Unlock()
			for _, op := range []string{"archive", "unarchive"} {
				if code, _, body, err := api.call(http.MethodPost, "/sessions/"+s.id+"/chats/"+outTo+"/"+op, nil); err != nil || code != http.StatusOK {
					return fmt.Errorf("%s %s through node-%d: %d %s %v", op, s.id, k, code, body, err)
				}
			}
			var page struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			code, _, body, err = api.call(http.MethodGet, "/sessions/"+s.id+"/chats/"+outTo+"/messages"+listLim, nil)
			found := false
			if err == nil && code == http.StatusOK && json.Unmarshal(body, &page) == nil {
				for _, m := range page.Messages {
					found = found || m.ID == sent.MessageID
				}
			}
			if !found {
				return fmt.Errorf("list messages of %s through node-%d: %d %s %v, want %s", s.id, k, code, body, err, sent.MessageID)
			}
			if code, _, body, err := api.call(http.MethodGet, "/sessions/"+s.id+"/qr", nil); err != nil || code != http.StatusConflict {
				return fmt.Errorf("QR of linked %s through node-%d: %d %s %v, want 409", s.id, k, code, body, err)
			}
			// The session's webhook (for the burst), created through
			// the owner's neighbour.
			if k == (s.owner+1)%3 {
				if code, _, body, err := api.call(http.MethodPost, "/sessions/"+s.id+"/webhooks",
					map[string]any{"url": rcv.URL + "/hook", "secret": secret, "events": []string{"message"}}); err != nil || code != http.StatusCreated {
					return fmt.Errorf("webhook of %s through node-%d: %d %s %v", s.id, k, code, body, err)
				}
			}
		}
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	c.waitReceived(t, outTo, texts, 60*time.Second)
	t.Logf("every endpoint through every node: %d sends decoded by the contact, %s", len(texts), time.Since(linkedAt).Round(time.Millisecond))

	// 3. The inbound burst, node-2 killed in the middle of it.
	burstAt := time.Now()
	var (
		idsMu    sync.Mutex
		ids      []string
		bySess   = map[string][]string{}
		sent     atomic.Int64
		sendErrs []error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 20 * time.Second}
		for r := range rounds {
			sendErrs = append(sendErrs, parallel(len(ss), 4, func(j int) error {
				s := ss[j]
				id, err := c.simSend(client, inFrom, s.phone, fmt.Sprintf("burst %d to %s", r, s.id))
				if err != nil {
					return err
				}
				idsMu.Lock()
				ids = append(ids, id)
				bySess[s.id] = append(bySess[s.id], id)
				idsMu.Unlock()
				sent.Add(1)
				return nil
			})...)
		}
	}()
	// The kill: a third of the burst sent and some of node-2's sessions'
	// messages delivered.
	waitFor(t, 60*time.Second, "a third of the burst sent and delivered", func() bool {
		idsMu.Lock()
		n := rcv.countOf(ids)
		idsMu.Unlock()
		return sent.Load() >= total*rounds/3 && n >= total/3
	}, c.nodes[2])
	c.nodes[2].kill()
	killed := time.Now()
	atKill := sent.Load()
	<-done
	for _, err := range sendErrs {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of node-2 after %d of %d burst messages sent", atKill, total*rounds)
	survivors := c.apis[:2]
	waitFor(t, 60*time.Second, "the survivors to own every session", func() bool {
		v := nodesOf(survivors[0])
		return v["node-2"].State == "dead" && v["node-2"].SessionsOwned == 0 &&
			v["node-0"].SessionsOwned+v["node-1"].SessionsOwned == total
	}, c.nodes[0])
	c.waitConnected(survivors[1], ss, map[string]bool{"node-2": true}, 60*time.Second)
	connectedAfter := time.Since(killed)
	// No message lost: every burst message is in the store, through
	// either survivor.
	for j, s := range ss {
		api := survivors[j%2]
		want := bySess[s.id]
		waitFor(t, 60*time.Second, "the burst to "+s.id+" stored", func() bool {
			var page struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			api.do(http.MethodGet, "/sessions/"+s.id+"/chats/"+inFrom+"/messages"+listLim, nil, http.StatusOK, &page)
			have := map[string]bool{}
			for _, m := range page.Messages {
				have[m.ID] = true
			}
			for _, id := range want {
				if !have[id] {
					return false
				}
			}
			return true
		}, c.nodes[j%2])
	}
	storedAfter := time.Since(killed)
	// No webhook lost: the receiver has every message id.
	if err := rcv.waitAll(ids, 90*time.Second); err != nil {
		t.Fatalf("%v\n--- node-0 log (tail) ---\n%s", err, c.nodes[0].tail(40))
	}
	dups := 0
	for _, id := range ids {
		dups += len(rcv.snapshot()[id]) - 1
	}
	if bad := rcv.badSignatures(); len(bad) > 0 {
		t.Errorf("%d deliveries failed verification: %v", len(bad), bad)
	}
	// No device was ever connected twice; each is connected once now.
	for _, s := range ss {
		if conns, replaced := device(survivors[0], s.id); replaced != 0 || conns != 1 {
			t.Errorf("device of %s: %d connections, %d replaced; want 1 and 0", s.id, conns, replaced)
		}
	}
	t.Logf("after the kill: every session connected on the survivors in %s, every message stored in %s, every webhook in %s (%d duplicate deliveries); owners %+v; total %s",
		connectedAfter.Round(time.Millisecond), storedAfter.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), dups,
		nodesOf(survivors[0]), time.Since(started).Round(time.Millisecond))
	_ = burstAt
}
