package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// Fault implements gateway.Sandbox.
func (s *Service) Fault(ctx context.Context, id uuid.UUID, kind string) error {
	if !slices.Contains(wasim.FaultKinds(), wasim.FaultKind(kind)) {
		return gateway.Errorf(gateway.CodeInvalid, "unknown fault kind %q", kind)
	}
	phone, err := s.accountPhone(id)
	if err != nil {
		return err
	}
	if err := s.Control.InjectFault(ctx, phone, kind); err != nil {
		return gateway.Wrap(gateway.CodeUnprocessable, "The simulated WhatsApp could not inject the fault", err)
	}
	return nil
}

// InjectFault implements Control: every linked device of the phone.
func (l Local) InjectFault(_ context.Context, phone, kind string) error {
	return injectAll(l.Sim, phone, wasim.FaultKind(kind))
}

func injectAll(sim *wasim.Server, phone string, kind wasim.FaultKind) error {
	devs := sim.Devices(phone)
	if len(devs) == 0 {
		return fmt.Errorf("no device of %s is linked", phone)
	}
	var errs []error
	for _, d := range devs {
		errs = append(errs, sim.InjectFault(d, kind))
	}
	return errors.Join(errs...)
}

// InjectFault implements Control.
func (r *Remote) InjectFault(ctx context.Context, phone, kind string) error {
	_, err := r.call(ctx, "fault", controlRequest{Phone: phone, Kind: kind})
	return err
}

// ExpireMedia implements gateway.Sandbox.
func (s *Service) ExpireMedia(ctx context.Context, id uuid.UUID, messageID string, phoneOffline *bool) error {
	phone, err := s.accountPhone(id)
	if err != nil {
		return err
	}
	if err := s.Control.ExpireMedia(ctx, phone, messageID, phoneOffline); err != nil {
		if errors.Is(err, wasim.ErrNoMedia) || strings.Contains(err.Error(), wasim.ErrNoMedia.Error()) {
			return gateway.Wrap(gateway.CodeNotFound, gateway.MsgSandboxNoMedia, err)
		}
		return gateway.Wrap(gateway.CodeUnprocessable, "The simulated WhatsApp could not expire the media", err)
	}
	return nil
}

// ExpireMedia implements Control.
func (l Local) ExpireMedia(ctx context.Context, phone, messageID string, phoneOffline *bool) error {
	if phoneOffline != nil {
		l.Sim.Phone(phone).SetOffline(*phoneOffline)
	}
	return l.Sim.ExpireMedia(ctx, messageID)
}

// ExpireMedia implements Control.
func (r *Remote) ExpireMedia(ctx context.Context, phone, messageID string, phoneOffline *bool) error {
	_, err := r.call(ctx, "expire-media", controlRequest{Phone: phone, MessageID: messageID, PhoneOffline: phoneOffline})
	return err
}
