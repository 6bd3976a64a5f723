package httpapi_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// insertEvents stores n chat.archived events of sid in one statement (the
// row RecordEvent writes, without webhooks) and numbers them.
func insertEvents(b *testing.B, s *testkit.Server, sid uuid.UUID, n int) {
	b.Helper()
	ctx := context.Background()
	_, err := s.Pool.Exec(ctx, `INSERT INTO events (id, session_id, type, data)
		SELECT 'evt_' || gen_random_uuid(), $1, 'chat.archived', jsonb_build_object('jid', i || '@s.whatsapp.net')
		FROM generate_series(1, $2) i`, sid, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := postgres.NewEventLog(s.Pool).SequenceEvents(ctx); err != nil {
		b.Fatal(err)
	}
}

// countEvents reads the SSE body until n events ("id:" lines) arrived.
func countEvents(b *testing.B, resp *http.Response, n int) {
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for got := 0; got < n; {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Errorf("after %d of %d events: %v", got, n, err)
			return
		}
		if strings.HasPrefix(line, "id: ") {
			got++
		}
	}
}

func openStream(b *testing.B, url string) *http.Response {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("open: %v %v", err, resp)
	}
	return resp
}

// BenchmarkEventStreamReplay100k: the time to replay 100,000 stored events
// to one SSE client (make bench-events).
func BenchmarkEventStreamReplay100k(b *testing.B) {
	const n = 100_000
	s := testkit.NewServer(b, testkit.Options{RateLimits: &httpapi.RateLimits{}})
	sid, key := s.CreateSession("bench-replay")
	insertEvents(b, s, sid, n)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp := openStream(b, s.URL+"/sessions/"+sid.String()+"/events/stream?after=start&api_key="+key)
		countEvents(b, resp, n)
		resp.Body.Close()
		el := time.Since(start)
		b.ReportMetric(el.Seconds(), "s/replay")
		b.ReportMetric(float64(n)/el.Seconds(), "events/s")
	}
}

// BenchmarkEventStreamLive: events per second through `clients` live SSE
// clients of one session, from commit to the last client's read.
func BenchmarkEventStreamLive(b *testing.B) {
	for _, tc := range []struct {
		name            string
		clients, events int
	}{{"1client", 1, 20_000}, {"1000clients", 1000, 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			s := testkit.NewServer(b, testkit.Options{RateLimits: &httpapi.RateLimits{}})
			sid, key := s.CreateSession("bench-live")
			url := s.URL + "/sessions/" + sid.String() + "/events/stream?api_key=" + key
			tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: tc.clients}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for range b.N {
				resps := make([]*http.Response, tc.clients)
				for i := range resps {
					resp, err := client.Get(url)
					if err != nil || resp.StatusCode != 200 {
						b.Fatalf("open %d: %v %v", i, err, resp)
					}
					resps[i] = resp
				}
				start := time.Now()
				var wg sync.WaitGroup
				for _, resp := range resps {
					wg.Add(1)
					go func() { defer wg.Done(); countEvents(b, resp, tc.events) }()
				}
				// In batches of 1,000 per transaction, as group commit does.
				for done := 0; done < tc.events; done += 1000 {
					insertEvents(b, s, sid, min(1000, tc.events-done))
				}
				wg.Wait()
				el := time.Since(start)
				for _, resp := range resps {
					resp.Body.Close()
				}
				b.ReportMetric(float64(tc.events)/el.Seconds(), "events/s")
				b.ReportMetric(float64(tc.events*tc.clients)/el.Seconds(), "deliveries/s")
			}
		})
	}
}
