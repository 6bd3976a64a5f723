package whatsapp

import (
	"context"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// livenessLoop finds connected sessions that have heard nothing from
// WhatsApp for LivenessInterval and probes them with a ping; a probe that
// gets no answer within LivenessTimeout forces a reconnect. This catches
// the "zombie" socket that looks open but carries nothing.
func (m *Manager) livenessLoop() {
	defer m.wg.Done()
	tick := m.opts.LivenessInterval / 4
	if tick < 50*time.Millisecond {
		tick = 50 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		idleSince := time.Now().Add(-m.opts.LivenessInterval).UnixNano()
		for _, s := range m.snapshot() {
			if s.lastActivity.Load() > idleSince || s.currentState() != gateway.StateConnected {
				continue
			}
			if !s.probing.CompareAndSwap(false, true) {
				continue
			}
			select {
			case m.probeSem <- struct{}{}:
			case <-m.ctx.Done():
				return
			}
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				defer func() { <-m.probeSem }()
				defer s.probing.Store(false)
				s.probe(m.ctx)
			}()
		}
	}
}

// probe sends one ping on the session's socket.
func (s *Session) probe(ctx context.Context) {
	s.mu.Lock()
	cli := s.cli
	s.mu.Unlock()
	if cli == nil || !cli.IsLoggedIn() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.m.opts.LivenessTimeout)
	defer cancel()
	//nolint:staticcheck // DangerousInternals is the only way to send whatsmeow's own ping (w:p) on demand.
	ok, _ := cli.DangerousInternals().SendKeepAlive(ctx)
	if ok {
		s.touch()
		return
	}
	if s.m.ctx.Err() != nil {
		return
	}
	s.forceDown("liveness probe got no answer")
}
