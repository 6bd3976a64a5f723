package main

import (
	"context"

	"github.com/wagate-dev/wagate/internal/eventstream"
	"github.com/wagate-dev/wagate/internal/postgres"
)

// eventParts is the event stream of a running Main.
type eventParts struct {
	Events     *eventstream.Hub
	stopEvents context.CancelFunc
}

// startEvents starts the node's event stream hub and its LISTEN
// connection. They stop when ctx ends (which also ends every open stream
// with a stream.closed "shutdown", so that the HTTP server's graceful
// shutdown is not held by them) or in Close.
func (m *Main) startEvents(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	log := m.Logger.With().Str("component", "eventstream").Logger()
	hub := eventstream.New(postgres.NewEventLog(m.Pool), eventstream.Config{Log: log})
	if err := hub.Start(ctx); err != nil {
		cancel()
		return err
	}
	go postgres.ListenEvents(ctx, m.Pool, hub.Notify, log)
	m.Events, m.stopEvents = hub, cancel
	return nil
}

func (m *Main) closeEvents() {
	if m.stopEvents != nil {
		m.stopEvents()
		m.stopEvents = nil
	}
}
