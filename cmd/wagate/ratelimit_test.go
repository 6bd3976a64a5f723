package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestClusterRateLimits (issue 18 item 5, real processes): one `wagate
// simulator` and three `wagate serve` nodes with a cluster secret, a
// general limit of 60 per minute and a session-creation limit of 15 per
// hour. One managed key hammered through all three nodes at once is
// admitted within 10 % of each limit (never above it): the nodes share
// each window's budget through the database. Every refusal is an exact
// 429 (body, Retry-After, X-RateLimit-*), also when it comes from the node
// a creation was placed on.
func TestClusterRateLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wagate binary")
	}
	const (
		admin            = "wamk_00000000000000000000000000000000000000000000516b"
		general, creates = 60, 15
	)
	bin := buildWagate(t)
	simDB, db := testkit.NewDatabaseURL(t), testkit.NewDatabaseURL(t)
	simAddr := freeAddr(t)
	sim := startProcess(t, "simulator", bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(simAddr) }, sim)
	var bases []string
	for i := range 3 {
		addr := freeAddr(t)
		startGateway(t, bin, map[string]string{
			"DATABASE_URL": db, "WAGATE_ADDR": addr, "WAGATE_ADMIN_KEY": admin,
			"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + simAddr,
			"WAGATE_NODE_ID": "node-" + strconv.Itoa(i), "WAGATE_NODE_URL": "http://" + addr,
			"WAGATE_CLUSTER_SECRET": "test-cluster-secret-0123456789", "WAGATE_LEASE_TTL": "3s",
			"WAGATE_RATE_LIMIT_GENERAL": strconv.Itoa(general), "WAGATE_RATE_LIMIT_SESSIONS": strconv.Itoa(creates),
			"WAGATE_LOG_LEVEL": "warn",
		}, "node-"+strconv.Itoa(i))
		bases = append(bases, "http://"+addr)
	}
	// The nodes know each other before the first claim sizes its share.
	adminAPI := &apiClient{t: t, base: bases[0], key: admin}
	waitFor(t, 30*time.Second, "three alive nodes", func() bool {
		var out struct {
			Nodes []struct{ State string } `json:"nodes"`
		}
		adminAPI.do(http.MethodGet, "/cluster/nodes", nil, http.StatusOK, &out)
		alive := 0
		for _, n := range out.Nodes {
			if n.State == "alive" {
				alive++
			}
		}
		return alive == 3
	}, nil)
	newKey := func(name string) string {
		var out struct {
			APIKey struct{ Key string } `json:"apiKey"`
		}
		adminAPI.do(http.MethodPost, "/admin/api-keys", map[string]any{"name": name, "maxSessions": 1000}, http.StatusCreated, &out)
		return out.APIKey.Key
	}

	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	send := func(base, key, method, path string, in any) answer {
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("X-API-Key", key)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return answer{}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, b}
	}
	check429 := func(a answer, limit int) {
		var body struct {
			Success    bool   `json:"success"`
			Error      string `json:"error"`
			RetryAfter int    `json:"retryAfter"`
		}
		if err := json.Unmarshal(a.body, &body); err != nil || body.Success || body.RetryAfter < 1 ||
			body.Error != fmt.Sprintf("Rate limit exceeded. Please wait %d seconds before trying again.", body.RetryAfter) {
			t.Errorf("429 body %s", a.body)
			return
		}
		reset, err := strconv.ParseInt(a.header.Get("X-RateLimit-Reset"), 10, 64)
		if a.header.Get("Retry-After") != strconv.Itoa(body.RetryAfter) || a.header.Get("X-RateLimit-Limit") != strconv.Itoa(limit) ||
			a.header.Get("X-RateLimit-Remaining") != "0" || err != nil || reset < time.Now().Unix() {
			t.Errorf("429 headers Retry-After %q Limit %q Remaining %q Reset %q (retryAfter %d)", a.header.Get("Retry-After"),
				a.header.Get("X-RateLimit-Limit"), a.header.Get("X-RateLimit-Remaining"), a.header.Get("X-RateLimit-Reset"), body.RetryAfter)
		}
	}
	// hammer sends total requests through the nodes in turn from 9
	// workers; it counts the answers with status ok and the 429s.
	hammer := func(total, limit, ok int, req func(i int, base string) answer) (admitted, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 9 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= total {
						return
					}
					a := req(i, bases[i%len(bases)])
					mu.Lock()
					switch a.status {
					case ok:
						admitted++
					case http.StatusTooManyRequests:
						refused++
						check429(a, limit)
					default:
						t.Errorf("request %d: %d %s", i, a.status, a.body)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return admitted, refused
	}

	// General: 200 reads of one key through the three nodes.
	reader := newKey("reader")
	admitted, refused := hammer(200, general, http.StatusOK, func(_ int, base string) answer {
		return send(base, reader, http.MethodGet, "/sessions", nil)
	})
	t.Logf("general limit %d/min over 3 nodes: %d admitted, %d refused", general, admitted, refused)
	if admitted > general || admitted < general*9/10 || admitted+refused != 200 {
		t.Errorf("general: %d admitted, %d refused, want %d..%d admitted of 200", admitted, refused, general*9/10, general)
	}

	// Session creations: 40 of one key through the three nodes (each
	// placed on the least-loaded node, which counts it).
	creator := newKey("creator")
	admitted, refused = hammer(40, creates, http.StatusCreated, func(i int, base string) answer {
		return send(base, creator, http.MethodPost, "/sessions/create", map[string]any{"name": "rl-" + strconv.Itoa(i)})
	})
	t.Logf("session-creation limit %d/h over 3 nodes: %d created, %d refused", creates, admitted, refused)
	if admitted > creates || admitted < creates*9/10 || admitted+refused != 40 {
		t.Errorf("creations: %d created, %d refused, want %d..%d of 40", admitted, refused, creates*9/10, creates)
	}
	var list struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	adminAPI.do(http.MethodGet, "/sessions", nil, http.StatusOK, &list)
	if len(list.Sessions) != admitted {
		t.Errorf("%d sessions stored, %d creations answered 201", len(list.Sessions), admitted)
	}
}
