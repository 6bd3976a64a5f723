package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Retry delays of the short-lived logout client within LogoutTimeout.
const (
	logoutRetryBase = 250 * time.Millisecond
	logoutRetryMax  = 2 * time.Second
)

// errDeviceGone: WhatsApp answered the login with "logged out": the device
// is no longer linked, which is what a logout wants.
var errDeviceGone = errors.New("device already unlinked on WhatsApp")

// linkedDevice returns the session's client (may be nil) and the JID of its
// linked device: the client's, else the stored link's. jid is nil when the
// session is not linked; a stored link whose keys are gone is removed.
// Caller holds opMu.
func (s *Session) linkedDevice(ctx context.Context) (*whatsmeow.Client, *types.JID, error) {
	s.mu.Lock()
	cli := s.cli
	s.mu.Unlock()
	if cli != nil {
		if id := cli.Store.ID; id != nil {
			jid := *id
			return cli, &jid, nil
		}
	}
	dev, err := s.m.loadDevice(ctx, s.id)
	if err != nil {
		return cli, nil, err
	}
	return cli, dev.ID, nil
}

// unlink logs the linked device jid out on WhatsApp, deletes its keys,
// removes our link and stops the session; cli is the session's client, if
// any. A logged-in client sends the logout itself. Otherwise the supervisor
// is stopped first and a short-lived client connects with the stored keys
// only to send it. When WhatsApp cannot be told within LogoutTimeout, the
// keys are deleted here anyway and warning says why (the device then stays
// in the phone's "Linked devices" until removed there). Once begun it
// finishes even if ctx is cancelled (the caller gave up): a half-done
// unlink would leave a halted session in a state that says otherwise.
// Caller holds opMu.
func (s *Session) unlink(ctx context.Context, cli *whatsmeow.Client, jid types.JID) (warning string, err error) {
	ctx = context.WithoutCancel(ctx)
	s.mu.Lock()
	s.quitting = true
	s.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, s.m.opts.LogoutTimeout)
	defer cancel()
	loggedOut := false
	if cli != nil && cli.IsLoggedIn() {
		// On success Logout also deletes the device from the store.
		err := cli.Logout(rctx)
		if err != nil {
			s.log.Debug().Err(err).Msg("logout on the live connection failed, trying a new one")
		}
		loggedOut = err == nil
	}
	s.halt() // no reconnect from here on: opMu keeps Start out
	var remote error
	if !loggedOut {
		remote = s.logoutOffline(rctx, jid)
	}
	if remote != nil {
		warning = fmt.Sprintf("could not unlink the device on WhatsApp (%v); its keys were deleted here only: remove it on the phone under Linked devices", remote)
		s.log.Warn().Err(remote).Str("device", jid.String()).
			Msg("WhatsApp not told of the logout; deleting the device locally only")
	}
	// Whatever is still stored goes (a fresh handle: the clients above own theirs).
	dev, err := s.m.container.GetDevice(ctx, jid)
	if err == nil && dev != nil {
		err = dev.Delete(ctx)
	}
	if err != nil {
		return warning, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	if err := s.m.opts.Devices.UnlinkDevice(ctx, s.id); err != nil {
		return warning, err
	}
	s.mu.Lock()
	s.linked = false
	s.cli = nil
	s.mu.Unlock()
	return warning, nil
}

// logoutOffline connects short-lived clients with the stored keys of jid
// until one has logged in and sent the logout (remove-companion-device),
// or ctx ends. nil means WhatsApp no longer lists the device.
func (s *Session) logoutOffline(ctx context.Context, jid types.JID) error {
	var last error
	for attempt := 0; ; attempt++ {
		err := s.logoutOnce(ctx, jid)
		if err == nil || errors.Is(err, errDeviceGone) {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err // keep the cause rather than the deadline
		}
		t := time.NewTimer(backoff(logoutRetryBase, logoutRetryMax, attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("no logout within %s: %w", s.m.opts.LogoutTimeout, last)
		case <-t.C:
		}
	}
}

// logoutOnce is one short-lived client: connect with a fresh handle on the
// stored device, wait for the login, log out, disconnect. It acknowledges
// nothing, so WhatsApp keeps every stanza queued for the device, and it
// leaves no handler or connection behind.
func (s *Session) logoutOnce(ctx context.Context, jid types.JID) error {
	dev, err := s.m.container.GetDevice(ctx, jid)
	if err != nil {
		return fmt.Errorf("load device: %w", err)
	}
	if dev == nil {
		return errDeviceGone // keys deleted by a logout seen earlier
	}
	cli := s.newClient(dev)
	login := make(chan error, 1)
	report := func(err error) {
		select {
		case login <- err:
		default:
		}
	}
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool {
		switch evt := evt.(type) {
		case *events.Connected:
			report(nil)
		case *events.LoggedOut:
			report(errDeviceGone)
		case *events.ConnectFailure:
			report(fmt.Errorf("connect failure %d %s", int(evt.Reason), evt.Message))
		case *events.StreamError:
			report(fmt.Errorf("stream error %s", evt.Code))
		case *events.Disconnected:
			report(errors.New("connection closed before login"))
		case *events.StreamReplaced:
			report(errors.New("another client connected with this device's keys"))
		case *events.TemporaryBan:
			report(fmt.Errorf("temporarily banned: %s", evt))
		case *events.ClientOutdated:
			report(errors.New("client version outdated"))
		}
		return false
	})
	defer cli.RemoveEventHandlers()
	defer cli.Disconnect()
	// The socket lives until the Disconnect above, not until ctx's
	// deadline: whatsmeow ties the socket to this context, and one ending
	// in the middle of the noise handshake races inside whatsmeow (the
	// supervisor, too, only cancels after Disconnect). The dial and the
	// handshake are bounded by the transport's and whatsmeow's timeouts;
	// ctx bounds the wait for the login and the logout request.
	if err := cli.ConnectContext(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	select {
	case err := <-login:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return errors.New("no login")
	}
	return cli.Logout(ctx)
}
