// Package e2e runs keycab end to end as separate processes on loopback:
// keycab-hq serve (on SQLite and on PostgreSQL) and two simulated kiosks
// (keycab-kiosk --sim --headless, built without cgo, so it runs the
// terminal console the test types into), enrolled with keycab-hq
// enrol-token and keycab-kiosk enroll. Staff take and return keys on both
// kiosks through the real controller on the simulator while HQ is
// restarted and a kiosk is killed with SIGKILL; at the end HQ holds
// exactly each kiosk's log (the same leaves, one history event per entry)
// and keycab audit verify passes on every kiosk log.
//
// TestFaults puts a proxy the test controls (internal/faultproxy) between
// the kiosks and HQ; TestWeekOffline syncs 100,000 events recorded while
// HQ was away; the benchmarks give the sync figures of docs/PERFORMANCE.md.
package e2e_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
)

var (
	binDir     string
	pgServer   *pgtest.Server
	pgStartErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		dir, err := os.MkdirTemp("", "keycab-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", dir+"/", "keycab.dev/keycab/cmd/keycab-hq", "keycab.dev/keycab/cmd/keycab-kiosk", "keycab.dev/keycab/cmd/keycab")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build the programs: %v\n%s", err, out)
			return 1
		}
		binDir = dir
		if !testing.Short() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			pgServer, pgStartErr = pgtest.Start(ctx)
			cancel()
			if pgServer != nil {
				defer pgServer.Close()
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// program runs one of the built programs to completion and returns its
// stdout.
func program(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// proc is a running program.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *testenv.Buffer
	errb   *testenv.Buffer
	waited chan error
}

func start(tb testing.TB, name string, args ...string) *proc {
	tb.Helper()
	p := &proc{out: &testenv.Buffer{}, errb: &testenv.Buffer{}, waited: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errb
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.waited <- p.cmd.Wait() }()
	tb.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.waited:
		p.waited <- nil
	default:
		p.cmd.Process.Kill()
		p.waited <- <-p.waited
	}
}

// stop sends sig and waits for the process to end.
func (p *proc) stop(tb testing.TB, sig os.Signal) {
	tb.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.waited:
		p.waited <- err
		if sig != syscall.SIGKILL && err != nil {
			tb.Fatalf("%s ended with %v\n%s", p.cmd.Path, err, p.errb.String())
		}
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s did not stop on %v", p.cmd.Path, sig)
	}
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// hq is a keycab-hq serve process on a fixed address, restartable.
type hq struct {
	dsn, addr, keys string
	extra           []string // more flags of serve
	p               *proc
}

func (h *hq) start(tb testing.TB) {
	tb.Helper()
	h.p = start(tb, "keycab-hq", append([]string{"serve", "--db", h.dsn, "--listen", h.addr, "--keys", h.keys, "--config-poll", "200ms", "--shutdown-timeout", "5s"}, h.extra...)...)
	testenv.Eventually(tb, 20*time.Second, "HQ serving", func() bool { return strings.Contains(h.p.errb.String(), `"msg":"serving"`) })
}

func (h *hq) url() string { return "http://" + h.addr }

// kiosk is a simulated kiosk process driven through its console.
type kiosk struct {
	name, dir string
	args      []string
	p         *proc
	mark      int // where the output of the last command starts
	reloads   int // "config reloaded" lines of its log seen (TestLiveConfig)
}

func (k *kiosk) start(tb testing.TB) {
	tb.Helper()
	k.p = start(tb, "keycab-kiosk", k.args...)
	k.mark = 0
	k.say(tb, "status", "Scan your badge")
}

// say types line and waits for want in what the console printed since.
func (k *kiosk) say(tb testing.TB, line, want string) {
	tb.Helper()
	k.mark = k.p.out.Len()
	if _, err := io.WriteString(k.p.stdin, line+"\n"); err != nil {
		tb.Fatalf("%s: %s: %v", k.name, line, err)
	}
	if want == "" {
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(k.p.out.String()[k.mark:], want) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: after %q no %q in:\n%s", k.name, line, want, k.p.out.String()[k.mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takeAndReturn takes key set 1 of badge's menu out of slot and puts it
// back, through the controller on the simulator.
func (k *kiosk) takeAndReturn(tb testing.TB, badge string, slot int) {
	tb.Helper()
	k.say(tb, "badge "+badge, "Hello")
	k.say(tb, "take 1", "reasons:")
	k.say(tb, "reason viewing", fmt.Sprintf("Slot %d is open", slot))
	k.say(tb, fmt.Sprintf("slot %d out", slot), "Taken:")
	k.say(tb, "cancel", "Scan your badge")
	time.Sleep(3100 * time.Millisecond) // the scan cool-down ignores the same badge for 3 s
	k.say(tb, "badge "+badge, "return 1:")
	k.say(tb, "return 1", fmt.Sprintf("Slot %d is open", slot))
	k.say(tb, fmt.Sprintf("slot %d in", slot), "Returned:")
	k.say(tb, "cancel", "Scan your badge")
	time.Sleep(3100 * time.Millisecond)
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test takes about a minute per engine")
	}
	engines(t, endToEnd)
}

// engines runs fn with an HQ database on SQLite and on PostgreSQL: dsn
// for keycab-hq's admin commands, appDSN for the application role.
func engines(t *testing.T, fn func(t *testing.T, dsn, appDSN string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dsn, appDSN := engineDSN(t, engine)
			fn(t, dsn, appDSN)
		})
	}
}

