package hq_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

var (
	keycabOnce sync.Once
	keycabBin  string
)

// keycabTool builds the keycab command once for the tests that run it,
// for the machine that runs them (testenv.BuildForHost).
func keycabTool(tb testing.TB) string {
	tb.Helper()
	keycabOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keycab-tool")
		if err != nil {
			tb.Fatal(err)
		}
		testenv.BuildForHost(tb, dir, "keycab.dev/keycab/cmd/keycab")
		keycabBin = filepath.Join(dir, "keycab")
	})
	if keycabBin == "" {
		tb.Fatal("keycab did not build (see the first test that asked for it)")
	}
	return keycabBin
}

// verifyTool runs keycab audit verify --tiles and returns its exit code
// and output.
func verifyTool(tb testing.TB, env []string, args ...string) (int, string) {
	tb.Helper()
	cmd := exec.Command(keycabTool(tb), append([]string{"audit", "verify"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		tb.Fatal(err)
	}
	return 0, out.String()
}

// A kiosk's log pushed to HQ is served as tlog-tiles that `keycab audit
// verify --tiles URL` verifies, the kiosk's signature and HQ's
// cosignature included; a leaf changed in HQ's database fails naming its
// index; another organisation's kiosk is not found.
func TestKioskLogTiles(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var dsn string
			var kcfg kioskapi.Config
			e := newEnv(t, engine{eng.name, func(tb testing.TB) string { dsn = eng.dsn(tb); return dsn }}, withKioskAPI(t, &kcfg))
			cosigner := kcfg.Cosigner
			w, other := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
			auditor := e.MustJoin(t, w.owner, "auditor@acme.test", "auditor")

			// A kiosk enrols, logs 600 events and pushes them.
			k := e.MustEnrolKiosk(t, store.MemberScope(w.owner.orgID, w.owner.memberID), w.cab.ID, "kiosk")
			db, key, peer := k.db, k.key, k.peer
			for i := range 600 {
				ev := audit.Event{Kind: keycab.EventDoorClosed}
				if i%2 == 0 {
					ev = audit.Event{Kind: keycab.EventIdentified, Actor: w.staff.memberID}
				}
				_, err := db.Append(ctx, kstore.Record{Event: &ev})
				MustNoErr(t, err)
			}
			a, err := agent.New(ctx, agent.Config{DB: db, Key: key, BatchSize: 500})
			MustNoErr(t, err)
			for range 5 {
				if _, err := a.Push(ctx); err != nil {
					t.Fatal(err)
				}
			}
			kl := MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log", auditor.access, nil), 200)
			if kl.body["size"] != float64(db.Size()) || db.Size() < 600 {
				t.Fatalf("HQ holds %v entries of %d: %s", kl.body["size"], db.Size(), kl.raw)
			}
			vkey, err := db.VerifierKey()
			MustNoErr(t, err)
			if kl.str("verifier_key") != vkey {
				t.Fatalf("verifier key %q, want %q", kl.str("verifier_key"), vkey)
			}

			url := e.srv.URL + "/v1/kiosks/" + peer.KioskID + "/log"
			code, out := verifyTool(t, []string{"KEYCAB_TOKEN=" + auditor.access}, "--tiles", url, "--key", vkey, "--cosigner", cosigner.VerifierKey())
			if code != 0 || !strings.Contains(out, "cosigned by HQ at") || !strings.HasPrefix(out, fmt.Sprintf("ok: %d entries", db.Size())) {
				t.Fatalf("verify through the API: exit %d: %s", code, out)
			}
			if code, out := verifyTool(t, nil, "--tiles", url, "--key", vkey, "--token", w.owner.access); code != 0 {
				t.Fatalf("verify as the owner with --token: exit %d: %s", code, out)
			}
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			forged, _ := wire.NewCosigner("hq.test/cosigner", priv, nil)
			if code, out := verifyTool(t, []string{"KEYCAB_TOKEN=" + auditor.access}, "--tiles", url, "--key", vkey, "--cosigner", forged.VerifierKey()); code != 1 || !strings.Contains(out, "FAILED") {
				t.Fatalf("another HQ key passed: exit %d: %s", code, out)
			}
			if code, out := verifyTool(t, nil, "--tiles", url, "--key", vkey); code == 0 || !strings.Contains(out, "401") {
				t.Fatalf("without a token: exit %d: %s", code, out)
			}

			// Who may not see the kiosk's log: another organisation's owner
			// (as for a kiosk that does not exist) and staff.
			for _, p := range []string{"", "/checkpoint", "/tile/0/000", "/tile/entries/000"} {
				theirs := e.do(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log"+p, other.owner.access, nil)
				missing := e.do(t, "GET", "/v1/kiosks/kiosk_missing/log"+p, other.owner.access, nil)
				if theirs.status != 404 || missing.status != 404 || theirs.code() != missing.code() {
					t.Errorf("other org's owner, log%s: %d %s; missing kiosk: %d", p, theirs.status, theirs.raw, missing.status)
				}
				MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log"+p, w.staff.access, nil), 403)
			}
			if code, out := verifyTool(t, []string{"KEYCAB_TOKEN=" + other.owner.access}, "--tiles", url, "--key", vkey); code == 0 || !strings.Contains(out, "404") {
				t.Fatalf("other org's owner: exit %d: %s", code, out)
			}
			for _, p := range []string{"/tile/0/009", "/tile/2/000", "/tile/entries/003", "/tile/0/000.p/0", "/tile/x", "/tile/0/-01"} {
				MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log"+p, auditor.access, nil), 404)
			}

			// A leaf changed in HQ's database behind the application's back.
			if eng.name != "sqlite" {
				return // tampering needs the database owner; the check is the same code on both engines
			}
			raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:"))
			MustNoErr(t, err)
			defer raw.Close()
			var leaf []byte
			MustNoErr(t, raw.QueryRowContext(ctx, "SELECT leaf FROM kiosk_leaves WHERE kiosk_id = ? AND idx = 337", peer.KioskID).Scan(&leaf))
			leaf = bytes.Clone(leaf)
			leaf[len(leaf)/2] ^= 0x01
			_, err = raw.ExecContext(ctx, "DROP TRIGGER kiosk_leaves_no_update")
			MustNoErr(t, err)
			_, err = raw.ExecContext(ctx, "UPDATE kiosk_leaves SET leaf = ? WHERE kiosk_id = ? AND idx = 337", leaf, peer.KioskID)
			MustNoErr(t, err)
			code, out = verifyTool(t, []string{"KEYCAB_TOKEN=" + auditor.access}, "--tiles", url, "--key", vkey, "--cosigner", cosigner.VerifierKey())
			if code != 1 || !strings.Contains(out, "FAILED at entry 337:") {
				t.Fatalf("tampered leaf: exit %d: %s", code, out)
			}
			t.Logf("after tampering: %s", out)
		})
	}
}
