package httpapi_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestEventStreamClientExamples runs docs/events.md's Node and Python
// clients (examples/events/, included verbatim in the doc) against the
// server: each resumes after an event id, gets the replayed events, then a
// live one, and exits after LIMIT events.
func TestEventStreamClientExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, bin, file string }{
		{"node", "node", "../../examples/events/stream.mjs"},
		{"python", "python3", "../../examples/events/stream.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(doc, bytes.TrimSpace(src)) {
				t.Fatalf("docs/events.md does not include %s verbatim", tc.file)
			}
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Fatalf("%s is required for this test: %v", tc.bin, err)
			}
			s := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t)})
			sid, key := s.CreateSession("stream-example-" + tc.name)
			a := record(t, s, sid, gateway.EventChatArchived, "1@s.whatsapp.net")
			b := record(t, s, sid, gateway.EventChatUnarchived, "1@s.whatsapp.net")
			c := record(t, s, sid, gateway.EventChatMarkedUnread, "1@s.whatsapp.net")

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tc.bin, tc.file)
			cmd.Env = append(os.Environ(), "WAGATE_URL="+s.URL, "WAGATE_KEY="+key, "SESSION_ID="+sid.String(), "AFTER="+a, "LIMIT=3")
			var out, errOut syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The live event, once the client printed the replayed ones.
			for deadline := time.Now().Add(time.Minute); strings.Count(out.String(), "\n") < 2; {
				if time.Now().After(deadline) {
					t.Fatalf("no replay within a minute: %q %q", out.String(), errOut.String())
				}
				time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
			}
			d := record(t, s, sid, gateway.EventChatDeleted, "1@s.whatsapp.net")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%s: %v\nstdout %s\nstderr %s", tc.name, err, out.String(), errOut.String())
			}
			want := b + " chat.unarchived\n" + c + " chat.marked_unread\n" + d + " chat.deleted\n"
			if out.String() != want {
				t.Fatalf("%s printed\n%s\nwant\n%s(stderr %s)", tc.name, out.String(), want, errOut.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the command's writer goroutine and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
