package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/faultproxy"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// TestFaults runs HQ and two kiosks as processes with a proxy the test
// controls between them: requests dropped, cut short, duplicated and
// delayed, answers dropped after HQ committed and cut short, while the
// kiosks record events; then HQ killed with a push held in flight before
// it reached HQ and again after HQ committed it, and a kiosk killed with
// its push in flight (which HQ then commits). At the end HQ holds each
// kiosk's log entry for entry, one history event per entry, and the same
// keys out.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the multi-process fault test takes about a minute per engine")
	}
	engines(t, faults)
}

// doors opens and closes k's door n times: three log entries each (the
// opening, the forced-door alarm, the closing). Each level is held for
// 40 ms, well over the simulator's debounce (5 ms, polled every 2 ms).
func (k *kiosk) doors(t *testing.T, n int) {
	t.Helper()
	for range n {
		k.say(t, "door open", "")
		time.Sleep(40 * time.Millisecond)
		k.say(t, "door close", "")
		time.Sleep(40 * time.Millisecond)
	}
}

// held waits for the request the proxy holds.
func held(t *testing.T, ch <-chan *faultproxy.Held, k *kiosk, what string) *faultproxy.Held {
	t.Helper()
	select {
	case h := <-ch:
		t.Cleanup(h.Abandon)
		return h
	case <-time.After(6 * time.Minute):
		t.Fatalf("no push from %s reached the proxy to hold %s; its log:\n%s", k.name, what, tail(k.p.errb.String(), 3000))
		return nil
	}
}

func faults(t *testing.T, dsn, appDSN string) {
	dir := t.TempDir()
	h, env := startHQ(t, dsn, dir)
	p := faultproxy.New(h.url(), 6)
	// The proxy's server closes kiosk connections at the end, so that a
	// held request cannot outlive the test.
	srv := httptest.NewServer(p)
	t.Cleanup(srv.CloseClientConnections)
	t.Cleanup(srv.Close)
	var kiosks []*kiosk
	for i := range 2 {
		name := fmt.Sprintf("kiosk%d", i+1)
		k := enrolKiosk(t, dsn, env, srv.URL, name, filepath.Join(dir, name))
		k.start(t)
		kiosks = append(kiosks, k)
	}

	// Random faults on every request while both kiosks record events, on
	// until every kind of fault has happened (bounded).
	p.SetRate(0.4)
	deadline := time.Now().Add(3 * time.Minute)
	for round := 0; round < 5 || !allFaults(p.Counts()); round++ {
		if time.Now().After(deadline) {
			t.Fatalf("not every fault happened in %d rounds: %v", round, p.Counts())
		}
		for _, k := range kiosks {
			k.doors(t, 1)
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.SetRate(0)
	for f, n := range p.Counts() {
		t.Logf("%s: %d", faultproxy.Fault(f), n)
	}
	// A kiosk that met a run of faults waits (backoff with jitter, up to
	// five minutes) before it tries again: here, and for the held pushes
	// below.
	st, sc := openHQ(t, appDSN, env)
	for _, k := range kiosks {
		start := time.Now()
		waitSynced(t, st, sc, k, 6*time.Minute)
		t.Logf("%s caught up %v after the faults stopped", k.name, time.Since(start).Round(time.Millisecond))
	}

	// HQ killed while a push is held before reaching it: the push is
	// lost with HQ, and the kiosk sends it again to the new HQ.
	ch := p.Hold(wire.PathPush, faultproxy.BeforeHQ)
	kiosks[0].doors(t, 1)
	req := held(t, ch, kiosks[0], "before HQ")
	h.p.stop(t, syscall.SIGKILL)
	if st := req.Release(faultproxy.Pass); st != 0 {
		t.Fatalf("a push reached the killed HQ: %d", st)
	}
	h.start(t)

	// HQ killed after it committed a push and before its answer left:
	// the kiosk does not know HQ holds the entries.
	// A push that HQ did not commit (409: the kiosk resumes from HQ's
	// size, when an earlier answer of the restarted HQ was lost) is let
	// through, and the next one held, a few times at most.
	for try := 0; ; try++ {
		ch = p.Hold(wire.PathPush, faultproxy.AfterHQ)
		kiosks[0].doors(t, 1)
		req = held(t, ch, kiosks[0], "after HQ")
		if req.Status == http.StatusOK {
			break
		}
		if try == 4 {
			t.Fatalf("HQ answered the held push with %d", req.Status)
		}
		t.Logf("HQ answered a held push with %d; holding the next", req.Status)
		req.Release(faultproxy.Pass)
	}
	h.p.stop(t, syscall.SIGKILL)
	req.Release(faultproxy.DropResponse)
	h.start(t)

	// A kiosk killed with SIGKILL while its push is in flight; HQ gets
	// the push only after the kiosk died, and commits it.
	// First one push through, so that kiosk 2 knows what HQ holds: a push
	// of its that HQ committed just before it was killed went unanswered,
	// and its next push would be a 409 (resume from HQ's size).
	kiosks[1].doors(t, 1)
	waitSynced(t, st, sc, kiosks[1], 6*time.Minute)
	ch = p.Hold(wire.PathPush, faultproxy.BeforeHQ)
	kiosks[1].doors(t, 1)
	req = held(t, ch, kiosks[1], "before HQ")
	kiosks[1].p.stop(t, syscall.SIGKILL)
	if st := req.Release(faultproxy.Pass); st != http.StatusOK {
		t.Fatalf("HQ answered the dead kiosk's push with %d", st)
	}
	kiosks[1].start(t)
	kiosks[1].doors(t, 1)

	// A key left out, so that the final state is more than an empty
	// cabinet.
	ben := "0A00B1C2D4"
	k := kiosks[0]
	k.say(t, "badge "+ben, "Hello")
	k.say(t, "take 1", "reasons:")
	k.say(t, "reason viewing", "Slot 1 is open")
	k.say(t, "slot 1 out", "Taken:")
	k.say(t, "cancel", "Scan your badge")

	for _, k := range kiosks {
		k.quit(t)
	}
	for _, k := range kiosks {
		sameHistory(t, st, sc, k)
		auditVerify(t, k)
		sameKeysOut(t, st, sc, k)
	}
	h.p.stop(t, syscall.SIGTERM)
}

func allFaults(counts [faultproxy.NFaults]int) bool {
	return !slices.Contains(counts[faultproxy.DropRequest:], 0)
}

// sameKeysOut checks that HQ's custody of the kiosk's key sets is the
// kiosk's: the same key sets out, with the same members, taken by the
// same log entries.
func sameKeysOut(t *testing.T, st *hqstore.Store, sc hqstore.Scope, k *kiosk) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	peer, err := db.HQPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := db.KeysOut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held, err := st.ListCustody(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	var ours, theirs []string
	for _, c := range out {
		ours = append(ours, custodyKey(c))
	}
	for _, h := range held {
		if h.KioskID == peer.KioskID {
			theirs = append(theirs, custodyKey(keycab.Checkout{KeySetID: h.KeySetID, MemberID: h.MemberID, LogIndex: h.LogIndex}))
		}
	}
	slices.Sort(ours)
	slices.Sort(theirs)
	if !slices.Equal(ours, theirs) {
		t.Fatalf("%s: keys out at the kiosk %v, at HQ %v", k.name, ours, theirs)
	}
	t.Logf("%s: %d key sets out, the same at HQ", k.name, len(ours))
}

func custodyKey(c keycab.Checkout) string {
	return fmt.Sprintf("%s by %s (entry %d)", c.KeySetID, c.MemberID, c.LogIndex)
}
