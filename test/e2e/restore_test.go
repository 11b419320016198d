package e2e_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

// TestRestoreNewEpoch backs a running kiosk up, lets it go on working
// (HQ sees and cosigns those entries), restores the backup into a new data
// directory, enrols it again and works with it: the restored kiosk's log
// begins with log.epoch naming the old log at the backup's size and root,
// never reusing an index HQ has seen; HQ holds both logs, each verifying,
// and the old log kept by the restore verifies too.
func TestRestoreNewEpoch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the restore test runs HQ and two kiosk lives (about 40 s)")
	}
	dsn, appDSN := engineDSN(t, "sqlite")
	dir := t.TempDir()
	h, env := startHQ(t, dsn, dir)
	defer h.p.stop(t, syscall.SIGTERM)
	ben := "0A00B1C2D4"

	old := enrolKiosk(t, dsn, env, h.url(), "kiosk-old", filepath.Join(dir, "old"))
	old.start(t)
	old.takeAndReturn(t, ben, 1)
	st, sc := openHQ(t, appDSN, env)
	waitSynced(t, st, sc, old, 20*time.Second)

	backup := filepath.Join(dir, "kiosk-backup.db")
	if out := program(t, "keycab-kiosk", "backup", "--data", old.dir, "--out", backup); !strings.Contains(out, "backed up") {
		t.Fatalf("backup: %s", out)
	}
	b, err := store.Open(context.Background(), backup, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	backupSize := b.Size()
	backupOrigin, _ := b.Origin()
	backupRoot, err := b.TreeRoot(context.Background(), backupSize)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}

	// The old kiosk goes on after the backup; HQ sees these entries.
	old.takeAndReturn(t, ben, 1)
	oldPeer, oldSize, _ := waitSynced(t, st, sc, old, 20*time.Second)
	old.quit(t)
	if oldSize <= backupSize {
		t.Fatalf("the old kiosk logged nothing after the backup (%d, backup %d)", oldSize, backupSize)
	}

	// Restore onto a "new card" and enrol again.
	restored := &kiosk{name: "kiosk-restored", dir: filepath.Join(dir, "restored")}
	out := program(t, "keycab-kiosk", "restore", "--data", restored.dir, "--from", backup)
	if !strings.Contains(out, "enrol this kiosk again") || !strings.Contains(out, oldPeer.KioskID) {
		t.Fatalf("restore: %s", out)
	}
	token := strings.TrimSpace(program(t, "keycab-hq", "enrol-token", "--db", dsn, "--as", env["KEYCAB_DEMO_EMAIL"], "--cabinet", env["KEYCAB_DEMO_CABINET"]))
	if out := program(t, "keycab-kiosk", "enroll", "--sim", "--hq", h.url(), "--token", token, "--data", restored.dir, "--name", restored.name); !strings.Contains(out, "config version") {
		t.Fatalf("enroll the restored kiosk: %s", out)
	}
	restored.args = []string{"--sim", "--headless", "--data", restored.dir, "--push-every", "100ms", "--heartbeat-every", "1s", "--long-poll", "2s"}
	restored.start(t)
	restored.takeAndReturn(t, ben, 1)
	restored.quit(t)

	newPeer, _, _ := waitSynced(t, st, sc, restored, 20*time.Second)
	if newPeer.KioskID == oldPeer.KioskID || newPeer.Origin == oldPeer.Origin {
		t.Fatalf("the restored kiosk reuses the old kiosk's identity %s / log %s", newPeer.KioskID, newPeer.Origin)
	}
	leaves := sameHistory(t, st, sc, restored)
	e, err := audit.Decode(leaves[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != keycab.EventLogEpoch || e.Detail["prev_origin"] != backupOrigin || e.Detail["prev_kiosk"] != oldPeer.KioskID ||
		e.Detail["prev_size"] != strconv.FormatInt(backupSize, 10) || e.Detail["prev_root"] != backupRoot.String() {
		t.Fatalf("first entry of the restored log: %s %v; want log.epoch from %s at %d (%s)", e.Kind, e.Detail, backupOrigin, backupSize, backupRoot)
	}
	if taken, returned := takesAndReturns(leaves); taken != 1 || returned != 1 {
		t.Fatalf("restored log: %d takes, %d returns", taken, returned)
	}
	// HQ still holds the old kiosk's whole log, beyond the backup (and
	// its shutdown entry).
	oldLeaves := sameHistory(t, st, sc, old)
	if int64(len(oldLeaves)) < oldSize || bytes.Equal(oldLeaves[backupSize], leaves[0]) {
		t.Fatalf("HQ's copy of the old log: %d leaves, want at least %d", len(oldLeaves), oldSize)
	}
	for _, k := range []*kiosk{old, restored} {
		auditVerify(t, k)
		hqAuditVerify(t, h, env, k)
	}
	archives, _ := filepath.Glob(filepath.Join(restored.dir, "epochs", "*.db"))
	if len(archives) != 1 {
		t.Fatalf("kept epochs: %v", archives)
	}
	if out := program(t, "keycab", "audit", "verify", "--db", archives[0]); !strings.HasPrefix(out, "ok: "+strconv.FormatInt(backupSize, 10)+" entries") {
		t.Fatalf("audit verify of the kept epoch: %s", out)
	}
}
