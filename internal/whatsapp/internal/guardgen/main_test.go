package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedFileIsCurrent fails when internal/whatsapp/dbguard_stores.go
// is not what guardgen generates from the whatsmeow version in go.mod (a
// whatsmeow upgrade that changed a store interface, or a hand edit): run
// go generate ./internal/whatsapp/.
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../dbguard_stores.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("internal/whatsapp/dbguard_stores.go is stale: run go generate ./internal/whatsapp/")
	}
}
