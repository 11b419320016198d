package kioskapi_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// TestWrongClockSyncs: a kiosk whose one clock (its log's and its
// agent's) reads 1970, as a Pi without a clock battery boots before NTP
// answers, and one three hours behind. Each signs its requests with the
// time it learns from HQ's answers, so its first push after start is
// taken (the request refused for its date is tried again once, at HQ's
// time), its config pull and heartbeat too; its heartbeat tells HQ how
// far off it is, and HQ flags the times of its events: all of them for a
// clock before keycab.Epoch, those after its first anchor for the other.
func TestWrongClockSyncs(t *testing.T) {
	start := time.Now()
	for _, c := range []struct {
		name string
		now  func() time.Time
	}{
		{"1970", func() time.Time { return time.Unix(0, 0).Add(time.Since(start)) }},
		{"3h behind", func() time.Time { return time.Now().Add(-3 * time.Hour) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			engines(t, func(t *testing.T, dsn string) {
				ctx := context.Background()
				h := MustHQ(t, dsn)
				k := MustKiosk(t, h, h.srv.URL)
				MustNoErr(t, k.db.Close())
				k.db = must[*store.DB](t)(store.Open(ctx, k.path, store.Options{Signer: k.key.Signer, Now: c.now}))
				k.a = MustAgent(t, k.db, k.key, func(cfg *agent.Config) { cfg.Now = c.now })
				MustAppend(t, k.db, h, 8, "wrong clock")
				if _, err := k.a.Push(ctx); err != nil {
					t.Fatalf("push with the clock at %v: %v", c.now(), err)
				}
				anchored := k.db.Size() // the 8 and the anchor of HQ's first cosignature
				MustAppend(t, k.db, h, 4, "after the anchor")
				if _, err := k.a.Push(ctx); err != nil {
					t.Fatalf("second push: %v", err)
				}
				MustSameHistory(t, h, k)
				if _, err := k.a.PullConfig(ctx, 0); err != nil {
					t.Fatalf("config pull: %v", err)
				}
				if _, err := k.a.Heartbeat(ctx); err != nil {
					t.Fatalf("heartbeat: %v", err)
				}
				want := time.Since(start) - c.now().Sub(start) // HQ's clock minus the kiosk's
				if d := k.a.ClockOffset() - want; d < -3*time.Second || d > 3*time.Second {
					t.Errorf("the agent measured HQ %v ahead, want about %v", k.a.ClockOffset(), want)
				}
				ks := must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Hour))
				if len(ks) != 1 {
					t.Fatalf("%d kiosks", len(ks))
				}
				if d := ks[0].Heartbeat.ClockOffset - want; d < -3*time.Second || d > 3*time.Second {
					t.Errorf("HQ holds a clock offset of %v, want about %v", ks[0].Heartbeat.ClockOffset, want)
				}
				evs := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Limit: 1000}))
				times := must[[]hqstore.EventTime](t)(h.s.KioskLogs().EventTimes(ctx, h.own(), evs))
				if len(evs) < 13 {
					t.Fatalf("HQ lists %d events, want the 12 appended and the anchor", len(evs))
				}
				for i, e := range evs {
					// Before its first anchor only a clock that reads
					// before keycab.Epoch shows; after it, every event.
					if e.LogIndex < anchored-1 && c.now().After(keycab.Epoch) {
						continue
					}
					if !times[i].Off() {
						t.Errorf("event %d at kiosk time %v not flagged: %+v", e.LogIndex, e.At, times[i])
					}
				}
			})
		})
	}
}