// engineDSN makes a new, migrated HQ database on engine ("sqlite" or
// "postgres"; the latter skips under -short).
func engineDSN(tb testing.TB, engine string) (dsn, appDSN string) {
	tb.Helper()
	if engine == "sqlite" {
		dsn := "sqlite:" + filepath.Join(tb.TempDir(), "hq.db")
		return dsn, dsn
	}
	if testing.Short() {
		tb.Skip("-short: PostgreSQL tests skipped")
	}
	if pgStartErr != nil {
		tb.Fatalf("PostgreSQL is needed for this test: %v", pgStartErr)
	}
	d := pgServer.MustDatabase(tb)
	program(tb, "keycab-hq", "migrate", "--db", d.OwnerDSN, "--app-role", pgtest.AppRole)
	return d.AppDSN, d.AppDSN
}

// startHQ seeds the demo organisation into dsn and starts HQ on it; it
// returns what demo-seed wrote (demoEnv).
func startHQ(t testing.TB, dsn, dir string) (*hq, map[string]string) {
	t.Helper()
	envFile := filepath.Join(dir, "demo.env")
	program(t, "keycab-hq", "demo-seed", "--db", dsn, "--out", envFile)
	env := testenv.ReadEnvFile(t, envFile)
	h := &hq{dsn: dsn, addr: freePort(t), keys: filepath.Join(dir, "hq.keys")}
	h.start(t)
	return h, env
}

// enrolKiosk enrols a simulated kiosk named name in dir with the HQ at
// url (HQ or a proxy to it) and returns it, not yet started.
func enrolKiosk(t testing.TB, dsn string, env map[string]string, url, name, dir string) *kiosk {
	t.Helper()
	k := &kiosk{name: name, dir: dir}
	token := strings.TrimSpace(program(t, "keycab-hq", "enrol-token", "--db", dsn, "--as", env["KEYCAB_DEMO_EMAIL"], "--cabinet", env["KEYCAB_DEMO_CABINET"]))
	out := program(t, "keycab-kiosk", "enroll", "--sim", "--hq", url, "--token", token, "--data", k.dir, "--name", k.name)
	if !strings.Contains(out, "config version") {
		t.Fatalf("%s enroll: %s", k.name, out)
	}
	if fi, err := os.Stat(filepath.Join(k.dir, "kiosk.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s key: %v %v", k.name, err, fi)
	}
	k.args = []string{"--sim", "--headless", "--data", k.dir, "--push-every", "100ms", "--heartbeat-every", "1s", "--long-poll", "2s", "--sync-log-every", "500ms"}
	return k
}

func endToEnd(t *testing.T, dsn, appDSN string) {
	dir := t.TempDir()
	h, env := startHQ(t, dsn, dir)
	var kiosks []*kiosk
	for i := range 2 {
		name := fmt.Sprintf("kiosk%d", i+1)
		k := enrolKiosk(t, dsn, env, h.url(), name, filepath.Join(dir, name))
		k.start(t)
		kiosks = append(kiosks, k)
	}
	ben, chloe := "0A00B1C2D4", "0A00B1C2D5"

	// Custody flows on both kiosks, synced as they happen.
	for _, k := range kiosks {
		k.takeAndReturn(t, ben, 1)
	}

	// HQ restarted while the kiosks keep working and pushing: SIGTERM
	// (graceful) once and SIGKILL once, each in the middle of traffic.
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(150 * time.Millisecond)
			h.p.stop(t, sig)
		}()
		kiosks[0].takeAndReturn(t, ben, 1)
		<-done
		kiosks[1].takeAndReturn(t, ben, 1) // offline: HQ is down
		h.start(t)
	}

	// A kiosk killed with SIGKILL with entries not yet pushed (pushes run
	// every 100 ms: the kill lands before, during or just after one).
	kiosks[1].say(t, "badge "+chloe, "Hello, Chloe")
	kiosks[1].p.stop(t, syscall.SIGKILL)
	kiosks[1].start(t)
	kiosks[1].takeAndReturn(t, ben, 1)

	// Everything reaches HQ; then the kiosks stop.
	st, sc := openHQ(t, appDSN, env)
	for _, k := range kiosks {
		k.quit(t)
	}
	for _, k := range kiosks {
		if taken, returned := takesAndReturns(sameHistory(t, st, sc, k)); taken == 0 || taken != returned {
			t.Fatalf("%s: %d takes and %d returns in the log", k.name, taken, returned)
		}
		auditVerify(t, k)
		hqAuditVerify(t, h, env, k)
	}
	h.p.stop(t, syscall.SIGTERM)
}

