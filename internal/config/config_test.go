package config_test

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, rest, err := config.Load(env(nil), nil, &bytes.Buffer{})
	if err != nil || len(rest) != 0 {
		t.Fatal(err, rest)
	}
	if c.Addr != ":3000" || c.DatabaseURL != config.DefaultDatabaseURL || c.RateLimits != (config.RateLimits{General: 100, Messages: 30, Sessions: 10, QRSeconds: 5}) ||
		c.MaxBodyBytes != 1<<20 || c.MaxImageBodyBytes != 0 || c.MaxImageBytes != 16<<20 || c.MaxVideoBytes != 64<<20 || c.MaxStickerBytes != 1<<20 || c.ShutdownTimeout != 15*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadEnvAndFlags(t *testing.T) {
	t.Parallel()
	c, _, err := config.Load(env(map[string]string{
		"WAGATE_ADDR": ":1", "WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_SANDBOX": "true",
		"WAGATE_ADMIN_KEY": "wamk_0123456789abcdef", "WAGATE_LOG_LEVEL": "debug",
	}), []string{"-addr", ":2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":2" || c.RateLimits.General != 0 || !c.Sandbox || c.AdminKey != "wamk_0123456789abcdef" || c.LogLevel != "debug" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadWebhookSettings(t *testing.T) {
	t.Parallel()
	c, _, err := config.Load(env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookTimeout != 10*time.Second || c.WebhookRescueAfter != time.Minute || c.EventRetention != 30*24*time.Hour {
		t.Errorf("webhook defaults: timeout %s, rescue %s, retention %s", c.WebhookTimeout, c.WebhookRescueAfter, c.EventRetention)
	}
	c, _, err = config.Load(env(map[string]string{
		"WAGATE_WEBHOOK_TIMEOUT": "2s", "WAGATE_WEBHOOK_RESCUE_AFTER": "12s", "WAGATE_EVENT_RETENTION": "7d",
	}), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookTimeout != 2*time.Second || c.WebhookRescueAfter != 12*time.Second || c.EventRetention != 7*24*time.Hour {
		t.Errorf("webhook settings: timeout %s, rescue %s, retention %s", c.WebhookTimeout, c.WebhookRescueAfter, c.EventRetention)
	}
	if c, _, err = config.Load(env(map[string]string{"WAGATE_EVENT_RETENTION": "0"}), nil, &bytes.Buffer{}); err != nil || c.EventRetention != 0 {
		t.Errorf("WAGATE_EVENT_RETENTION=0: %s, %v", c.EventRetention, err)
	}
}

func TestLoadAuthCacheSettings(t *testing.T) {
	t.Parallel()
	c, _, err := config.Load(env(nil), nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthCacheTTL != 30*time.Second || c.AuthMissLookups != 100 || c.AuthNegativeSize != 10000 {
		t.Errorf("auth cache defaults: ttl %s, miss lookups %d, negative size %d", c.AuthCacheTTL, c.AuthMissLookups, c.AuthNegativeSize)
	}
	c, _, err = config.Load(env(map[string]string{
		"WAGATE_AUTH_CACHE_TTL": "0", "WAGATE_AUTH_MISS_LOOKUPS": "7", "WAGATE_AUTH_NEGATIVE_CACHE_SIZE": "9",
	}), nil, &bytes.Buffer{})
	if err != nil || c.AuthCacheTTL != 0 || c.AuthMissLookups != 7 || c.AuthNegativeSize != 9 {
		t.Errorf("auth cache settings: %s %d %d (%v)", c.AuthCacheTTL, c.AuthMissLookups, c.AuthNegativeSize, err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"AdminKeyPrefix": {map[string]string{"WAGATE_ADMIN_KEY": "secret"}, "WAGATE_ADMIN_KEY must start with wamk_"},
		"NotInteger":     {map[string]string{"WAGATE_RATE_LIMIT_MESSAGES": "x"}, `WAGATE_RATE_LIMIT_MESSAGES="x": not an integer`},
		"Negative":       {map[string]string{"WAGATE_RATE_LIMIT_SESSIONS": "-1"}, "WAGATE_RATE_LIMIT_SESSIONS must be 0 (off) or positive"},
		"LogLevel":       {map[string]string{"WAGATE_LOG_LEVEL": "loud"}, "WAGATE_LOG_LEVEL"},
		"DatabaseURL":    {map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a postgres:// URL"},
		"WebhookTimeout": {map[string]string{"WAGATE_WEBHOOK_TIMEOUT": "soon"}, `WAGATE_WEBHOOK_TIMEOUT="soon": not a duration`},
		"RescueTooSoon":  {map[string]string{"WAGATE_WEBHOOK_TIMEOUT": "5s", "WAGATE_WEBHOOK_RESCUE_AFTER": "14s"}, "WAGATE_WEBHOOK_RESCUE_AFTER must be at least WAGATE_WEBHOOK_TIMEOUT + 10s (15s)"},
		"EventRetention": {map[string]string{"WAGATE_EVENT_RETENTION": "-1d"}, `WAGATE_EVENT_RETENTION="-1d": not a duration`},
		"AuthCacheTTL":   {map[string]string{"WAGATE_AUTH_CACHE_TTL": "-1s"}, "WAGATE_AUTH_CACHE_TTL must be 0 (off) or positive"},
		"AuthMiss":       {map[string]string{"WAGATE_AUTH_MISS_LOOKUPS": "0"}, "WAGATE_AUTH_MISS_LOOKUPS must be positive"},
		"AuthNegative":   {map[string]string{"WAGATE_AUTH_NEGATIVE_CACHE_SIZE": "0"}, "WAGATE_AUTH_NEGATIVE_CACHE_SIZE must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := config.Load(env(tc.env), nil, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, _, err := config.Load(env(nil), []string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, v := range []string{"WAGATE_ADDR", "DATABASE_URL", "WAGATE_ADMIN_KEY", "WAGATE_LOG_LEVEL", "WAGATE_RATE_LIMIT_GENERAL",
		"WAGATE_RATE_LIMIT_MESSAGES", "WAGATE_RATE_LIMIT_SESSIONS", "WAGATE_RATE_LIMIT_QR_SECONDS", "WAGATE_MAX_BODY_BYTES",
		"WAGATE_SANDBOX", "WAGATE_SANDBOX_URL", "WAGATE_WEBHOOK_ALLOW_PRIVATE", "WAGATE_WS_COMPRESSION",
		"WAGATE_AUTH_CACHE_TTL", "WAGATE_AUTH_MISS_LOOKUPS", "WAGATE_AUTH_NEGATIVE_CACHE_SIZE", "WAGATE_PPROF_ADDR"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help lacks %s", v)
		}
	}
}
