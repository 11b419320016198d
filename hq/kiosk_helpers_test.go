package hq_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// kioskAPIConfig is the kiosk API's config for the server s, with fresh
// cosigner and config keys; set more fields, then kioskapi.New.
func kioskAPIConfig(tb testing.TB, s *hq.Server) kioskapi.Config {
	tb.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cosigner, err := wire.NewCosigner("hq.test/cosigner", priv, nil)
	MustNoErr(tb, err)
	skey, _, err := note.GenerateKey(rand.Reader, "hq.test/config")
	MustNoErr(tb, err)
	cfgSign, err := audit.ParseSignerKey(skey)
	MustNoErr(tb, err)
	s.Store.SetPassSigner(cfgSign) // passes are signed by the key that signs bundles
	return kioskapi.Config{Store: s.Store, Cosigner: cosigner, ConfigSigner: cfgSign, OriginPrefix: "hq.test/kiosk/", Logger: s.Logger}
}

// withKioskAPI is a newEnv tweak that mounts the kiosk API; cfg, when
// not nil, receives its config (its cosigner, for one).
func withKioskAPI(tb testing.TB, cfg *kioskapi.Config) func(*auth.Config, *hq.Server) {
	return func(_ *auth.Config, s *hq.Server) {
		c := kioskAPIConfig(tb, s)
		h, err := kioskapi.New(c)
		MustNoErr(tb, err)
		s.KioskAPI = h
		if cfg != nil {
			*cfg = c
		}
	}
}

// kioskDB is a kiosk enrolled with e's HQ: its database on disk, opened
// with its key, and what HQ told it.
type kioskDB struct {
	db   *kstore.DB
	key  *agent.Key
	peer kstore.HQPeer
}

// MustEnrolKiosk enrols a new kiosk named name for the cabinet of the
// owner's scope sc, with a token issued through the store.
func (e *env) MustEnrolKiosk(tb testing.TB, sc store.Scope, cabinetID, name string) *kioskDB {
	tb.Helper()
	tok, _, err := e.st.CreateEnrolToken(context.Background(), sc, cabinetID, 0)
	MustNoErr(tb, err)
	return e.MustEnrolWith(tb, tok, name)
}

// MustEnrolWith enrols a new kiosk named name with an enrolment token.
func (e *env) MustEnrolWith(tb testing.TB, token, name string) *kioskDB {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	db, err := kstore.Open(ctx, path, kstore.Options{Create: true})
	MustNoErr(tb, err)
	peer, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: e.srv.URL, Token: token, KeyFile: filepath.Join(dir, "kiosk.key"), Name: name})
	MustNoErr(tb, err)
	MustNoErr(tb, db.Close())
	db, err = kstore.Open(ctx, path, kstore.Options{Signer: key.Signer})
	MustNoErr(tb, err)
	tb.Cleanup(func() { db.Close() })
	return &kioskDB{db: db, key: key, peer: peer}
}
