package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// keycab audit export carries every cosignature the kiosk keeps
// (cosigned/SIZE, and the checkpoint's own), and verify --tiles
// --cosigner checks each of them: the newest cosigned size is reported,
// a forged cosignature fails, and a log with none fails.
func TestExportCosignatures(t *testing.T) {
	path, signer := mustLog(t, 300)
	_, priv, _ := ed25519.GenerateKey(nil)
	hqKey, err := wire.NewCosigner("hq.test", priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{100, 300} {
		root, err := d.TreeRoot(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: "test.keycab/tamper", Size: size, Root: root}, signer)
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := wire.Cosign(cp, hqKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.AddCosignature(ctx, "hq.test", cosigned); err != nil {
			t.Fatal(err)
		}
	}
	w := workload.New(4)
	for range 20 { // entries after the newest cosignature
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()

	dir := filepath.Join(t.TempDir(), "tiles")
	code, out, errs := run(t, "audit", "export", "--db", path, "--out", dir)
	if code != 0 || !strings.Contains(out, "2 cosigned checkpoints") {
		t.Fatalf("export: exit %d: %s%s", code, out, errs)
	}
	for _, f := range []string{"cosigned/100", "cosigned/300"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("export lacks %s: %v", f, err)
		}
	}
	verify := func() (int, string, string) {
		return run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey, "--cosigner", hqKey.VerifierKey())
	}
	code, out, errs = verify()
	if code != 0 || !strings.Contains(out, "up to size 300") || !strings.Contains(out, "entries after it are not cosigned yet") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errs)
	}

	// A forged cosignature: one byte of HQ's signature changed.
	f300 := filepath.Join(dir, "cosigned", "300")
	good, _ := os.ReadFile(f300)
	i := bytes.LastIndex(good, []byte("\n— hq.test ")) + len("\n— hq.test ")
	forged := bytes.Clone(good)
	forged[i+10] ^= 0x01
	os.WriteFile(f300, forged, 0o644)
	if code, _, errs := verify(); code != 1 || !strings.Contains(errs, "FAILED") {
		t.Fatalf("forged cosignature: exit %d: %s", code, errs)
	}
	// A cosigned checkpoint of another tree (the log rewritten).
	other, _ := os.ReadFile(filepath.Join(dir, "cosigned", "100"))
	os.WriteFile(f300, other, 0o644)
	os.WriteFile(filepath.Join(dir, "cosigned", "300"), bytes.Replace(good, []byte("\n300\n"), []byte("\n301\n"), 1), 0o644)
	if code, _, errs := verify(); code != 1 || !strings.Contains(errs, "FAILED") {
		t.Fatalf("altered cosigned checkpoint: exit %d: %s", code, errs)
	}
	os.WriteFile(f300, good, 0o644)
	if code, _, errs := verify(); code != 0 {
		t.Fatalf("restored: exit %d: %s", code, errs)
	}
	// No cosignature at all: --cosigner fails.
	os.RemoveAll(filepath.Join(dir, "cosigned"))
	if code, _, errs := verify(); code != 1 || !strings.Contains(errs, "no checkpoint of the log is cosigned") {
		t.Fatalf("no cosignatures: exit %d: %s", code, errs)
	}
}
