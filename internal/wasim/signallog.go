package wasim

import (
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	signallog "go.mau.fi/libsignal/logger"
)

// libsignal logs through a package variable (logger.Logger) that it fills
// lazily, without synchronisation, the first time Signal code logs: two
// simulators (or a simulator and a client) doing Signal work in parallel
// race on it, and the default logger prints with fmt.Println. The
// simulator therefore installs a logger before any goroutine can run
// (init) and InstallRootKey and New make sure of it (once). A logger that
// someone else installed first (e.g. internal/whatsapp's) is kept.
func init() { setupSignalLogger() }

var signalLogOnce sync.Once

func setupSignalLogger() {
	signalLogOnce.Do(func() {
		if signallog.Logger != nil {
			return
		}
		var l signallog.Loggable = signalLogger{}
		signallog.Setup(&l)
	})
}

// signalTarget receives libsignal's warnings and errors: the logger of the
// first simulator created with a non-disabled logger.
var signalTarget atomic.Pointer[zerolog.Logger]

func setSignalTarget(l zerolog.Logger) {
	e := l.Warn()
	if e == nil { // zero value or disabled: discards everything
		return
	}
	e.Discard()
	signalTarget.CompareAndSwap(nil, &l)
}

type signalLogger struct{}

func (signalLogger) Debug(string, string) {}
func (signalLogger) Info(string, string)  {}
func (signalLogger) Warning(caller, msg string) {
	if l := signalTarget.Load(); l != nil {
		l.Warn().Str("caller", caller).Str("detail", msg).Msg("libsignal warning")
	}
}
func (signalLogger) Error(caller, msg string) {
	if l := signalTarget.Load(); l != nil {
		l.Error().Str("caller", caller).Str("detail", msg).Msg("libsignal error")
	}
}
func (signalLogger) Configure(string) {}
