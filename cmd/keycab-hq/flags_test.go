package main

import (
	"io"
	"testing"
)

func TestTrustedProxyFlag(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"serve", "--trusted-proxy", "127.0.0.1, ::1, 10.0.0.0/8"}); err != nil {
		t.Fatalf("good list refused: %v", err)
	}
	if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"serve", "--trusted-proxy", "proxy.example.com"}); err == nil {
		t.Fatal("a host name was accepted as a trusted proxy")
	}
}
