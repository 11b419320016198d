package wire_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/sync/wire"
)

// TestCosignature: HQ's cosignature/v1 line carries its time, verifies
// with the cosigner key only, and leaves the kiosk's checkpoint valid.
func TestCosignature(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, "example.test/kiosk/1")
	if err != nil {
		t.Fatal(err)
	}
	kiosk, err := audit.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := audit.SignCheckpoint(audit.Checkpoint{Origin: kiosk.Name(), Size: 3, Root: [32]byte{1}}, kiosk)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	at := time.Unix(1_800_000_000, 0)
	c, err := wire.NewCosigner("hq.test", priv, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := wire.Cosign(signed, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.VerifyCosignature(cosigned, c.VerifierKey())
	if err != nil || !got.Equal(at) {
		t.Fatalf("cosignature time %v, %v; want %v", got, err, at)
	}
	if _, _, err := audit.OpenCheckpoint(cosigned, kiosk.Verifier()); err != nil {
		t.Fatalf("cosigned checkpoint no longer opens with the kiosk's key: %v", err)
	}
	// The signature line is keyhash(4) || timestamp(8) || sig(64).
	line := strings.TrimSuffix(string(cosigned[len(signed):]), "\n")
	raw, err := base64.StdEncoding.DecodeString(line[strings.LastIndex(line, " ")+1:])
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("cosignature line %q: %d bytes, %v", line, len(raw), err)
	}
	// Another key, or the kiosk's checkpoint alone, does not verify.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	c2, _ := wire.NewCosigner("hq.test", other, nil)
	if _, err := wire.VerifyCosignature(cosigned, c2.VerifierKey()); err == nil {
		t.Fatal("cosignature verified with another key")
	}
	if _, err := wire.VerifyCosignature(signed, c.VerifierKey()); err == nil {
		t.Fatal("an uncosigned checkpoint verified")
	}
	// A changed timestamp breaks the signature.
	raw[4+7] ^= 1
	bad := string(signed) + line[:strings.LastIndex(line, " ")+1] + base64.StdEncoding.EncodeToString(raw) + "\n"
	if _, err := wire.VerifyCosignature([]byte(bad), c.VerifierKey()); err == nil {
		t.Fatal("a cosignature with a changed time verified")
	}
}
