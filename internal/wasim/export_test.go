package wasim

import "go.mau.fi/whatsmeow/types"

// SetPairSignedHook installs a function that runs when the simulator has
// verified a client's pair-device-sign and before it finishes the pairing
// (nil removes it).
func SetPairSignedHook(f func()) {
	if f == nil {
		testHookPairSigned.Store(nil)
		return
	}
	testHookPairSigned.Store(&f)
}

// DiscardPending drops every stanza queued for the device, as if it had
// been lost (e.g. to give a client a stale view of a group).
func DiscardPending(s *Server, device types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.companionLocked(device); d != nil {
		for _, p := range d.queue {
			s.persistQueueDelLocked(d, p.Key)
		}
		d.queue = nil
	}
}
