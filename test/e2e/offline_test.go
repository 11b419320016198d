package e2e_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// offlineEvents is how many events the kiosk records in its week away.
const offlineEvents = 100_000

// TestWeekOffline cuts a kiosk off from HQ for a week of simulated time in
// which it records 100,000 events, then lets it reconnect: HQ ends with
// every entry exactly once, one history event per entry, and the custody
// the log implies.
func TestWeekOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a week offline takes a minute or so per engine")
	}
	engines(t, weekOffline)
}

func weekOffline(t *testing.T, dsn, appDSN string) {
	dir := t.TempDir()
	h, env := startHQ(t, dsn, dir)
	k := enrolKiosk(t, dsn, env, h.url(), "kiosk1", filepath.Join(dir, "kiosk1"))
	k.start(t)
	st, sc := openHQ(t, appDSN, env)
	waitSynced(t, st, sc, k, 20*time.Second)

	// HQ goes away; the kiosk stops so that the test can record the
	// week's events as the kiosk (its key, its store's append path).
	h.p.stop(t, syscall.SIGTERM)
	k.quit(t)
	start := time.Now().Add(-7 * 24 * time.Hour)
	t0 := time.Now()
	want := recordWeek(t, st, sc, k, start)
	t.Logf("recorded %d events over a simulated week in %v", offlineEvents, time.Since(t0).Round(time.Millisecond))

	// The kiosk comes back while HQ is still away, then HQ returns.
	k.start(t)
	h.start(t)
	t0 = time.Now()
	_, size, _ := waitSynced(t, st, sc, k, 5*time.Minute)
	t.Logf("HQ took %d entries from the kiosk in %v after it came back", size, time.Since(t0).Round(time.Millisecond))
	k.quit(t)
	sameHistory(t, st, sc, k)
	auditVerify(t, k)

	// HQ's custody is what the week's takes and returns leave out.
	peer, _, _ := waitSynced(t, st, sc, k, 0)
	held, err := st.ListCustody(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range held {
		if c.KioskID == peer.KioskID {
			got = append(got, custodyKey(keycab.Checkout{KeySetID: c.KeySetID, MemberID: c.MemberID, LogIndex: c.LogIndex}))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("custody at HQ:\n%v\nthe log leaves out:\n%v", got, want)
	}
	t.Logf("%d key sets out at HQ, as the log says", len(got))
	h.p.stop(t, syscall.SIGTERM)
}

// recordWeek appends offlineEvents realistic events (workload.Workload,
// with the demo organisation's members and key sets) to the kiosk's log
// through its store, spread evenly over the week from start, and returns
// the key sets they leave out (custodyKey, sorted).
func recordWeek(t testing.TB, st *hqstore.Store, sc hqstore.Scope, k *kiosk, start time.Time) []string {
	t.Helper()
	ctx := context.Background()
	members, err := st.ListMembers(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := st.ListKeySets(ctx, sc, "")
	if err != nil {
		t.Fatal(err)
	}
	key, err := agent.LoadKey(filepath.Join(k.dir, "kiosk.key"))
	if err != nil {
		t.Fatal(err)
	}
	step := 7 * 24 * time.Hour / offlineEvents
	now := start
	db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{Signer: key.Signer, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := workload.New(7)
	w.Members, w.KeySets = len(members), len(sets)
	pick := func(id, prefix string, n func(i int) string) string {
		if i, err := strconv.Atoi(strings.TrimPrefix(id, prefix)); err == nil && strings.HasPrefix(id, prefix) {
			return n(i - 1)
		}
		return id
	}
	out := map[string]keycab.Checkout{}
	batch := make([]store.Record, 0, 1000)
	for i := range offlineEvents {
		r := w.Next()
		e := r.Event
		e.Actor = pick(e.Actor, "m", func(i int) string { return members[i].ID })
		e.KeySet = pick(e.KeySet, "ks", func(i int) string { return sets[i].ID })
		now = start.Add(time.Duration(i) * step)
		e.Time = now.UnixMilli()
		if e.Due != 0 {
			e.Due = now.Add(8 * time.Hour).UnixMilli()
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == offlineEvents-1 {
			added, err := db.Append(ctx, batch...)
			if err != nil {
				t.Fatal(err)
			}
			for j, a := range added {
				switch e := batch[j].Event; e.Kind {
				case keycab.EventKeyTaken:
					out[e.KeySet] = keycab.Checkout{KeySetID: e.KeySet, MemberID: e.Actor, LogIndex: a.Index}
				case keycab.EventKeyReturned:
					delete(out, e.KeySet)
				}
			}
			batch = batch[:0]
		}
	}
	var want []string
	for _, c := range out {
		want = append(want, custodyKey(c))
	}
	slices.Sort(want)
	return want
}
