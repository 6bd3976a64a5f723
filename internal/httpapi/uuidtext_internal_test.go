package httpapi

import (
	"regexp"
	"testing"
)

// The hand-written check accepts exactly what the regular expression it
// replaced accepted.
func FuzzIsUUIDText(f *testing.F) {
	pattern := regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	for _, s := range []string{
		"00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b8109dad11d180b400c04fd430c8",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c8\n",
		"6ba7b810-9dad-11d1-80b4_00c04fd430c8", "g ba7b810-9dad-11d1-80b4-00c04fd430c8", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isUUIDText(s), pattern.MatchString(s); got != want {
			t.Errorf("isUUIDText(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
