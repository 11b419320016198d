package audit_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

func sampleEvent() *audit.Event {
	return &audit.Event{
		Kind:      keycab.EventKeyTaken,
		Time:      1767600000000,
		Mono:      123456789,
		Boot:      bytes.Repeat([]byte{7}, 16),
		Actor:     "m-ben",
		KeySet:    "ks-12high",
		Slot:      3,
		Due:       1767607200000,
		Reason:    "viewing",
		Recipient: audit.PersonalRef([]byte("salt"), "Mr Patel"),
		Detail:    map[string]string{"b": "2", "a": "1"},
		Prev:      bytes.Repeat([]byte{9}, 32),
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b, err := audit.Encode(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	e, err := audit.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
	}
	if e.Actor != "m-ben" || e.Slot != 3 || e.Detail["a"] != "1" || e.Version != audit.FormatVersion {
		t.Fatalf("decoded %+v", e)
	}
	// The prev field is the last pair, as the verifier's fast path expects.
	if !bytes.HasSuffix(b, append([]byte{0x0e, 0x58, 0x20}, bytes.Repeat([]byte{9}, 32)...)) {
		t.Fatalf("prev is not the encoding's tail: %x", b[len(b)-40:])
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := audit.Encode(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":           {},
		"truncated":       good[:len(good)-1],
		"trailing byte":   append(append([]byte(nil), good...), 0),
		"not a map":       {0x01},
		"unknown key":     {0xa3, 0x00, 0x01, 0x01, 0x61, 'x', 0x18, 0x63, 0x00},
		"wrong version":   {0xa2, 0x00, 0x02, 0x01, 0x61, 'x'},
		"no kind":         {0xa1, 0x00, 0x01},
		"unsorted keys":   {0xa2, 0x01, 0x61, 'x', 0x00, 0x01},
		"duplicate key":   {0xa3, 0x00, 0x01, 0x01, 0x61, 'x', 0x01, 0x61, 'y'},
		"non-minimal int": {0xa2, 0x00, 0x18, 0x01, 0x01, 0x61, 'x'},
		"indefinite map":  {0xbf, 0x00, 0x01, 0x01, 0x61, 'x', 0xff},
		"bad utf-8":       {0xa2, 0x00, 0x01, 0x01, 0x61, 0xff},
		"short boot":      {0xa3, 0x00, 0x01, 0x01, 0x61, 'x', 0x04, 0x41, 0x01},
	}
	for name, b := range cases {
		if e, err := audit.Decode(b); err == nil {
			t.Errorf("%s: Decode(%x) = %+v, want error", name, b, e)
		}
	}
}

func TestEncodeRejectsOversize(t *testing.T) {
	e := sampleEvent()
	e.Detail = map[string]string{"x": strings.Repeat("a", audit.MaxLeafSize)}
	if _, err := audit.Encode(e); err == nil {
		t.Fatal("Encode accepted an entry larger than a bundle can hold")
	}
}

func TestFrontierMatchesTlog(t *testing.T) {
	// Build the tree with the frontier and keep every stored hash; the
	// root must equal tlog.TreeHash over all stored hashes at every size.
	var all []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = all[x]
		}
		return out, nil
	})
	f := &audit.Frontier{}
	for n := int64(0); n < 600; n++ {
		leaf := []byte{byte(n), byte(n >> 8)}
		hs, err := f.Next(leaf)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tlog.StoredHashes(n, leaf, reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != len(want) {
			t.Fatalf("n=%d: %d hashes, want %d", n, len(hs), len(want))
		}
		all = append(all, want...)
		f.Advance(hs)
		root, err := tlog.TreeHash(n+1, reader)
		if err != nil {
			t.Fatal(err)
		}
		if f.Root() != root {
			t.Fatalf("size %d: frontier root %v, tlog %v", n+1, f.Root(), root)
		}
		g, err := audit.NewFrontier(n+1, reader)
		if err != nil {
			t.Fatal(err)
		}
		if g.Root() != root {
			t.Fatalf("size %d: reloaded frontier root differs", n+1)
		}
	}
	// HashLocation finds every stored hash in its leaf's group.
	for x := int64(0); x < int64(len(all)); x++ {
		leaf, pos := audit.HashLocation(x)
		if got := tlog.StoredHashIndex(0, leaf) + int64(pos); got != x {
			t.Fatalf("HashLocation(%d) = leaf %d pos %d, which is index %d", x, leaf, pos, got)
		}
	}
}

func TestCheckpointSignAndOpen(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.keycab/kiosk")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey != vkey {
		t.Fatalf("derived verifier key %q, want %q", s.VerifierKey, vkey)
	}
	cp := audit.Checkpoint{Origin: "test.keycab/kiosk", Size: 42, Root: tlog.RecordHash([]byte("x"))}
	msg, err := audit.SignCheckpoint(cp, s)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := audit.OpenCheckpoint(msg, s.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 42 || got.Root != cp.Root || got.Origin != cp.Origin {
		t.Fatalf("opened %+v", got)
	}
	// Another key of the same name does not verify it.
	skey2, _, _ := note.GenerateKey(rand.Reader, "test.keycab/kiosk")
	s2, _ := audit.ParseSignerKey(skey2)
	if _, _, err := audit.OpenCheckpoint(msg, s2.Verifier()); err == nil {
		t.Fatal("checkpoint verified with another key")
	}
	// A key for another origin may not sign it.
	skey3, _, _ := note.GenerateKey(rand.Reader, "other")
	s3, _ := audit.ParseSignerKey(skey3)
	if _, err := audit.SignCheckpoint(cp, s3); err == nil {
		t.Fatal("signed a checkpoint for another origin")
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, text := range []string{
		"",
		"origin\n1\n" + root,          // no final newline
		"origin\n01\n" + root + "\n",  // leading zero
		"origin\n-1\n" + root + "\n",  // negative
		"origin\n1\nnotbase64\n",      // bad hash
		"origin\n1\n" + root + "\n\n", // empty extension
		"\n1\n" + root + "\n",         // empty origin
		"origin\n99999999999999999999\n" + root + "\n", // overflow
	} {
		if _, err := audit.ParseCheckpoint(text); err == nil {
			t.Errorf("ParseCheckpoint(%q) succeeded", text)
		}
	}
	if _, err := audit.ParseCheckpoint("origin\n0\n" + root + "\next one\n"); err != nil {
		t.Errorf("valid checkpoint with extension: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := audit.Encode(sampleEvent())
	f.Add(good)
	min, _ := audit.Encode(&audit.Event{Kind: keycab.EventBoot})
	f.Add(min)
	f.Add([]byte{0xa2, 0x00, 0x01, 0x01, 0x61, 'x'})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := audit.Decode(b)
		if err != nil {
			return
		}
		// Anything accepted is the one encoding of its event.
		again, err := audit.Encode(e)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical entry:\n%x\n%x", b, again)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add("keycab.kiosk/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n12345\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n")
	f.Add("o\n1\nAAAA\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := audit.ParseCheckpoint(text)
		if err != nil {
			return
		}
		if c.Text() != text {
			t.Fatalf("accepted %q but it formats as %q", text, c.Text())
		}
		if c.Size < 0 {
			t.Fatalf("negative size %d", c.Size)
		}
	})
}
