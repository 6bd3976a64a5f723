package wasim_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

// TestCapacity connects WASIM_CAPACITY paired whatsmeow clients (each its
// own account) to one simulator in this process, checks that a message
// reaches the last one, and reports the heap after GC. Skipped unless
// WASIM_CAPACITY is set.
func TestCapacity(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WASIM_CAPACITY"))
	if n <= 0 {
		t.Skip("set WASIM_CAPACITY=N to run")
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := wasimtest.NewServerOpts(t, wasim.Options{Logger: zerolog.Nop()})
	start := time.Now()
	clients := make([]*wasimtest.Client, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			phone := s.Phone(fmt.Sprintf("1666%07d", i))
			clients[i] = wasimtest.NewPairedClient(t, s, phone)
		}()
	}
	wg.Wait()
	pairTime := time.Since(start)
	for i, c := range clients {
		if c == nil || !s.Connected(c.Store.GetJID()) {
			t.Fatalf("client %d not connected", i)
		}
	}
	last := clients[n-1]
	id, err := s.Contact("17770000001").SendText(wasimtest.Ctx(t), last.Store.GetJID().User, "capacity probe")
	if err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Message](t, last.Events, 0, func(m *events.Message) bool { return m.Info.ID == id })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("clients=%d paired+connected in %s; heap after GC %.1f MiB total, %.1f KiB per client (simulator + whatsmeow client + in-memory stores); goroutines=%d",
		n, pairTime.Round(time.Millisecond), heap, heap*1024/float64(n), runtime.NumGoroutine())
}
