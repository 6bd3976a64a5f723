package whatsapp

import (
	"sync/atomic"

	"github.com/rs/zerolog"
	signallog "go.mau.fi/libsignal/logger"
)

// libsignal logs through a package variable that it fills lazily without
// synchronisation (a data race as soon as two goroutines use Signal for the
// first time) and, by default, prints warnings with fmt.Println. We install
// our adapter once, before any goroutine can run, and route it to the
// logger of the first Manager.
func init() {
	var l signallog.Loggable = &signalLogger{}
	signallog.Setup(&l)
}

// signalTarget is where libsignal's warnings and errors go (set by the
// first NewManager); debug and info are dropped.
var signalTarget atomic.Pointer[zerolog.Logger]

type signalLogger struct{}

func (*signalLogger) Debug(string, string) {}
func (*signalLogger) Info(string, string)  {}
func (*signalLogger) Warning(caller, msg string) {
	if l := signalTarget.Load(); l != nil {
		l.Warn().Str("caller", caller).Str("detail", msg).Msg("libsignal warning")
	}
}
func (*signalLogger) Error(caller, msg string) {
	if l := signalTarget.Load(); l != nil {
		l.Error().Str("caller", caller).Str("detail", msg).Msg("libsignal error")
	}
}
func (*signalLogger) Configure(string) {}
