package wasim_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/appstate"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// testDB creates a fresh database on the local PostgreSQL 15 and drops it
// at cleanup. WASIM_PG overrides the admin URL.
func testDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	admin := os.Getenv("WASIM_PG")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	name := fmt.Sprintf("wasim_test_%d", rand.Uint64())
	if _, err = conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	_ = conn.Close(ctx)
	cfg, err := pgxpool.ParseConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	return pool
}

func TestRestartFromPostgres(t *testing.T) {
	pool := testDB(t)
	log := wasimtest.Logger(t)
	s1 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	phone := s1.Phone("15550070001")
	dave := s1.Contact("15550080001")
	dev := wasimtest.Container().NewDevice()
	c1 := wasimtest.NewClient(t, s1, dev)
	jid := wasimtest.PairQR(t, c1, phone)
	ctx := wasimtest.Ctx(t)
	to := dave.JID()
	// Establish sessions both ways before the restart.
	r, err := c1.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("before restart")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = dave.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r.ID }); err != nil {
		t.Fatal(err)
	}
	if err = c1.SendAppState(ctx, appstate.BuildArchive(to, true, time.Time{}, nil)); err != nil {
		t.Fatal(err)
	}
	c1.Disconnect()
	wasimtest.Eventually(t, "disconnect", func() bool { return !s1.Connected(jid) })
	queued, err := dave.SendText(ctx, phone.JID().User, "queued across restart")
	if err != nil {
		t.Fatal(err)
	}
	// Simulated crash: the server goes away; a new one loads from Postgres.
	_ = s1.Close()

	s2 := wasimtest.NewServerOpts(t, wasim.Options{Logger: log, Strict: true, DB: pool})
	if devs := s2.Devices(phone.JID().User); len(devs) != 1 || devs[0] != jid {
		t.Fatalf("devices after restart %v", devs)
	}
	if s2.Pending(jid) != 1 {
		t.Fatalf("pending after restart = %d", s2.Pending(jid))
	}
	phone2 := s2.Phone(phone.JID().User)
	if !phone2.View().Chats[to.String()].Archived {
		t.Fatalf("phone view lost: %+v", phone2.View())
	}
	c2 := wasimtest.NewClient(t, s2, dev)
	if err = c2.Connect(); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool { return m.Info.ID == queued })
	// Signal sessions of the simulated devices survived too.
	dave2 := s2.Contact(dave.JID().User)
	r2, err := c2.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("after restart")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := dave2.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r2.ID })
	if err != nil || got.Text != "after restart" || got.Encrypted != "msg" {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	if _, err = phone2.WaitReceived(ctx, func(x wasim.Received) bool { return x.ID == r2.ID }); err != nil {
		t.Fatal(err)
	}
	id3, err := dave2.SendText(ctx, phone.JID().User, "reply after restart")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, c2.Events, 0, func(m *events.Message) bool { return m.Info.ID == id3 })
	if err = c2.SendAppState(ctx, appstate.BuildArchive(to, false, time.Time{}, nil)); err != nil {
		t.Fatal(err)
	}
	if phone2.View().Chats[to.String()].Archived {
		t.Fatal("unarchive after restart not seen by phone")
	}
	if v := s2.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	_ = types.EmptyJID
}
