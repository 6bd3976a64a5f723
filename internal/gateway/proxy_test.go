package gateway

import (
	"strings"
	"testing"
)

func TestParseProxyURL(t *testing.T) {
	for _, ok := range []string{"http://h:3128", "https://u:p@proxy.example:443", "socks5://u:p@10.0.0.5:1080", "SOCKS5://127.0.0.1:1080/"} {
		if _, err := ParseProxyURL(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"ftp://h:21":                 "not supported",
		"h:3128":                     "must be a URL",
		"//h:3128":                   "needs a scheme",
		"http://:3128":               "needs a host",
		"http://h":                   "needs a port",
		"http://h:1/x":               "path",
		"socks5://u:topsecret@h:1?a": "path",
		"http://%zz":                 "must be a URL",
	} {
		_, err := ParseProxyURL(raw)
		if err == nil || ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want CodeInvalid with %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%q: error leaks the password: %v", raw, err)
		}
	}
}

func TestMaskProxyURL(t *testing.T) {
	for raw, want := range map[string]string{
		"socks5://user:secret@10.0.0.5:1080": "socks5://user:***@10.0.0.5:1080",
		"http://h:3128":                      "http://h:3128",
		"":                                   "",
	} {
		if got := MaskProxyURL(raw); got != want {
			t.Errorf("MaskProxyURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
