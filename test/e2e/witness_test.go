package e2e_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

var (
	omniOnce sync.Once
	omniPath string
	omniErr  error
)

// omniwitness builds the transparency-dev witness (cmd/omniwitness) from
// test/witness, a module of its own that pins it (keycab's go.mod does not
// require it), once per test binary.
func omniwitness(t *testing.T) string {
	t.Helper()
	omniOnce.Do(func() {
		omniPath = filepath.Join(binDir, "omniwitness")
		cmd := exec.Command("go", "build", "-o", omniPath, "github.com/transparency-dev/witness/cmd/omniwitness")
		cmd.Dir = filepath.Join("..", "witness")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			omniErr = fmt.Errorf("build omniwitness: %v\n%s", err, out)
		}
	})
	if omniErr != nil {
		t.Fatal(omniErr)
	}
	return omniPath
}

// TestWitness runs the transparency-dev witness as its own process beside
// HQ (keycab-hq serve --witness): HQ hands it a kiosk's checkpoints (C2SP
// tlog-witness add-checkpoint) and keeps its cosignatures, which HQ serves
// with the checkpoint and the kiosk keeps; keycab audit verify requires
// it (--witness, --witnesses-required); a witness that lost track is
// answered from the size its 409 names; and a split view HQ presents (a
// checkpoint of a size the witness cosigned, with another root) is
// refused, and HQ keeps both checkpoints as evidence with an alarm and an
// admin-log entry.
func TestWitness(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the witness test runs HQ, a kiosk and a witness")
	}
	bin := omniwitness(t)
	engines(t, func(t *testing.T, dsn, appDSN string) { witnessTest(t, bin, dsn, appDSN) })
}

