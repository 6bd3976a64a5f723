package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// The process-test kit of the cluster tests (issue 18): one `wagate
// simulator`, up to three `wagate serve` nodes with a cluster secret on
// one database, and the requests the tests make of them.

// cluster3 is one `wagate simulator` and up to three `wagate serve` nodes
// with a cluster secret on one database.
type cluster3 struct {
	t       *testing.T
	bin     string
	db      string
	admin   string
	simAddr string
	nodes   []*process
	apis    []*apiClient
	// envs is each node's environment, kept for restarts.
	envs []map[string]string
	// nodeEnv, when set, changes node i's environment before it starts
	// (e.g. DATABASE_URL through a proxy, webhook settings).
	nodeEnv  func(i int, env map[string]string)
	restarts int
}

func startCluster3(t *testing.T, admin string) *cluster3 {
	return startClusterN(t, admin, 3, nil)
}

// startClusterN starts the simulator and n nodes (node-0 ...).
func startClusterN(t *testing.T, admin string, n int, nodeEnv func(i int, env map[string]string)) *cluster3 {
	t.Helper()
	c := &cluster3{t: t, bin: buildWagate(t), admin: admin, simAddr: freeAddr(t), nodeEnv: nodeEnv}
	simDB := testkit.NewDatabaseURL(t)
	c.db = testkit.NewDatabaseURL(t)
	sim := startProcess(t, "simulator", c.bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": c.simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(c.simAddr) }, sim)
	t.Cleanup(func() { // after the nodes are killed: their logs stay in their files
		if t.Failed() {
			c.dumpClusterLogs()
		}
	})
	for range n {
		c.addNode()
	}
	return c
}

// addNode starts the next node and waits until it is ready.
func (c *cluster3) addNode() {
	c.t.Helper()
	i, addr := len(c.nodes), freeAddr(c.t)
	env := map[string]string{
		"DATABASE_URL": c.db, "WAGATE_ADDR": addr, "WAGATE_ADMIN_KEY": c.admin,
		"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + c.simAddr,
		"WAGATE_NODE_ID": "node-" + strconv.Itoa(i), "WAGATE_NODE_URL": "http://" + addr,
		"WAGATE_CLUSTER_SECRET": "test-cluster-secret-0123456789",
		"WAGATE_LEASE_TTL":      "3s", "WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_RATE_LIMIT_SESSIONS": "0",
		"WAGATE_RATE_LIMIT_MESSAGES": "0", "WAGATE_RATE_LIMIT_QR_SECONDS": "0",
		"WAGATE_LOG_LEVEL": "info",
	}
	if c.nodeEnv != nil {
		c.nodeEnv(i, env)
	}
	c.envs = append(c.envs, env)
	c.nodes = append(c.nodes, startGateway(c.t, c.bin, env, "node-"+strconv.Itoa(i)))
	c.apis = append(c.apis, &apiClient{t: c.t, base: "http://" + addr, key: c.admin})
}

// restart stops node i with SIGTERM (it drains: disconnects its sessions
// and hands their leases over), waits for it to exit, and starts it again
// with the same id and address, waiting until it is ready.
func (c *cluster3) restart(i int) {
	c.t.Helper()
	c.nodes[i].term(c.t, 60*time.Second)
	c.restarts++
	c.nodes[i] = startGateway(c.t, c.bin, c.envs[i], fmt.Sprintf("node-%d-r%d", i, c.restarts))
}

// term sends SIGTERM and waits for the process to exit.
func (p *process) term(t *testing.T, timeout time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit %s after SIGTERM\n--- log (tail) ---\n%s", p.name, timeout, p.tail(60))
	}
}

// call is one request that does not fail the test (for goroutines): the
// status, headers and body, or the transport error.
func (a *apiClient) call(method, path string, in any) (int, http.Header, []byte, error) {
	return a.callWithin(30*time.Second, method, path, in)
}

// callWithin is call with the client's timeout.
func (a *apiClient) callWithin(timeout time.Duration, method, path string, in any) (int, http.Header, []byte, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	req.Header.Set("X-API-Key", a.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// raw sends one request and returns the status, the Retry-After header
// and the body.
func (a *apiClient) raw(method, path string, in any, hdr map[string]string) (int, string, []byte) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	req.Header.Set("X-API-Key", a.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b
}

// rawHeaders sends one request and returns the status, the headers and
// the body.
func (a *apiClient) rawHeaders(method, path string, in any) (int, http.Header, []byte) {
	a.t.Helper()
	code, hdr, body, err := a.call(method, path, in)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, hdr, body
}

// received returns the texts the simulated contact phone received.
func (c *cluster3) received(t *testing.T, phone string) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"phone": phone})
	resp, err := http.Post("http://"+c.simAddr+"/_wagate/sandbox/received", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Received []struct{ Text string }
		Error    string
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	var texts []string
	for _, r := range out.Received {
		texts = append(texts, r.Text)
	}
	return texts
}

// waitReceived waits until the contact decoded every one of texts.
func (c *cluster3) waitReceived(t *testing.T, contact string, texts []string, timeout time.Duration) {
	t.Helper()
	var missing []string
	waitFor(t, timeout, fmt.Sprintf("the contact to decode %d texts", len(texts)), func() bool {
		got := map[string]bool{}
		for _, s := range c.received(t, contact) {
			got[s] = true
		}
		missing = missing[:0]
		for _, s := range texts {
			if !got[s] {
				missing = append(missing, s)
			}
		}
		return len(missing) == 0
	}, nil)
}

// simSend makes a simulated contact send text to the account phone
// through the simulator's control API (it takes messages whether or not
// the account's gateway runs); it returns the message id.
func (c *cluster3) simSend(client *http.Client, from, to, text string) (string, error) {
	body, _ := json.Marshal(map[string]string{"from": from, "to": to, "text": text})
	resp, err := client.Post("http://"+c.simAddr+"/_wagate/sandbox/send", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Result, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Error != "" || out.Result == "" {
		return "", fmt.Errorf("simulator send %s -> %s: %d %+v %v", from, to, resp.StatusCode, out, err)
	}
	return out.Result, nil
}

// device returns the simulator's connection counts of a session's linked
// device, through node api (GET /sandbox/sessions/{id}/device). The
// operation is forwarded to the session's owner, so while the session is
// being handed over (a rebalance right after a restart) it answers 503 with
// Retry-After: that is waited out, for at most 30 s; anything else fails.
func device(api *apiClient, id string) (connections, replaced int) {
	api.t.Helper()
	var out struct {
		Connections int `json:"connections"`
		Replaced    int `json:"replaced"`
	}
	path := "/sandbox/sessions/" + id + "/device"
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, hdr, body, err := api.call(http.MethodGet, path, nil)
		if err == nil && status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			api.t.Fatalf("GET %s: %d %v, want 200: %s", path, status, err, body)
		}
		return out.Connections, out.Replaced
	}
}

// nodeView is one row of GET /cluster/nodes.
type nodeView struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	SessionsOwned int    `json:"sessionsOwned"`
}

// nodesOf returns GET /cluster/nodes through api, by node id.
func nodesOf(api *apiClient) map[string]nodeView {
	var out struct {
		Nodes []nodeView `json:"nodes"`
	}
	api.do(http.MethodGet, "/cluster/nodes", nil, http.StatusOK, &out)
	m := map[string]nodeView{}
	for _, n := range out.Nodes {
		m[n.ID] = n
	}
	return m
}

// sessionView is the state and owning node of a session
// (GET /sessions/{id}/status).
type sessionView struct{ state, node string }

func sessionStatus(api *apiClient, id string) (sessionView, error) {
	code, _, body, err := api.call(http.MethodGet, "/sessions/"+id+"/status", nil)
	if err != nil {
		return sessionView{}, err
	}
	var out struct {
		Session struct {
			State string  `json:"state"`
			Node  *string `json:"node"`
		} `json:"session"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		return sessionView{}, fmt.Errorf("GET /sessions/%s/status: %d %s", id, code, body)
	}
	v := sessionView{state: out.Session.State}
	if out.Session.Node != nil {
		v.node = *out.Session.Node
	}
	return v, nil
}

// clusterSession is a session of a cluster test: its id, the account
// phone it is linked to, and its owner when it was created.
type clusterSession struct {
	id, phone string
	owner     int
}

// createLinked creates n sessions through the nodes in turn (placement
// puts each on the least-loaded node), then links each through the node
// after its owner (the link needs the owner's live client, so it is
// forwarded), a few at a time, and waits until all are connected.
func (c *cluster3) createLinked(n int, phone func(j int) string) []clusterSession {
	c.t.Helper()
	out := make([]clusterSession, 0, n)
	start := time.Now()
	for j := range n {
		var created struct {
			Session struct {
				ID   string  `json:"id"`
				Node *string `json:"node"`
			} `json:"session"`
		}
		c.apis[j%len(c.apis)].do(http.MethodPost, "/sessions/create", map[string]any{"name": fmt.Sprintf("s%d", j)}, http.StatusCreated, &created)
		v, err := sessionStatus(c.apis[(j+1)%len(c.apis)], created.Session.ID)
		if err != nil {
			c.t.Fatal(err)
		}
		k, err := strconv.Atoi(strings.TrimPrefix(v.node, "node-"))
		if err != nil {
			c.t.Fatalf("session %d: owner %q", j, v.node)
		}
		out = append(out, clusterSession{id: created.Session.ID, phone: phone(j), owner: k})
	}
	createdAt := time.Now()
	var retried atomic.Int64
	errs := parallel(len(out), 6, func(j int) error {
		s := out[j]
		api := c.apis[(s.owner+1)%len(c.apis)]
		// A 503 with Retry-After (the session moving, its client still
		// connecting) is retried, as the API says a client should. The
		// link itself waits up to 30 s (pairing is CPU-heavy on a busy
		// machine), so the client waits longer.
		for deadline := time.Now().Add(60 * time.Second); ; {
			code, hdr, body, err := api.callWithin(90*time.Second, http.MethodPost, "/sandbox/sessions/"+s.id+"/link", map[string]any{"phone": s.phone})
			if err == nil && code == http.StatusOK {
				return nil
			}
			if err != nil || code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || time.Now().After(deadline) {
				return fmt.Errorf("link %s through %s: %d (Retry-After %q) %s %v", s.id, api.base, code, hdr.Get("Retry-After"), body, err)
			}
			retried.Add(1)
			c.t.Logf("link %s through %s: %d %s; retrying", s.id, api.base, code, body)
			time.Sleep(time.Second)
		}
	})
	for _, err := range errs {
		c.t.Error(err)
	}
	if len(errs) > 0 {
		c.t.FailNow()
	}
	linkedAt := time.Now()
	c.waitConnected(c.apis[0], out, nil, 60*time.Second)
	c.t.Logf("createLinked: %d created in %s, linked in %s (%d links retried after a 503), connected %s later", n,
		createdAt.Sub(start).Round(time.Millisecond), linkedAt.Sub(createdAt).Round(time.Millisecond), retried.Load(), time.Since(linkedAt).Round(time.Millisecond))
	return out
}

// waitConnected waits until every session is connected, as api sees it,
// on a node that is not in not.
func (c *cluster3) waitConnected(api *apiClient, ss []clusterSession, not map[string]bool, timeout time.Duration) {
	c.t.Helper()
	var pending []string
	defer func() {
		if c.t.Failed() && len(pending) > 0 {
			c.t.Logf("not connected: %v", pending)
		}
	}()
	waitFor(c.t, timeout, "every session connected", func() bool {
		pending = pending[:0]
		for _, s := range ss {
			v, err := sessionStatus(api, s.id)
			if err != nil || v.state != "connected" || not[v.node] {
				pending = append(pending, fmt.Sprintf("%s %+v %v", s.id, v, err))
			}
		}
		return len(pending) == 0
	}, nil)
}

// parallel runs f(0..n-1) on workers goroutines and returns the errors.
func parallel(n, workers int, f func(i int) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// simDevice asks the simulator itself (no node in between, so it answers
// while a session moves) for the connection counts of the device linked
// to account phone.
func (c *cluster3) simDevice(client *http.Client, phone string) (connections, replaced int, err error) {
	body, _ := json.Marshal(map[string]string{"phone": phone})
	resp, err := client.Post("http://"+c.simAddr+"/_wagate/sandbox/device", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Device *struct {
			Connections int `json:"connections"`
			Replaced    int `json:"replaced"`
		} `json:"device"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Device == nil {
		return 0, 0, fmt.Errorf("simulator device of %s: %d %+v %v", phone, resp.StatusCode, out, err)
	}
	return out.Device.Connections, out.Device.Replaced, nil
}

// dumpClusterLogs logs what every node said about its leases, rebalancing
// and handovers (warnings and errors, the cluster component).
func (c *cluster3) dumpClusterLogs() {
	for _, p := range c.nodes {
		var lines []string
		for _, l := range strings.Split(p.tail(5000), "\n") {
			if strings.Contains(l, `"component":"cluster"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"warn"`) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		c.t.Logf("--- %s: cluster, warn and error lines (last 40) ---\n%s", p.name, strings.Join(lines, "\n"))
	}
}
