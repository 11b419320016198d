package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestNoticeStore: the notifier's calls see one organisation only (every
// statement checked for the tenant condition), a notice key is claimed
// once per organisation (the same key in another organisation is its
// own), and the mail queue leases a mail to one taker at a time.
func TestNoticeStore(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			f := newFixture(t, e)
			ctx := context.Background()
			now := time.Now()
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.a.ks1.ID, At: now.Add(-2 * time.Hour), DueAt: now.Add(-time.Hour)},
				{LogIndex: 1, Kind: keycab.EventAlarmRaised, At: now, Detail: keycab.AlarmDoorForced},
			}))
			orgs := must[[]string](t)(f.s.Outbox().NoticeOrgs(ctx))
			if !slices.Contains(orgs, f.a.org.ID) || !slices.Contains(orgs, f.b.org.ID) {
				t.Fatalf("organisations %v lack A or B", orgs)
			}
			fa := must[store.NoticeFacts](t)(f.s.Outbox().ReadNoticeFacts(ctx, f.a.org.ID, now.Add(-time.Hour)))
			fb := must[store.NoticeFacts](t)(f.s.Outbox().ReadNoticeFacts(ctx, f.b.org.ID, now.Add(-time.Hour)))
			if len(fa.Overdue) != 1 || fa.Overdue[0].KeySetID != f.a.ks1.ID || len(fa.Alarms) != 1 || len(fa.Kiosks) != 1 {
				t.Fatalf("A's facts %+v", fa)
			}
			if len(fb.Overdue)+len(fb.Alarms) != 0 || len(fb.Kiosks) != 1 || fb.Kiosks[0].ID != f.b.kiosk1.ID {
				t.Fatalf("B's facts %+v", fb)
			}
			if want := []string{"admin@a.test", "owner@a.test"}; !slices.Equal(fa.Admins, want) {
				t.Errorf("A's admins %v, want %v", fa.Admins, want)
			}
			if got := fa.SiteManagers[f.a.site1.ID]; !slices.Equal(got, []string{"site_manager@a.test"}) || len(fa.SiteManagers) != 1 {
				t.Errorf("A's site managers %v", fa.SiteManagers)
			}
			n := store.Notice{Key: "alarm.raised:x", Kind: "alarm.raised", Ref: "x", Subject: "s", Body: "b", To: []string{"owner@a.test"}}
			results := race(4, func(int) error {
				c, err := f.s.Outbox().ClaimNotices(ctx, f.a.org.ID, []store.Notice{n})
				if err == nil && len(c) != 1 {
					return errNotClaimed
				}
				return err
			})
			claimed := 0
			for _, err := range results {
				if err == nil {
					claimed++
				} else if err != errNotClaimed {
					t.Fatal(err)
				}
			}
			if claimed != 1 {
				t.Fatalf("the notice was claimed %d times, want once", claimed)
			}
			n.To = []string{"owner@b.test"}
			if c := must[[]store.Notice](t)(f.s.Outbox().ClaimNotices(ctx, f.b.org.ID, []store.Notice{n})); len(c) != 1 {
				t.Fatal("B could not claim a key A used")
			}
			// One taker at a time; B's queue holds only B's mail.
			ma := must[[]store.NoticeMail](t)(f.s.Outbox().TakeNoticeMail(ctx, f.a.org.ID, time.Minute, 10))
			if len(ma) != 1 || ma[0].To != "owner@a.test" || ma[0].Attempts != 1 {
				t.Fatalf("A's mail %+v", ma)
			}
			if again := must[[]store.NoticeMail](t)(f.s.Outbox().TakeNoticeMail(ctx, f.a.org.ID, time.Minute, 10)); len(again) != 0 {
				t.Fatalf("a leased mail was taken again: %+v", again)
			}
			mb := must[[]store.NoticeMail](t)(f.s.Outbox().TakeNoticeMail(ctx, f.b.org.ID, time.Minute, 10))
			if len(mb) != 1 || mb[0].To != "owner@b.test" {
				t.Fatalf("B's mail %+v", mb)
			}
			if err := f.s.Outbox().FinishNoticeMail(ctx, f.b.org.ID, ma[0].ID, "sent", "", time.Time{}); err == nil {
				t.Fatal("B finished A's mail")
			}
			if err := f.s.Outbox().FinishNoticeMail(ctx, f.a.org.ID, ma[0].ID, "lost", "", time.Time{}); keycab.ErrorCode(err) != keycab.EINVALID {
				t.Fatalf("unknown state: %v", err)
			}
			MustNoErr(t, f.s.Outbox().FinishNoticeMail(ctx, f.a.org.ID, ma[0].ID, "sent", "", time.Time{}))
			if got := must[[]store.NoticeMail](t)(f.s.Outbox().ListNoticeMail(ctx, f.a.org.ID)); len(got) != 1 || got[0].State != "sent" {
				t.Fatalf("A's queue %+v", got)
			}
		})
	}
}

var errNotClaimed = keycab.Errorf(keycab.ECONFLICT, "not claimed")
