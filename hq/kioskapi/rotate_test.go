package kioskapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// TestRotate: re-enrolling a kiosk gives its log a new key through a
// key.rotate entry signed by both keys. HQ pins the new key, refuses the
// old one from then on, and the log goes on under the same origin: HQ's
// copy equals the kiosk's, and the kiosk's log verifies across the
// rotation, from the original key too.
func TestRotate(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 50, "before") // not pushed yet: Rotate pushes it first
		old := k.key
		oldV := old.Signer.Verifier()
		MustNoErr(t, k.db.Close())
		keyFile := filepath.Join(filepath.Dir(k.path), "kiosk.key")
		db, a, err := agent.Rotate(ctx, agent.RotateOptions{DBPath: k.path, KeyFile: keyFile, Config: agent.Config{BatchSize: 20}})
		MustNoErr(t, err)
		t.Cleanup(func() { db.Close() })
		next := must[*agent.Key](t)(agent.LoadKey(keyFile))
		if next.Signer.VerifierKey == old.Signer.VerifierKey || next.Signer.Name() != old.Signer.Name() {
			t.Fatalf("key file after rotation: %s (was %s)", next.Signer.VerifierKey, old.Signer.VerifierKey)
		}
		keys := must[[]audit.LogKey](t)(db.Keys())
		rot := keys[len(keys)-1].From - 1 // the key.rotate entry
		if len(keys) != 2 || rot < 50 {
			t.Fatalf("key chain %+v", keys)
		}
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if kl.VerifierKey != next.Signer.VerifierKey || kl.Size != rot+1 || kl.Origin != k.peer.Origin {
			t.Fatalf("HQ after rotation: key %s size %d origin %s", kl.VerifierKey, kl.Size, kl.Origin)
		}

		// The old key is refused, the new one accepted.
		body, _ := json.Marshal(wire.Heartbeat{V: wire.Minor})
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, old.Private, time.Now()); code != http.StatusUnauthorized {
			t.Fatalf("old key after rotation: %d, want 401", code)
		}
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, next.Private, time.Now()); code != http.StatusOK {
			t.Fatalf("new key after rotation: %d, want 200", code)
		}

		// The log goes on under the new key.
		MustAppend(t, db, h, 30, "after")
		if n, err := a.Push(ctx); err != nil || n != db.Size()-rot-1 || n < 30 {
			t.Fatalf("push after rotation: %d entries, %v", n, err)
		}
		k2 := &kiosk{db: db, key: next, peer: a.Peer(), a: a, path: k.path}
		MustSameHistory(t, h, k2)
		res, err := db.VerifyStrict(ctx, oldV) // trusting only the original key
		MustNoErr(t, err)
		if res.Entries != db.Size() {
			t.Fatalf("verified %d entries, want %d", res.Entries, db.Size())
		}
		evs := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Kind: keycab.EventKeyRotate}))
		if len(evs) != 1 || evs[0].LogIndex != rot {
			t.Fatalf("key.rotate in HQ's history: %+v", evs)
		}

		// Reopening the database with the old key is refused.
		if d, err := store.Open(ctx, k.path, store.Options{Signer: old.Signer}); err == nil {
			d.Close()
			t.Fatal("the rotated log opened with the old key")
		}
	})
}

// TestRotateRefused: a key.rotate entry not signed by the pinned key (here
// signed twice by the new key) is refused: HQ stores nothing of the push
// that carries it, keeps the old key pinned and refuses the new one.
func TestRotateRefused(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 5, "before")
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		skey, _, err := note.GenerateKey(rand.Reader, k.peer.Origin)
		MustNoErr(t, err)
		next := must[*agent.Key](t)(agent.ParseKey(skey))
		index := k.db.Size()
		msg := audit.RotationStatement(k.peer.Origin, index, k.key.Signer.VerifierKey, next.Signer.VerifierKey)
		sig := base64.StdEncoding.EncodeToString(must[[]byte](t)(next.Signer.Sign(msg)))
		forged := &audit.Event{Kind: keycab.EventKeyRotate, Detail: map[string]string{
			audit.RotateOldKey: k.key.Signer.VerifierKey, audit.RotateNewKey: next.Signer.VerifierKey,
			audit.RotateOldSig: sig, audit.RotateNewSig: sig}}
		_, err = k.db.Append(ctx, store.Record{Event: forged})
		MustNoErr(t, err)
		if _, err := k.a.Push(ctx); err == nil {
			t.Fatal("HQ took a key.rotate signed only by the new key")
		}
		kl := must[hqstore.KioskLog](t)(h.s.KioskLogs().GetKioskLog(ctx, h.own(), k.peer.KioskID))
		if kl.VerifierKey != k.key.Signer.VerifierKey || kl.Size != index {
			t.Fatalf("HQ after a forged rotation: key %s size %d, want the old key and %d", kl.VerifierKey, kl.Size, index)
		}
		body, _ := json.Marshal(wire.Heartbeat{V: wire.Minor})
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, next.Private, time.Now()); code != http.StatusUnauthorized {
			t.Fatalf("new key of a refused rotation: %d, want 401", code)
		}
		if _, code := post(t, h.srv.URL, body, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now()); code != http.StatusOK {
			t.Fatalf("old key after a refused rotation: %d, want 200", code)
		}
	})
}
