package kioskapi_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// TestRetentionReachesKiosk: HQ's personal-text rule travels in the bundle
// and the kiosk's agent applies it, when the bundle arrives and with each
// heartbeat, on a kiosk clock moved past N days (no real wait): exactly
// the texts older than N days go, every leaf stays and the log verifies;
// the kiosk's next push (its personal.expired entries) lands, and HQ's
// retention, on a clock moved alike, deletes its sealed copies and no
// leaf it holds.
func TestRetentionReachesKiosk(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn, withNotesKey)
		k := MustKiosk(t, h, h.srv.URL)
		var clock atomic.Int64
		clock.Store(time.Now().UnixNano())
		now := func() time.Time { return time.Unix(0, clock.Load()) }
		days := func(n int) { clock.Add(int64(time.Duration(n) * 24 * time.Hour)) }
		MustNoErr(t, k.db.Close())
		k.db = must[*store.DB](t)(store.Open(ctx, k.path, store.Options{Signer: k.key.Signer, Now: now}))
		t.Cleanup(func() { k.db.Close() })
		k.a = MustAgent(t, k.db, k.key, func(c *agent.Config) { c.HeartbeatEvery = 20 * time.Millisecond })
		must[bool](t)(k.a.PullConfig(ctx, 0))

		var refs [][]byte
		take := func(notes string) {
			t.Helper()
			MustNoErr(t, k.db.Take(ctx, &keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, Slot: 1, Notes: notes}))
			must[int64](t)(k.db.Return(ctx, h.ks.ID, h.staff.ID, 1, false))
			leaves := must[[][]byte](t)(k.db.ReadEntries(0, k.db.Size()))
			for _, l := range slices.Backward(leaves) {
				if ev := must[*audit.Event](t)(audit.Decode(l)); ev.Kind == keycab.EventKeyTaken {
					refs = append(refs, ev.Notes)
					return
				}
			}
		}
		kept := func() []bool {
			var out []bool
			for _, r := range refs {
				_, ok, err := k.db.KeptText(ctx, r)
				MustNoErr(t, err)
				out = append(out, ok)
			}
			return out
		}
		hqNotes := func() []string {
			var out []string
			for _, e := range must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Kind: keycab.EventKeyTaken})) {
				out = append(out, e.Notes)
			}
			slices.Sort(out)
			return out
		}
		take("first note")
		days(20)
		take("second note")
		must[int64](t)(k.a.Push(ctx))
		if got := hqNotes(); !slices.Equal(got, []string{"first note", "second note"}) {
			t.Fatalf("HQ's notes before retention: %q", got)
		}
		pushed := k.db.Size()
		hqLeaves := must[[][]byte](t)(h.s.KioskLogs().KioskLeaves(ctx, h.own(), k.peer.KioskID, 0, pushed))

		// 31 days after the first take HQ sets a 30-day rule: the kiosk
		// applies it with the bundle.
		days(11)
		leaves := must[[][]byte](t)(k.db.ReadEntries(0, k.db.Size()))
		MustNoErr(t, h.s.SetRetention(ctx, h.own(), hqstore.Retention{PersonalTextDays: 30}))
		must[bool](t)(k.a.PullConfig(ctx, 0))
		if got := kept(); !slices.Equal(got, []bool{false, true}) {
			t.Fatalf("kept after the bundle: %v, want only the second note", got)
		}
		if res := must[store.VerifyResult](t)(k.db.VerifyStrict(ctx, nil)); res.Expired != 1 || res.Texts != 1 {
			t.Fatalf("verify after the bundle's retention: %+v", res)
		}

		// 31 days after the second: the heartbeat's run takes it.
		days(20)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { k.a.Run(runCtx); close(done) }()
		for i := 0; i < 1000 && kept()[1]; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		<-done
		if got := kept(); !slices.Equal(got, []bool{false, false}) {
			t.Fatalf("kept after the heartbeats: %v, want none", got)
		}
		all := must[[][]byte](t)(k.db.ReadEntries(0, k.db.Size()))
		if len(all) < len(leaves)+2 || !slices.EqualFunc(all[:len(leaves)], leaves, bytes.Equal) {
			t.Fatalf("retention changed the kiosk's leaves: %d before, %d after", len(leaves), len(all))
		}
		if res := must[store.VerifyResult](t)(k.db.VerifyStrict(ctx, nil)); res.Expired != 2 || res.Texts != 0 {
			t.Fatalf("verify after the heartbeat's retention: %+v", res)
		}

		// HQ takes the kiosk's entries, and its own rule its copies.
		must[int64](t)(k.a.Push(ctx))
		if st := must[hqstore.KioskLog](t)(h.s.KioskLogs().KioskLogState(ctx, hqstore.KioskScope(h.org.ID, k.peer.KioskID))); st.Size != k.db.Size() {
			t.Fatalf("HQ holds %d entries, the kiosk %d", st.Size, k.db.Size())
		}
		later := must[*hqstore.Store](t)(hqstore.Open(ctx, dsn, hqstore.Options{NotesKey: testNotesKey, Now: now}))
		t.Cleanup(func() { later.Close() })
		if run := must[hqstore.RetentionRun](t)(later.ApplyRetention(ctx, h.org.ID)); run.Texts != 2 {
			t.Fatalf("HQ's retention deleted %d texts, want 2", run.Texts)
		}
		if got := hqNotes(); !slices.Equal(got, []string{"", ""}) {
			t.Fatalf("HQ's notes after retention: %q", got)
		}
		if got := must[[][]byte](t)(h.s.KioskLogs().KioskLeaves(ctx, h.own(), k.peer.KioskID, 0, pushed)); !slices.EqualFunc(got, hqLeaves, bytes.Equal) {
			t.Fatal("HQ's retention changed the leaves it holds")
		}
	})
}
