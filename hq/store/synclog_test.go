package store_test

import (
	"context"
	"fmt"
	"slices"
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

// TestRecordEventsManyInOnePush: a push's worth of events, more than one
// multi-row INSERT takes on SQLite and more key sets than applyEvents
// takes in one statement there, is stored whole and in order, applied as
// one event at a time would, resent as a no-op, and refused as
// equivocation when one of them differs, whichever statement it falls in.
func TestRecordEventsManyInOnePush(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			a := f.a
			own := a.as(a.owner)
			at := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
			var evs []store.Event
			for i := range 1234 {
				e := store.Event{LogIndex: int64(i), At: at.Add(time.Duration(i) * time.Second)}
				switch {
				case i < 300:
					// Key sets HQ does not know: no custody, one each.
					e.Kind, e.ActorID, e.KeySetID = keycab.EventKeyTaken, a.staff.ID, fmt.Sprintf("keyset_gone%03d", i)
				case i%3 == 0:
					e.Kind, e.ActorID, e.KeySetID, e.Slot = keycab.EventKeyTaken, a.staff.ID, a.ks1.ID, 1
				case i%3 == 1:
					e.Kind, e.ActorID, e.KeySetID, e.Slot = keycab.EventKeyReturned, a.staff.ID, a.ks1.ID, 1
				default:
					e.Kind, e.Detail = keycab.EventAlarmRaised, keycab.AlarmDoorHeld
				}
				evs = append(evs, e)
			}
			// The last of ks1 is a take (1233 % 3 == 0).
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), evs))
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), evs)) // resent: a no-op

			var got []store.Event
			filter := store.EventFilter{Limit: 1000}
			for range 3 {
				page := must[[]store.Event](t)(f.s.ListEvents(ctx, own, filter))
				got = append(got, page...)
				if len(page) < filter.Limit {
					break
				}
				filter.Before = &page[len(page)-1]
			}
			if len(got) != len(evs) {
				t.Fatalf("%d events recorded, want %d", len(got), len(evs))
			}
			for i, g := range got {
				want := evs[len(evs)-1-i] // newest first
				if g.LogIndex != want.LogIndex || g.Kind != want.Kind || g.KeySetID != want.KeySetID || g.Slot != want.Slot || !g.At.Equal(want.At) {
					t.Fatalf("event %d recorded as %+v, want %+v", want.LogIndex, g, want)
				}
			}
			if h := must[[]store.Holding](t)(f.s.ListCustody(ctx, own)); len(h) != 1 || h[0].KeySetID != a.ks1.ID || h[0].LogIndex != 1233 {
				t.Fatalf("custody after the push: %+v, want ks1 from event 1233", h)
			}
			alarms := must[[]store.Alarm](t)(f.s.ListAlarms(ctx, own, true))
			if want := (1234 - 300 + 1) / 3; len(alarms) != want {
				t.Fatalf("%d alarms open, want %d", len(alarms), want)
			}
			for _, i := range []int{5, 700, 1233} {
				changed := slices.Clone(evs)
				changed[i].At = changed[i].At.Add(time.Millisecond)
				wantCode(t, f.s.RecordEvents(ctx, a.kiosk(), changed), keycab.ECONFLICT)
			}
		})
	}
}
