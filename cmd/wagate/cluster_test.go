package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestNodesStartTogether is issue 18 item 0: processes started at the same
// moment on one empty database all start. Three gateways, a gateway with an
// in-process simulator and two `wagate simulator`s share the database, so
// wagate's migrations, River's, whatsmeow's store upgrade and the
// simulator's tables are all created concurrently; every one of them runs
// under the one migration lock, or two CREATE TABLEs of one name collide
// (pg_type_typname_nsp_index) and a process dies. Then every process must
// stay within its connection budget (the pool's 10 plus one LISTEN
// connection), so that three nodes and a simulator fit in PostgreSQL's
// default 100 connections with room to spare.
func TestNodesStartTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wagate binary")
	}
	const admin = "wamk_00000000000000000000000000000000000000000000516b"
	bin := buildWagate(t)
	db := testkit.NewDatabaseURL(t)
	type proc struct {
		p    *process
		addr string
		gw   bool
	}
	var procs []proc
	simAddr := freeAddr(t)
	for i := range 6 {
		addr := simAddr
		if i > 0 {
			addr = freeAddr(t)
		}
		env := map[string]string{"DATABASE_URL": db, "WAGATE_ADDR": addr, "WAGATE_ADMIN_KEY": admin, "WAGATE_LOG_LEVEL": "warn"}
		args, gw := []string{"serve"}, true
		switch {
		case i < 2:
			args, gw = []string{"simulator"}, false
		case i == 2:
			env["WAGATE_SANDBOX"] = "1" // in-process simulator: its tables too
		default:
			env["WAGATE_SANDBOX"], env["WAGATE_SANDBOX_URL"] = "1", "http://"+simAddr
		}
		procs = append(procs, proc{addr: addr, gw: gw, p: startProcess(t, "node-"+strconv.Itoa(i), bin, args, env)})
	}
	for _, pr := range procs {
		waitFor(t, 60*time.Second, pr.p.name+" serving", func() bool {
			if !pr.gw {
				return dialable(pr.addr)
			}
			resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + pr.addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, pr.p)
	}
	// Every gateway answers the API, on the schema the others created.
	for _, pr := range procs {
		if pr.gw {
			api := &apiClient{t: t, base: "http://" + pr.addr, key: admin}
			api.do(http.MethodPost, "/sessions/create", map[string]any{"name": pr.p.name}, http.StatusCreated, nil)
			api.do(http.MethodGet, "/sessions", nil, http.StatusOK, nil)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if budget := len(procs) * 11; n > budget {
		t.Errorf("%d processes hold %d connections, want at most %d (pool of 10 + 1 LISTEN each)", len(procs), n, budget)
	}
	t.Logf("%d processes started together; %d database connections", len(procs), n)
	for _, pr := range procs {
		if pr.p.exited() {
			t.Errorf("%s exited:\n%s", pr.p.name, pr.p.tail(30))
		}
	}
}

// TestClusterFailoverAfterSIGKILL (issue 18 items 1-3, with real
// processes): one `wagate simulator`, three `wagate serve` nodes and one
// database. Sessions created and linked on each node are owned (leased)
// by it; GET /cluster/nodes on every node lists the three alive nodes and
// what they own. One node is killed with SIGKILL: the survivors adopt its
// sessions once its leases expired, restore them from the store without a
// new link, and messages sent to them while it was down arrive.
func TestClusterFailoverAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wagate binary")
	}
	const (
		admin   = "wamk_00000000000000000000000000000000000000000000516b"
		perNode = 3
		contact = "15550009999"
	)
	bin := buildWagate(t)
	simDB, db := testkit.NewDatabaseURL(t), testkit.NewDatabaseURL(t)
	simAddr := freeAddr(t)
	sim := startProcess(t, "simulator", bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(simAddr) }, sim)
	var nodes []*process
	var apis []*apiClient
	for i := range 3 {
		addr := freeAddr(t)
		nodes = append(nodes, startGateway(t, bin, map[string]string{
			"DATABASE_URL": db, "WAGATE_ADDR": addr, "WAGATE_ADMIN_KEY": admin,
			"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + simAddr,
			"WAGATE_NODE_ID": "node-" + strconv.Itoa(i), "WAGATE_NODE_URL": "http://" + addr,
			"WAGATE_LEASE_TTL": "3s", "WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_RATE_LIMIT_SESSIONS": "0",
			"WAGATE_LOG_LEVEL": "info",
		}, "node-"+strconv.Itoa(i)))
		apis = append(apis, &apiClient{t: t, base: "http://" + addr, key: admin})
	}
	type sess struct{ id, phone string }
	var all []sess
	for i, api := range apis {
		for j := range perNode {
			var created struct {
				Session struct{ ID string } `json:"session"`
			}
			api.do(http.MethodPost, "/sessions/create", map[string]any{"name": fmt.Sprintf("n%d-%d", i, j)}, http.StatusCreated, &created)
			phone := fmt.Sprintf("155500010%d%d", i, j)
			api.do(http.MethodPost, "/sandbox/sessions/"+created.Session.ID+"/link", map[string]any{"phone": phone}, http.StatusOK, nil)
			all = append(all, sess{created.Session.ID, phone})
		}
	}
	type nodeView struct {
		ID            string `json:"id"`
		State         string `json:"state"`
		SessionsOwned int    `json:"sessionsOwned"`
	}
	owned := func(api *apiClient) map[string]nodeView {
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
	for _, api := range apis {
		v := owned(api)
		for i := range 3 {
			if n := v["node-"+strconv.Itoa(i)]; n.State != "alive" || n.SessionsOwned != perNode {
				t.Fatalf("GET /cluster/nodes on %s: %+v, want node-%d alive owning %d", api.base, v, i, perNode)
			}
		}
	}

	nodes[2].kill()
	killed := time.Now()
	// Messages to every session while node-2 is dead: the simulator keeps
	// them, as WhatsApp would.
	ids := map[string]string{}
	for _, s := range all {
		body, _ := json.Marshal(map[string]string{"from": contact, "to": s.phone, "text": "after the kill " + s.id})
		resp, err := http.Post("http://"+simAddr+"/_wagate/sandbox/send", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Result, Error string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out.Result == "" {
			t.Fatalf("simulator send to %s: %+v", s.phone, out)
		}
		ids[s.id] = out.Result
	}
	waitFor(t, 60*time.Second, "the survivors to own every session", func() bool {
		v := owned(apis[0])
		return v["node-2"].State == "dead" && v["node-2"].SessionsOwned == 0 &&
			v["node-0"].SessionsOwned+v["node-1"].SessionsOwned == len(all)
	}, nodes[0])
	v := owned(apis[1])
	if v["node-0"].SessionsOwned < perNode || v["node-1"].SessionsOwned < perNode {
		t.Errorf("the survivors did not keep their own sessions: %+v", v)
	}
	// Every message arrives (the adopted sessions are connected again,
	// with their stored keys), readable through every surviving node.
	for _, s := range all {
		waitFor(t, 60*time.Second, "message to "+s.phone+" stored", func() bool {
			var page struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			apis[len(all)%2].do(http.MethodGet, "/sessions/"+s.id+"/chats/"+contact+"/messages", nil, http.StatusOK, &page)
			for _, m := range page.Messages {
				if m.ID == ids[s.id] {
					return true
				}
			}
			return false
		}, nodes[0])
	}
	t.Logf("SIGKILL of node-2: its %d sessions adopted and every message stored %s after the kill; owners now %+v",
		perNode, time.Since(killed).Round(time.Millisecond), owned(apis[0]))
}
