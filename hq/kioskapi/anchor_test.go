package kioskapi_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
)

// TestClockAnchor: a kiosk whose clock is hours off (a Pi that booted
// without its clock set). HQ bounds each event's time by its own clock —
// below by the HQ cosignature time the kiosk logged as an anchor, above
// by when HQ received the event — and flags the events whose kiosk time
// lies outside, while those of a good clock are not flagged.
func TestClockAnchor(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		MustAppend(t, k.db, h, 4, "good clock")
		_, err := k.a.Push(ctx)
		MustNoErr(t, err)
		good := k.db.Size() // the 4 and the anchor of HQ's first cosignature

		// The kiosk restarts with its clock three hours behind, then
		// another time three hours ahead.
		for _, off := range []time.Duration{-3 * time.Hour, 3 * time.Hour} {
			MustNoErr(t, k.db.Close())
			k.db = must[*store.DB](t)(store.Open(ctx, k.path, store.Options{Signer: k.key.Signer, Now: func() time.Time { return time.Now().Add(off) }}))
			k.a = MustAgent(t, k.db, k.key)
			MustAppend(t, k.db, h, 4, "clock off")
			_, err := k.a.Push(ctx)
			MustNoErr(t, err)
		}
		MustSameHistory(t, h, k)

		evs := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{Limit: 1000}))
		times := must[[]hqstore.EventTime](t)(h.s.KioskLogs().EventTimes(ctx, h.own(), evs))
		if len(times) != len(evs) || int64(len(evs)) != k.db.Size() {
			t.Fatalf("%d times for %d events of %d entries", len(times), len(evs), k.db.Size())
		}
		var anchors, off int
		for i, e := range evs {
			et := times[i]
			if !et.At.Equal(e.At) || et.NotAfter.IsZero() || (!et.NotBefore.IsZero() && et.NotBefore.After(et.NotAfter)) {
				t.Errorf("event %d: interval %+v for kiosk time %v", e.LogIndex, et, e.At)
			}
			if e.Kind == keycab.EventClockAnchored {
				anchors++
			}
			if e.LogIndex < good {
				if et.Off() {
					t.Errorf("event %d of a good clock flagged: %+v", e.LogIndex, et)
				}
				continue
			}
			// After the first anchor every event is bounded below by
			// HQ's first cosignature at least.
			if et.NotBefore.IsZero() || et.NotBefore.After(time.Now()) {
				t.Errorf("event %d: no lower bound from the anchor: %+v", e.LogIndex, et)
			}
			if !et.Off() {
				t.Errorf("event %d, kiosk time %v, not flagged: %+v", e.LogIndex, e.At, et)
			}
			off++
		}
		if anchors != 3 || off != int(k.db.Size()-good) {
			t.Fatalf("%d anchors (want one per agent start: 3), %d events flagged of %d", anchors, off, k.db.Size()-good)
		}
	})
}
