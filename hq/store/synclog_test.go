package store_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestRecordEventsGoneReferences: a kiosk working from an older config
// names a key set and a member HQ has since deleted. The events are
// recorded with the references kept as text (the kiosk's push does not
// stall), custody holds only what HQ knows, and a resend is still a no-op.
func TestRecordEventsGoneReferences(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			a := f.a
			own := a.as(a.owner)
			gone := must[keycab.KeySet](t)(f.s.CreateKeySet(ctx, own, keycab.KeySet{SiteID: a.site1.ID, Label: "old shed"}))
			MustNoErr(t, f.s.DeleteKeySet(ctx, own, gone.ID))
			left := must[keycab.Member](t)(f.s.CreateMember(ctx, own, keycab.Member{Name: "Lee", Email: "lee@a.test", Role: keycab.RoleStaff, SiteIDs: []string{a.site1.ID}}))
			MustNoErr(t, f.s.RemoveMember(ctx, own, left.ID))

			at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
			evs := []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: gone.ID, At: at},
				{LogIndex: 1, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID, At: at.Add(time.Minute)},
				// ks1 is taken on by a member HQ removed: the staff member
				// no longer holds it, and nobody HQ knows does.
				{LogIndex: 2, Kind: keycab.EventKeyTaken, ActorID: left.ID, KeySetID: a.ks1.ID, At: at.Add(2 * time.Minute)},
				{LogIndex: 3, Kind: keycab.EventKeyReturned, ActorID: a.staff.ID, KeySetID: gone.ID, At: at.Add(3 * time.Minute)},
			}
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), evs))
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), evs)) // resent: a no-op

			got := must[[]store.Event](t)(f.s.ListEvents(ctx, own, store.EventFilter{}))
			if len(got) != len(evs) {
				t.Fatalf("%d events recorded, want %d: %+v", len(got), len(evs), got)
			}
			byIndex := map[int64]store.Event{}
			for _, g := range got {
				byIndex[g.LogIndex] = g
			}
			for _, want := range evs {
				g := byIndex[want.LogIndex]
				if g.Kind != want.Kind || g.ActorID != want.ActorID || g.KeySetID != want.KeySetID || !g.At.Equal(want.At) {
					t.Errorf("event %d recorded as %+v, want %+v", want.LogIndex, g, want)
				}
			}
			if h := must[[]store.Holding](t)(f.s.ListCustody(ctx, own)); len(h) != 0 {
				t.Fatalf("custody names a key set or member HQ does not have, or a stale holder: %+v", h)
			}
			// Known references still move custody.
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), []store.Event{{LogIndex: 4, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID, At: at.Add(4 * time.Minute)}}))
			if h := must[[]store.Holding](t)(f.s.ListCustody(ctx, own)); len(h) != 1 || h[0].KeySetID != a.ks1.ID || h[0].MemberID != a.staff.ID {
				t.Fatalf("custody after a known take: %+v", h)
			}
		})
	}
}
