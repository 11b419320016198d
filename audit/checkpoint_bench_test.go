package audit_test

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab/audit"
)

// BenchmarkSignCheckpoint and BenchmarkOpenCheckpoint time what an append
// and a verify spend on one head checkpoint: signing it (Ed25519 through
// note.Sign) against opening it (parsing the note, checking the
// signature), side by side in one run:
//
//	go test -run '^$' -bench Checkpoint -count 5 ./audit
func BenchmarkSignCheckpoint(b *testing.B) {
	_, s, err := audit.GenerateSigner("keycab.dev/kiosk/bench")
	if err != nil {
		b.Fatal(err)
	}
	cp := audit.Checkpoint{Origin: "keycab.dev/kiosk/bench", Size: 123456, Root: tlog.Hash{1, 2, 3}}
	for b.Loop() {
		if _, err := audit.SignCheckpoint(cp, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCheckpoint(b *testing.B) {
	_, s, err := audit.GenerateSigner("keycab.dev/kiosk/bench")
	if err != nil {
		b.Fatal(err)
	}
	signed, err := audit.SignCheckpoint(audit.Checkpoint{Origin: "keycab.dev/kiosk/bench", Size: 123456, Root: tlog.Hash{1, 2, 3}}, s)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := audit.OpenCheckpoint(signed, s.Verifier()); err != nil {
			b.Fatal(err)
		}
	}
}
