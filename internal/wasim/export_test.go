package wasim

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