func witnessTest(t *testing.T, bin, dsn, appDSN string) {
	ctx := context.Background()
	dir := t.TempDir()

	// The witness's key: a note signer key, which omniwitness signs
	// cosignature/v1 with; its verifier key is the cosignature/v1 one.
	const witnessName = "witness.test/w1"
	skey, _, err := note.GenerateKey(rand.Reader, witnessName)
	if err != nil {
		t.Fatal(err)
	}
	wvkey := cosignatureKey(t, skey)
	otherSkey, _, err := note.GenerateKey(rand.Reader, "witness.test/w2")
	if err != nil {
		t.Fatal(err)
	}
	other := cosignatureKey(t, otherSkey) // a witness HQ does not know
	witnessAddr := freePort(t)

	// HQ, told of the witness before it runs: the witness says 404 (an
	// unknown log) until it is configured, and HQ tries again.
	envFile := filepath.Join(dir, "demo.env")
	program(t, "keycab-hq", "demo-seed", "--db", dsn, "--out", envFile)
	env := testenv.ReadEnvFile(t, envFile)
	h := &hq{dsn: dsn, addr: freePort(t), keys: filepath.Join(dir, "hq.keys"),
		extra: []string{"--witness", "http://" + witnessAddr + "=" + wvkey, "--witness-interval", "200ms"}}
	h.start(t)
	k := enrolKiosk(t, dsn, env, h.url(), "kiosk1", filepath.Join(dir, "kiosk1"))
	peer, _, vkey := kioskLogState(t, k)
	origin, _, _ := strings.Cut(vkey, "+")

	// The witness accepts the kiosk's log: its origin and verifier key,
	// as keycab-hq witness-logs lists them.
	keyFile := filepath.Join(dir, "witness.key")
	logs := filepath.Join(dir, "logs.yaml")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := program(t, "keycab-hq", "witness-logs", "--db", dsn, "--base-url", h.url())
	if want := fmt.Sprintf("  - Origin: %q\n    PublicKey: %q\n    URL: %q\n", origin, vkey, h.url()+"/v1/kiosks/"+peer.KioskID+"/log/"); !strings.Contains(yaml, want) {
		t.Fatalf("witness-logs printed\n%s\nwant a log\n%s", yaml, want)
	}
	if err := os.WriteFile(logs, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	startBinary(t, bin, "--listen", witnessAddr, "--metrics_listen", "", "--private_key_path", keyFile,
		"--db_file", filepath.Join(dir, "witness.db"), "--additional_logs", logs, "--logtostderr")

	k.start(t)
	k.takeAndReturn(t, "0A00B1C2D4", 1)

	st, sc := openHQ(t, appDSN, env)
	// HQ holds the witness's cosignature of its newest checkpoint, and the
	// kiosk keeps it (the heartbeat hands it on).
	witnessedHead := func() (hqstore.KioskLog, bool) {
		kl, err := st.KioskLogs().GetKioskLog(ctx, sc, peer.KioskID)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := st.KioskLogs().WitnessCosignatures(ctx, sc, peer.KioskID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Witness == witnessName && c.Size == kl.Size {
				return kl, true
			}
		}
		return kl, false
	}
	testenv.Eventually(t, 30*time.Second, "the witness cosigns the kiosk's checkpoint through HQ", func() bool {
		_, ok := witnessedHead()
		return ok
	})
	// The log grows: HQ hands the witness the new checkpoint with the
	// consistency proof from the size it cosigned.
	first, _ := witnessedHead()
	k.takeAndReturn(t, "0A00B1C2D4", 1)
	testenv.Eventually(t, 30*time.Second, "the witness cosigns the grown log", func() bool {
		kl, ok := witnessedHead()
		return ok && kl.Size > first.Size
	})
	testenv.Eventually(t, 30*time.Second, "the kiosk keeps the witness's cosignature", func() bool {
		return kioskHasCosignature(t, k, witnessName)
	})
	k.quit(t)
	auditVerify(t, k) // the kiosk's log with the witness's cosignatures kept in it
	testenv.Eventually(t, 30*time.Second, "the witness cosigns HQ's newest checkpoint", func() bool {
		_, ok := witnessedHead()
		return ok
	})
	kl, _ := witnessedHead()
	if _, err := wire.VerifyCosignature(kl.Cosigned, wvkey); err != nil {
		t.Fatalf("HQ's checkpoint does not carry the witness's cosignature: %v\n%s", err, kl.Cosigned)
	}

	// keycab audit verify with the witness required: with its
	// cosignature it passes, with another witness's key it fails.
	c := signIn(t, h, env)
	url := h.url() + "/v1/kiosks/" + peer.KioskID + "/log"
	verify := func(args ...string) (int, string) {
		return programExit(t, "keycab", append([]string{"audit", "verify", "--tiles", url, "--key", vkey, "--cosigner", peer.CosignerKey, "--token", c.token}, args...)...)
	}
	if code, out := verify("--witness", wvkey, "--witnesses-required", "1"); code != 0 || !strings.Contains(out, "1 of 1 witnesses cosigned") {
		t.Fatalf("audit verify with the witness: exit %d: %s", code, out)
	} else {
		t.Logf("with the witness required: %s", strings.TrimSpace(out))
	}
	if code, out := verify("--witness", other, "--witnesses-required", "1"); code != 1 || !strings.Contains(out, "0 of the 1 named witnesses") {
		t.Fatalf("audit verify without the witness's cosignature: exit %d: %s", code, out)
	} else {
		t.Logf("with another witness required: exit %d: %s", code, strings.TrimSpace(out))
	}
	if code, out := verify("--witness", wvkey, "--witness", other); code != 1 || !strings.Contains(out, "1 of the 2 named witnesses cosigned the log, 2 required") {
		t.Fatalf("audit verify with 2 of 2 required: exit %d: %s", code, out)
	}
	if code, out := verify("--witness", wvkey, "--witness", other, "--witnesses-required", "1"); code != 0 {
		t.Fatalf("audit verify with 1 of 2 required: exit %d: %s", code, out)
	}
	// The kiosk's own export carries the witness's cosignature too.
	export := filepath.Join(dir, "export")
	program(t, "keycab", "audit", "export", "--db", filepath.Join(k.dir, "kiosk.db"), "--out", export)
	if code, out := programExit(t, "keycab", "audit", "verify", "--tiles", export, "--key", vkey, "--witness", wvkey); code != 0 {
		t.Fatalf("audit verify of the kiosk's export with the witness: exit %d: %s", code, out)
	}

	// HQ forgets what the witness holds: the witness answers 409 with its
	// size, and HQ sends again from there.
	db := rawHQ(t, dsn, env["KEYCAB_DEMO_ORG"])
	db.exec(t, "DELETE FROM witness_state WHERE kiosk_id = $1", peer.KioskID)
	testenv.Eventually(t, 30*time.Second, "HQ resends from the size the witness's 409 names", func() bool {
		return strings.Contains(h.p.errb.String(), "witness holds another size")
	})
	testenv.Eventually(t, 30*time.Second, "the witness cosigns again", func() bool {
		var status string
		db.queryRow(t, "SELECT COALESCE(MAX(status), '') FROM witness_state WHERE kiosk_id = $1", []any{peer.KioskID}, &status)
		return status == "cosigned"
	})

	// A split view: HQ presents another checkpoint of the size the witness
	// cosigned (signed by the kiosk's key, another root). The witness
	// refuses; HQ keeps both checkpoints, raises the alarm and logs it.
	kskey, err := os.ReadFile(filepath.Join(k.dir, "kiosk.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(kskey)))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := audit.NoteText(kl.Checkpoint)
	cp, err := audit.ParseCheckpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	root := cp.Root
	root[0] ^= 1
	forged, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, cp.Size, base64.StdEncoding.EncodeToString(root[:]))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	db.exec(t, "UPDATE kiosk_logs SET checkpoint = $1 WHERE kiosk_id = $2", forged, peer.KioskID)
	var ev hqstore.Evidence
	testenv.Eventually(t, 30*time.Second, "HQ keeps the witness's refusal as evidence", func() bool {
		evs, err := st.KioskLogs().ListEvidence(ctx, sc, peer.KioskID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if strings.Contains(e.What, "witness "+witnessName+" refused") {
				ev = e
				return true
			}
		}
		return false
	})
	t.Logf("evidence: %s", ev.What)
	if !bytes.Equal(ev.Ours, forged) {
		t.Fatalf("evidence: ours is not the checkpoint HQ presented:\n%s", ev.Ours)
	}
	if t1, _ := audit.NoteText(ev.Theirs); t1 != text {
		t.Fatalf("evidence: theirs is not the checkpoint the witness cosigned:\n%s", ev.Theirs)
	}
	if _, err := wire.VerifyCosignature(ev.Theirs, wvkey); err != nil {
		t.Fatalf("evidence: theirs carries no cosignature by the witness: %v", err)
	}
	var al struct {
		Alarms []map[string]any `json:"alarms"`
	}
	c.call(t, "GET", "/v1/alarms?open=true", nil, 200, &al)
	found := false
	for _, a := range al.Alarms {
		found = found || (a["alarm"] == "log_equivocation" && a["kiosk_id"] == peer.KioskID)
	}
	if !found {
		t.Fatalf("no open log_equivocation alarm for the kiosk: %v", al.Alarms)
	}
	var adminLog struct {
		Actions []map[string]any `json:"actions"`
	}
	c.call(t, "GET", "/v1/admin-log", nil, 200, &adminLog)
	found = false
	for _, a := range adminLog.Actions {
		found = found || (a["action"] == "kiosk.witness_refused" && a["target"] == peer.KioskID)
	}
	if !found {
		t.Fatalf("no kiosk.witness_refused in the admin log: %v", adminLog.Actions)
	}
	// The API shows the witness's state and the evidence.
	var ws struct {
		Witnesses []struct {
			Witness, Status string
			Size            int64
		} `json:"witnesses"`
		Cosignatures []struct {
			Witness    string `json:"witness"`
			Checkpoint string `json:"checkpoint"`
		} `json:"cosignatures"`
	}
	c.call(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/witnesses", nil, 200, &ws)
	if len(ws.Witnesses) != 1 || ws.Witnesses[0].Witness != witnessName || ws.Witnesses[0].Status != hqstore.WitnessStatusRefused ||
		ws.Witnesses[0].Size != cp.Size || len(ws.Cosignatures) < 2 {
		t.Fatalf("GET log/witnesses: %+v", ws)
	}
	var el struct {
		Evidence []struct {
			What, Theirs, Ours string
		} `json:"evidence"`
	}
	c.call(t, "GET", "/v1/kiosks/"+peer.KioskID+"/log/evidence", nil, 200, &el)
	if len(el.Evidence) != 1 || el.Evidence[0].What != ev.What || el.Evidence[0].Ours != base64.StdEncoding.EncodeToString(forged) ||
		el.Evidence[0].Theirs != base64.StdEncoding.EncodeToString(ev.Theirs) {
		t.Fatalf("GET log/evidence: %+v", el)
	}
	h.p.stop(t, syscall.SIGTERM)
}

// cosignatureKey returns the cosignature/v1 verifier key of a note signer
// key (PRIVATE+KEY+name+hash+base64(0x01 || seed)), as omniwitness signs.
func cosignatureKey(t *testing.T, skey string) string {
	t.Helper()
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		t.Fatalf("signer key %q", skey)
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize {
		t.Fatalf("signer key %q", skey)
	}
	c, err := wire.NewCosigner(parts[2], ed25519.NewKeyFromSeed(key[1:]), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.VerifierKey()
}

// kioskHasCosignature reports whether the kiosk's log keeps a checkpoint
// cosigned by name.
func kioskHasCosignature(t *testing.T, k *kiosk, name string) bool {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(k.dir, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cs, err := db.Cosigned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if bytes.Contains(c, []byte("\u2014 "+name+" ")) {
			return true
		}
	}
	return false
}

// programExit runs one of the built programs (or another binary, by
// path) and returns its exit code and its stdout and stderr.
func programExit(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// startBinary starts a program by path (start runs the built ones).
func startBinary(tb testing.TB, path string, args ...string) *proc {
	tb.Helper()
	rel, err := filepath.Rel(binDir, path)
	if err != nil {
		tb.Fatal(err)
	}
	return start(tb, rel, args...)
}

// rawDB is HQ's database opened directly, as someone tampering with it
// would, in the organisation's tenant.
type rawDB struct {
	db  *sql.DB
	pg  bool
	org string
}

func rawHQ(t *testing.T, dsn, org string) *rawDB {
	t.Helper()
	r := &rawDB{org: org}
	var err error
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		r.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	} else {
		r.db, err = sql.Open("pgx", dsn)
		r.pg = true
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	return r
}

// in runs fn in a transaction bound to the organisation.
func (r *rawDB) in(t *testing.T, fn func(*sql.Tx) error) {
	t.Helper()
	tx, err := r.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if r.pg {
		if _, err := tx.Exec("SELECT set_config('keycab.org_id', $1, true)", r.org); err != nil {
			t.Fatal(err)
		}
	}
	if err := fn(tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (r *rawDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	r.in(t, func(tx *sql.Tx) error {
		_, err := tx.Exec(q, args...)
		return err
	})
}

func (r *rawDB) queryRow(t *testing.T, q string, args []any, dest ...any) {
	t.Helper()
	r.in(t, func(tx *sql.Tx) error { return tx.QueryRow(q, args...).Scan(dest...) })
}
