package messaging

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFirstURL(t *testing.T) {
	for in, want := range map[string]string{
		"see https://example.com/a?b=1.":        "https://example.com/a?b=1",
		"(http://x.org/path) and https://y.org": "http://x.org/path",
		"HTTPS://Example.com, ok":               "HTTPS://Example.com",
		"ftp://x.org nothing":                   "",
		"no link":                               "",
	} {
		if got := firstURL(in); got != want {
			t.Errorf("firstURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPageMeta(t *testing.T) {
	m := pageMeta([]byte(`<html><head><title>T</title><meta name="description" content="D">
<meta name="twitter:image" content="/x.png"></head><body><meta property="og:title" content="late"></body>`))
	if m.title != "T" || m.description != "D" || m.image != "/x.png" {
		t.Fatalf("%+v", m)
	}
	if got := clip(strings.Repeat("é", 300), 256); len([]rune(got)) != 256 || !strings.HasSuffix(got, "…") {
		t.Fatalf("clip: %d runes", len([]rune(got)))
	}
}

// TestPreviewRefusesPrivate: without AllowPrivate a page on a loopback
// address is not fetched (the guard refuses the dial), so no preview.
func TestPreviewRefusesPrivate(t *testing.T) {
	hit := false
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit = true
		_, _ = w.Write([]byte(`<title>x</title>`))
	}))
	defer site.Close()
	if lp, err := (&MediaLoader{}).preview(context.Background(), site.URL); err == nil || lp != nil || hit {
		t.Fatalf("preview of a loopback page: %+v, %v (fetched: %v)", lp, err, hit)
	}
	if lp, err := (&MediaLoader{AllowPrivate: true}).preview(context.Background(), site.URL); err != nil || lp.Title != "x" {
		t.Fatalf("allowed: %+v, %v", lp, err)
	}
}
