package messaging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Idempotency timing. A request holding a key that is still running is
// waited for up to idemWait; after that the duplicate gets 409. A claim
// whose holder has not finished within idemStale is considered abandoned
// (the process died) and may be taken over.
const (
	idemWait  = 10 * time.Second
	idemPoll  = 50 * time.Millisecond
	idemStale = 2 * time.Minute
)

// Idempotent implements gateway.MessagingService: the first successful
// result is stored and returned again for a repeated key within
// gateway.IdempotencyTTL. op and req identify the request: the same key with
// a different operation or body is refused (CodeConflict,
// MsgIdempotencyReused). A failed do releases the key, so a retry acts
// again. A duplicate that arrives while the first is still running waits for
// its result, up to idemWait, then gets CodeConflict (MsgIdempotencyBusy).
// An empty key just runs do.
func (s *Service) Idempotent(ctx context.Context, sid uuid.UUID, key, op string, req any, do func() ([]byte, error)) ([]byte, error) {
	if key == "" || s.idem == nil {
		return do()
	}
	fp, err := fingerprint(op, req)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(idemWait)
	for {
		state, stored, err := s.idem.Claim(ctx, sid, key, fp, idemStale)
		if err != nil {
			return nil, err
		}
		switch state {
		case gateway.IdemDone:
			return stored, nil
		case gateway.IdemMismatch:
			return nil, gateway.E(gateway.CodeConflict, gateway.MsgIdempotencyReused)
		case gateway.IdemClaimed:
			out, err := do()
			// The claim must be settled even if the client went away.
			bg := context.WithoutCancel(ctx)
			if err != nil {
				if rerr := s.idem.Release(bg, sid, key); rerr != nil {
					s.log.Error().Err(rerr).Msg("could not release idempotency key")
				}
				return nil, err
			}
			if merr := s.idem.Complete(bg, sid, key, out); merr != nil {
				s.log.Error().Err(merr).Msg("could not store idempotent result")
			}
			return out, nil
		case gateway.IdemPending:
			if time.Now().After(deadline) {
				return nil, gateway.E(gateway.CodeConflict, gateway.MsgIdempotencyBusy)
			}
			t := time.NewTimer(idemPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		default:
			return nil, gateway.Errorf(gateway.CodeInternal, "unknown idempotency state %d", state)
		}
	}
}

func fingerprint(op string, req any) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	h := sha256.New()
	h.Write([]byte(op))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}
