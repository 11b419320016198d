package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// keycab audit verify --witness: N of the M named witnesses must have
// cosigned a checkpoint of the log (all of them by default); a forged
// cosignature by a named witness fails; --witness needs --tiles and N
// at most M.
func TestVerifyWitnesses(t *testing.T) {
	path, signer := mustLog(t, 50)
	cosigner := func(name string) *wire.Cosigner {
		_, priv, _ := ed25519.GenerateKey(nil)
		c, err := wire.NewCosigner(name, priv, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	w1, w2, w3 := cosigner("witness.test/w1"), cosigner("witness.test/w2"), cosigner("witness.test/w3")
	d, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w    *wire.Cosigner
		size int64
	}{{w1, 20}, {w2, 50}} {
		root, err := d.TreeRoot(ctx, c.size)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: "test.keycab/tamper", Size: c.size, Root: root}, signer)
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := wire.Cosign(cp, c.w)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.AddCosignature(ctx, c.w.Name(), cosigned); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	dir := filepath.Join(t.TempDir(), "tiles")
	if code, out, errs := run(t, "audit", "export", "--db", path, "--out", dir); code != 0 {
		t.Fatalf("export: exit %d: %s%s", code, out, errs)
	}
	verify := func(args ...string) (int, string, string) {
		return run(t, append([]string{"audit", "verify", "--tiles", dir, "--key", signer.VerifierKey}, args...)...)
	}
	k1, k2, k3 := w1.VerifierKey(), w2.VerifierKey(), w3.VerifierKey()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--witness", k1, "--witness", k2}, 0, "2 of 2 witnesses cosigned (witness.test/w1 up to size 20, witness.test/w2 up to size 50); 2 of them cosigned every entry up to size 20"},
		{[]string{"--witness", k1, "--witness", k2, "--witnesses-required", "1"}, 0, "; 1 of them cosigned every entry up to size 50"},
		// One witness named twice is one witness: it cannot make a quorum of two.
		{[]string{"--witness", k2, "--witness", k2}, 1, "--witness witness.test/w2 is named twice"},
		{[]string{"--witness", k1, "--witness", k3}, 1, "1 of the 2 named witnesses cosigned the log, 2 required"},
		{[]string{"--witness", k1, "--witness", k3, "--witnesses-required", "1"}, 0, "1 of 2 witnesses cosigned"},
		{[]string{"--witness", k3, "--witnesses-required", "1"}, 1, "0 of the 1 named witnesses"},
		{[]string{"--witness", k3, "--witnesses-required", "0"}, 0, "0 of 1 witnesses cosigned"},
		{[]string{"--witness", k1, "--witnesses-required", "2"}, 2, ""},
		{[]string{"--witnesses-required", "1"}, 2, ""},
		{[]string{"--witness", "not a key"}, 1, "--witness"},
	} {
		code, out, errs := verify(c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("verify %v: exit %d, want %d with %q: %s%s", c.args, code, c.code, c.want, out, errs)
		}
	}
	// A named witness's cosignature altered: fails whatever N is.
	f := filepath.Join(dir, "checkpoint")
	good, _ := os.ReadFile(f)
	i := bytes.LastIndex(good, []byte("\n— witness.test/w2 ")) + len("\n— witness.test/w2 ")
	forged := bytes.Clone(good)
	forged[i+12] ^= 0x01
	os.WriteFile(f, forged, 0o644)
	if code, _, errs := verify("--witness", k2, "--witnesses-required", "0"); code != 1 || !strings.Contains(errs, "cosignature by witness witness.test/w2 does not verify") {
		t.Fatalf("forged witness cosignature: exit %d: %s", code, errs)
	}
}
