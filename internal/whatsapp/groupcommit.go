package whatsapp

import (
	"context"
	"errors"
	"sync"
)

// errBatchResults: a batch statement returned a different number of
// results than it had requests (a bug, never a database state).
var errBatchResults = errors.New("whatsapp: batch returned the wrong number of results")

// groupCommit runs the store calls that whatsmeow makes once per login
// (prekeycount.go, tokenprune.go) for many sessions in one statement: the
// calls that queue up while one statement runs go into the next one. A
// restore logs in every session at once, so this turns one statement per
// session into one per batch; a single call still runs at once, alone.
// Each caller gets its own result.
type groupCommit[Req, Res any] struct {
	max  int
	exec func(ctx context.Context, reqs []Req) ([]Res, error) // one result per request, in order

	mu      sync.Mutex
	queue   []*gcCall[Req, Res]
	running bool
}

type gcCall[Req, Res any] struct {
	req  Req
	done chan gcResult[Res] // buffered
}

type gcResult[Res any] struct {
	res Res
	err error
}

// do queues req and waits for its result or for ctx.
func (g *groupCommit[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &gcCall[Req, Res]{req: req, done: make(chan gcResult[Res], 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case r := <-c.done:
		return r.res, r.err
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

func (g *groupCommit[Req, Res]) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.max)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		reqs := make([]Req, n)
		for i, c := range batch {
			reqs[i] = c.req
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		res, err := g.exec(ctx, reqs)
		cancel()
		for i, c := range batch {
			var r gcResult[Res]
			if err != nil || len(res) != n {
				r.err = err
				if r.err == nil {
					r.err = errBatchResults
				}
			} else {
				r.res = res[i]
			}
			c.done <- r
		}
	}
}
