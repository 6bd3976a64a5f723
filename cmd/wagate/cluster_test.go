package main

import (
	"context"
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
