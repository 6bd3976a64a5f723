package whatsapp

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestGroupCommit: calls that arrive while a batch runs are run together in
// the next one, each caller gets the result at its own position, and a
// failed batch fails each of its calls.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	g := &groupCommit[int, int]{max: 64, exec: func(_ context.Context, reqs []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(reqs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // the first call runs alone and holds the rest back
		}
		if reqs[0] < 0 {
			return nil, errors.New("batch failed")
		}
		out := make([]int, len(reqs))
		for i, r := range reqs {
			out[i] = r * 2
		}
		return out, nil
	}}
	ctx := context.Background()
	firstDone := make(chan int)
	go func() {
		v, _ := g.do(ctx, 1000)
		firstDone <- v
	}()
	for {
		mu.Lock()
		n := len(sizes)
		mu.Unlock()
		if n == 1 {
			break
		}
	}
	const n = 100
	got := make([]int, n)
	var wg sync.WaitGroup
	queued := make(chan struct{}, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queued <- struct{}{}
			got[i], _ = g.do(ctx, i)
		}()
	}
	for range n {
		<-queued
	}
	for { // every call is in the queue before the first batch ends
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q == n {
			break
		}
	}
	close(release)
	if v := <-firstDone; v != 2000 {
		t.Fatalf("first call: %d", v)
	}
	wg.Wait()
	for i, v := range got {
		if v != 2*i {
			t.Fatalf("call %d got %d", i, v)
		}
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 64 || sizes[2] != 36 {
		t.Fatalf("batch sizes %v, want [1 64 36]", sizes)
	}
	if _, err := g.do(ctx, -1); err == nil {
		t.Fatal("a failed batch gave no error")
	}
}
