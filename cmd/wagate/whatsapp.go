package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// whatsappParts are Main's WhatsApp side (embedded in Main).
type whatsappParts struct {
	// WA is the session runtime.
	WA *whatsapp.Manager
	// Sim is the in-process simulated WhatsApp (sandbox mode only).
	Sim *wasim.Server
}

// sandboxFlag turns `wagate serve --sandbox` into WAGATE_SANDBOX=true.
func sandboxFlag(args []string, getenv func(string) string) ([]string, func(string) string) {
	out := args[:0:0]
	on := false
	for _, a := range args {
		if a == "--sandbox" || a == "-sandbox" {
			on = true
			continue
		}
		out = append(out, a)
	}
	if !on {
		return args, getenv
	}
	return out, func(k string) string {
		if k == "WAGATE_SANDBOX" {
			return "true"
		}
		return getenv(k)
	}
}

// startWhatsApp builds the session runtime (and, in sandbox mode, the
// simulated WhatsApp it talks to) and restores the sessions of the last
// run. It returns the sandbox control plane, nil outside sandbox mode.
//
// The simulator's root key is installed here, in cmd, and only in sandbox
// mode: internal/whatsapp never imports internal/wasim, it only checks that
// its TrustSimulator option and the process-wide root key agree.
func (m *Main) startWhatsApp(ctx context.Context, inbound gateway.MessageSink, status gateway.SessionStatusStore, onReconnect func(reason string)) (gateway.Sandbox, error) {
	c := m.Config
	settings := sessions.NewSettings(postgres.NewSessionSettings(m.Pool), nil) // read-only here: call policy and proxy
	opts := whatsapp.Options{
		Pool:          m.Pool,
		Status:        status,
		Devices:       postgres.NewDeviceStore(m.Pool),
		Inbound:       inbound,
		Events:        postgres.NewEvents(m.Pool),
		CallPolicy:    settings,
		Calls:         postgres.NewRingingCalls(m.Pool),
		Proxies:       settings,
		Logger:        m.Logger,
		WSCompression: c.WSCompression,
		OnReconnect:   onReconnect,
		Leases:        leaseHooks{m.Node},
	}
	var control sandbox.Control
	switch {
	case c.SandboxURL != "":
		u, err := url.Parse(c.SandboxURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("WAGATE_SANDBOX_URL %q is not an http://host:port URL", c.SandboxURL)
		}
		wasim.InstallRootKey()
		opts.HTTPClient, opts.TrustSimulator = wasim.ClientFor(u.Host), true
		control = &sandbox.Remote{BaseURL: c.SandboxURL}
	case c.Sandbox:
		wasim.InstallRootKey()
		sim, err := wasim.New(sandboxSimOptions(m))
		if err != nil {
			return nil, err
		}
		if err := sim.Start(); err != nil {
			return nil, err
		}
		m.Sim = sim
		opts.HTTPClient, opts.TrustSimulator = sim.HTTPClient(), true
		control = sandbox.Local{Sim: sim}
	}
	wa, err := whatsapp.NewManager(ctx, opts)
	if err != nil {
		return nil, err
	}
	m.WA = wa
	m.leaseLost.Store(wa)
	if _, err := wa.Boot(ctx); err != nil {
		return nil, err
	}
	// From now on the node adopts sessions whose node died or left.
	m.Node.Adopt(wa.Start)
	// With forwarding (a cluster secret), a node over its share hands
	// connected sessions over to a less loaded one (one per heartbeat
	// interval), e.g. when a node joins. Without it nothing moves while
	// its node lives: clients may route requests to the owner by hand.
	if m.Config.ClusterSecret != "" {
		m.Node.Shed(func(ctx context.Context, id uuid.UUID) bool {
			if st, ok := wa.State(id); !ok || st != gateway.StateConnected {
				return false // never in the middle of a link or a reconnect
			}
			wa.Release(ctx, id)
			return true
		})
	}
	if control == nil {
		return nil, nil
	}
	m.Logger.Warn().Bool("shared_simulator", c.SandboxURL != "").Msg("sandbox mode: sessions connect to the simulated WhatsApp, never to the real one")
	return &sandbox.Service{Runtime: wa, Control: control}, nil
}

// schemaOwners are the upgrades of the tables that are not wagate's own,
// run by postgres.Migrate under its lock: whatsmeow's store for a gateway
// (and `wagate migrate`), the simulator's tables for `wagate simulator`
// and for a gateway with an in-process simulator (--sandbox).
func (m *Main) schemaOwners(simulator bool) []postgres.SchemaOwner {
	var owners []postgres.SchemaOwner
	if !simulator {
		owners = append(owners, func(ctx context.Context) error {
			return whatsapp.UpgradeStore(ctx, m.Pool, m.Logger)
		})
	}
	if simulator || (m.Config.Sandbox && m.Config.SandboxURL == "") {
		owners = append(owners, func(ctx context.Context) error {
			return wasim.CreateTables(ctx, m.Pool)
		})
	}
	return owners
}

// sandboxSimOptions configures the simulated WhatsApp of sandbox mode (in
// process and `wagate simulator`): Postgres-backed, and every valid number
// outside the reserved 999... range is on WhatsApp (AutoRegister), so a
// sandbox user can message any number (docs/sandbox.md).
func sandboxSimOptions(m *Main) wasim.Options {
	return wasim.Options{DB: m.Pool, AutoRegister: true, Logger: m.Logger.With().Str("component", "wasim").Logger()}
}

// closeWhatsApp disconnects every session (their states stay, so the next
// start restores them) and stops an in-process simulator.
func (m *Main) closeWhatsApp() {
	if m.WA != nil {
		_ = m.WA.Close()
		m.WA = nil
	}
	if m.Sim != nil {
		_ = m.Sim.Close()
		m.Sim = nil
	}
}

// RunSimulator runs `wagate simulator`: a Postgres-backed simulated WhatsApp
// that several sandbox gateways share (WAGATE_SANDBOX_URL=http://<addr>).
// It serves the websocket endpoint and the sandbox control API on
// Config.Addr until ctx ends.
func (m *Main) RunSimulator(ctx context.Context) error {
	if err := m.open(ctx, true); err != nil {
		return err
	}
	sim, err := wasim.New(sandboxSimOptions(m))
	if err != nil {
		return err
	}
	defer sim.Close()
	mux := http.NewServeMux()
	mux.Handle(sandbox.ControlPrefix, sandbox.ControlHandler(sandbox.Local{Sim: sim}))
	mux.Handle("/", sim.Handler())
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	m.Addr = ln.Addr()
	m.Logger.Info().Str("addr", m.Addr.String()).Msg("simulator serving")
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
