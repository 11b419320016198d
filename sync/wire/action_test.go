package wire_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/sync/wire"
)

func mustSigner(t testing.TB) (*audit.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "hq.test/config")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func TestRemoteActionNote(t *testing.T) {
	hq, vkey := mustSigner(t)
	rogue, _ := mustSigner(t)
	at := time.Unix(1_800_000_000, 0).UTC()
	a := keycab.RemoteAction{ID: "ra_1", OrgID: "org", KioskID: "k1", Kind: keycab.RemoteHandOver, KeySetID: "ks", MemberID: "m2",
		Reason: "shift swap", RequestedBy: "m1", RequestedAt: at, Expires: at.Add(time.Hour)}
	msg, err := wire.SignAction("k1", wire.ActionOf(a), hq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), "keycab remote action v1\nk1\n{") {
		t.Fatalf("note text:\n%s", msg)
	}
	kiosk, got, err := wire.OpenAction(msg, vkey)
	if err != nil || kiosk != "k1" {
		t.Fatalf("open: %q %v", kiosk, err)
	}
	if back := got.RemoteAction("org", "k1"); back != a {
		t.Fatalf("round trip:\n%+v\n%+v", back, a)
	}
	// Another key, an edited text, no signature: refused.
	forged, err := wire.SignAction("k1", wire.ActionOf(a), rogue)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte(strings.Replace(string(msg), "hand_over", "mark_lost", 1))
	for name, m := range map[string][]byte{"another key": forged, "edited": edited, "unsigned": []byte("keycab remote action v1\nk1\n{\"id\":\"x\"}\n")} {
		if _, _, err := wire.OpenAction(m, vkey); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if id := wire.UnverifiedActionID(forged); id != "ra_1" {
		t.Errorf("unverified id %q", id)
	}
	if id := wire.UnverifiedActionID([]byte("junk")); id != "" {
		t.Errorf("unverified id of junk %q", id)
	}
}
