package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/kioskapi"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// testHQ is an HQ on SQLite serving the kiosk protocol over loopback,
// with one organisation and a cabinet.
type testHQ struct {
	s    *hqstore.Store
	own  hqstore.Scope
	cab  keycab.Cabinet
	site hqstore.Site
	url  string
}

func newTestHQ(t *testing.T) *testHQ {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq.db")
	if err := hqstore.Migrate(ctx, dsn, hqstore.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := hqstore.Open(ctx, dsn, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	org, owner, err := s.CreateOrg(ctx, hqstore.NewOrg{Name: "Org", Caps: keycab.Caps{KeySets: 5, Sites: 5, Cabinets: 5, Members: 5},
		Owner: keycab.Member{Name: "Owner", Email: "owner@org.test"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &testHQ{s: s, own: hqstore.MemberScope(org.ID, owner.ID)}
	site, err := s.CreateSite(ctx, h.own, hqstore.Site{Site: keycab.Site{Name: "Site"}})
	if err != nil {
		t.Fatal(err)
	}
	if h.cab, err = s.CreateCabinet(ctx, h.own, keycab.Cabinet{SiteID: site.ID, Name: "cab", Kind: keycab.Slotted}); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cosigner, err := wire.NewCosigner("hq.test/cosigner", priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	skey, _, _ := note.GenerateKey(rand.Reader, "hq.test/config")
	cfgSigner, err := audit.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	s.SetPassSigner(cfgSigner) // passes are signed by the key that signs bundles, as in keycab-hq
	h.site = site
	ih, err := kioskapi.New(kioskapi.Config{Store: s, Cosigner: cosigner, ConfigSigner: cfgSigner, OriginPrefix: "hq.test/kiosk/"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ih)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// token creates an enrolment token for the cabinet.
func (h *testHQ) token(t *testing.T) string {
	t.Helper()
	tok, _, err := h.s.CreateEnrolToken(context.Background(), h.own, h.cab.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestEnrollAgainRotatesKey: keycab-kiosk enroll on an enrolled kiosk
// re-enrols it with a new key that HQ pins, and the log keeps verifying.
func TestEnrollAgainRotatesKey(t *testing.T) {
	ctx := context.Background()
	h := newTestHQ(t)
	s, own, srv, token := h.s, h.own, h, h.token(t)

	data := t.TempDir()
	if _, err := runMain(t, "enroll", "--hq", srv.url, "--token", token, "--data", data); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(data, "kiosk.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runMain(t, "enroll", "--hq", srv.url, "--token", "not-needed", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "re-enrolled") || string(after) == string(before) {
		t.Fatalf("enroll again said %q; key changed: %v", out, string(after) != string(before))
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	db, err := store.Open(ctx, filepath.Join(data, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	peer, err := db.HQPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kl, err := s.KioskLogs().GetKioskLog(ctx, own, peer.KioskID)
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := db.VerifierKey()
	if kl.VerifierKey != vkey || !strings.Contains(string(after), strings.SplitN(vkey, "+", 3)[1]) {
		t.Fatalf("HQ pinned %s, the log's key is %s", kl.VerifierKey, vkey)
	}
	if _, err := db.VerifyStrict(ctx, nil); err != nil {
		t.Fatalf("log does not verify across the rotation: %v", err)
	}
}