// openHQ opens HQ's store as the demo organisation's owner.
func openHQ(t testing.TB, appDSN string, env map[string]string) (*hqstore.Store, hqstore.Scope) {
	t.Helper()
	st, err := hqstore.Open(context.Background(), appDSN, hqstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	acc, err := st.Accounts().AccountByEmail(ctx, env["KEYCAB_DEMO_EMAIL"])
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.Accounts().Memberships(ctx, acc.ID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("memberships %v %v", ms, err)
	}
	return st, hqstore.MemberScope(ms[0].OrgID, ms[0].MemberID)
}

// quit asks the kiosk to quit and waits for it to end cleanly.
func (k *kiosk) quit(t testing.TB) {
	t.Helper()
	k.say(t, "quit", "")
	k.p.stdin.Close()
	select {
	case err := <-k.p.waited:
		k.p.waited <- err
		if err != nil {
			t.Fatalf("%s: %v\n%s", k.name, err, k.p.errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not quit", k.name)
	}
}

// auditVerify runs keycab audit verify on the kiosk's log.
func auditVerify(t testing.TB, k *kiosk) {
	t.Helper()
	out := program(t, "keycab", "audit", "verify", "--db", filepath.Join(k.dir, "kiosk.db"))
	if !strings.HasPrefix(out, "ok:") {
		t.Fatalf("%s audit verify: %s", k.name, out)
	}
	t.Logf("%s: %s", k.name, strings.TrimSpace(out))
}

// sameHistory checks that HQ holds exactly the kiosk's log, leaf for
// leaf, and recorded one history event per entry; it returns the leaves.
func sameHistory(t *testing.T, st *hqstore.Store, sc hqstore.Scope, k *kiosk) [][]byte {
	t.Helper()
	peer, size, kl := waitSynced(t, st, sc, k, 20*time.Second)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	theirs, err := st.KioskLogs().KioskLeaves(ctx, sc, peer.KioskID, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := db.ReadEntries(0, size)
	if err != nil {
		t.Fatal(err)
	}
	if len(theirs) != len(ours) {
		t.Fatalf("%s: HQ returned %d leaves, the kiosk has %d", k.name, len(theirs), len(ours))
	}
	for i := range ours {
		if !bytes.Equal(theirs[i], ours[i]) {
			t.Fatalf("%s: leaf %d differs at HQ", k.name, i)
		}
	}
	seen := map[int64]bool{}
	var before *hqstore.Event
	for {
		evs, err := st.ListEvents(ctx, sc, hqstore.EventFilter{Limit: 1000, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.KioskID != peer.KioskID {
				continue
			}
			if seen[e.LogIndex] {
				t.Fatalf("%s: event %d recorded twice at HQ", k.name, e.LogIndex)
			}
			seen[e.LogIndex] = true
		}
		if len(evs) < 1000 {
			break
		}
		before = &evs[len(evs)-1]
	}
	if int64(len(seen)) != size {
		t.Fatalf("%s: HQ history has %d events, the log %d", k.name, len(seen), size)
	}
	t.Logf("%s: %d entries, the same at HQ (cosigned size %d)", k.name, size, kl.Size)
	return ours
}

// takesAndReturns counts the takes and returns in a log's leaves.
func takesAndReturns(leaves [][]byte) (taken, returned int) {
	for _, leaf := range leaves {
		switch {
		case bytes.Contains(leaf, []byte("key.taken")):
			taken++
		case bytes.Contains(leaf, []byte("key.returned")):
			returned++
		}
	}
	return taken, returned
}

// waitSynced waits until HQ holds as many entries as the kiosk's log has
// now, and returns the kiosk's pinned HQ, that size and HQ's log state.
func waitSynced(t testing.TB, st *hqstore.Store, sc hqstore.Scope, k *kiosk, wait time.Duration) (store.HQPeer, int64, hqstore.KioskLog) {
	t.Helper()
	ctx := context.Background()
	peer, size, _ := kioskLogState(t, k)
	var kl hqstore.KioskLog
	var err error
	deadline := time.Now().Add(wait)
	for {
		kl, err = st.KioskLogs().GetKioskLog(ctx, sc, peer.KioskID)
		if err == nil && kl.Size >= size {
			// The kiosk may have logged more since it was read (a time
			// anchor when HQ cosigned): HQ's size is what both hold.
			return peer, kl.Size, kl
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: HQ holds %d entries (%v), the kiosk %d; kiosk's log:\n%s", k.name, kl.Size, err, size, tail(k.p.errb.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kioskLogState reads the kiosk's pinned HQ, its log's size and its
// verifier key from its database.
func kioskLogState(t testing.TB, k *kiosk) (store.HQPeer, int64, string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	peer, err := db.HQPeer(ctx)
	if err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	vkey, err := db.VerifierKey()
	if err != nil {
		t.Fatalf("%s: %v", k.name, err)
	}
	return peer, db.Size(), vkey
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }
