package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"message"}`)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign("s3cret-s3cret-s3cret", now, body)

	for _, tc := range []struct {
		name           string
		secret, header string
		timestamp      string
		body           []byte
		tolerance      time.Duration
		want           error
	}{
		{"OK", "s3cret-s3cret-s3cret", sig, ts, body, 5 * time.Minute, nil},
		{"OKAmongSeveral", "s3cret-s3cret-s3cret", "v1=00ff, " + sig, ts, body, 5 * time.Minute, nil},
		{"WrongSecret", "other-secret-other", sig, ts, body, 5 * time.Minute, ErrMismatch},
		{"TamperedBody", "s3cret-s3cret-s3cret", sig, ts, []byte(`{"id":"evt_2"}`), 5 * time.Minute, ErrMismatch},
		{"ShiftedTimestamp", "s3cret-s3cret-s3cret", sig, strconv.FormatInt(now.Unix()+1, 10), body, 5 * time.Minute, ErrMismatch},
		{"Stale", "s3cret-s3cret-s3cret", Sign("s3cret-s3cret-s3cret", now.Add(-10*time.Minute), body),
			strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10), body, 5 * time.Minute, ErrStale},
		{"NoTimestamp", "s3cret-s3cret-s3cret", sig, "", body, 5 * time.Minute, ErrBadTimestamp},
		{"NoSignature", "s3cret-s3cret-s3cret", "sha256=abc", ts, body, 5 * time.Minute, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := Verify(tc.secret, tc.header, tc.timestamp, tc.body, tc.tolerance); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRefusedReason(t *testing.T) {
	t.Parallel()
	for addr, refused := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.0.0.1": true, "172.16.5.4": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "::": true,
		"224.0.0.251": true, "239.1.2.3": true, "100.64.0.1": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"93.184.215.14": false, "2606:4700::1111": false, "8.8.8.8": false,
	} {
		if got := refusedReason(netip.MustParseAddr(addr)) != ""; got != refused {
			t.Errorf("%s refused = %v, want %v", addr, got, refused)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		switch host {
		case "public.test":
			return []net.IPAddr{{IP: net.ParseIP("93.184.215.14")}}, nil
		case "mixed.test": // one public, one private address: refused
			return []net.IPAddr{{IP: net.ParseIP("93.184.215.14")}, {IP: net.ParseIP("10.0.0.7")}}, nil
		}
		return nil, errors.New("no such host")
	}
	g := Guard{LookupIPAddr: lookup}
	for raw, ok := range map[string]bool{
		"https://public.test/hook":       true,
		"http://93.184.215.14:8080/hook": true,
		"https://mixed.test/hook":        false,
		"https://nowhere.test/hook":      false,
		"ftp://public.test/hook":         false,
		"javascript:alert(1)":            false,
		"/relative":                      false,
		"http:///nohost":                 false,
		"http://[::1]:80/":               false,
	} {
		err := g.CheckURL(ctx, raw)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", raw, err, ok)
		}
		if err != nil && gateway.ErrorCode(err) != gateway.CodeInvalid {
			t.Errorf("CheckURL(%q) code %s", raw, gateway.ErrorCode(err))
		}
	}
	if err := (Guard{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1:9/"); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	if err := (Guard{AllowPrivate: true}).CheckURL(ctx, "ftp://127.0.0.1/"); err == nil {
		t.Error("AllowPrivate still refuses ftp")
	}
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	s := Schedule(DefaultRetryBase, DefaultMaxRetryDelay, DefaultMaxAttempts)
	if len(s) != DefaultMaxAttempts-1 {
		t.Fatalf("%d delays", len(s))
	}
	var total time.Duration
	for _, d := range s {
		total += d
	}
	if total < 18*time.Hour || total > 30*time.Hour {
		t.Fatalf("default schedule spans %s, want about a day", total)
	}
	for n := 1; n < DefaultMaxAttempts; n++ {
		d := backoff(DefaultRetryBase, DefaultMaxRetryDelay, n, 42)
		nominal := s[n-1]
		if d < nominal*8/10 || d >= nominal*12/10 {
			t.Fatalf("attempt %d: %s outside ±20%% of %s", n, d, nominal)
		}
		if d != backoff(DefaultRetryBase, DefaultMaxRetryDelay, n, 42) {
			t.Fatal("backoff is not deterministic")
		}
	}
}
