package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// historyCase is one filtered history read and the events it must return.
type historyCase struct {
	name string
	as   store.Scope
	f    store.EventFilter
	want func(e store.Event, site string) bool
}

// TestHistoryFilters checks ListEvents against a plain filter over every
// event recorded, for each filter and role, walking every page through
// the cursor: the pages hold exactly the matching events, newest first,
// none twice, none of the other tenant's.
func TestHistoryFilters(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, e)
			a := f.a
			own := a.as(a.owner)
			kiosk2 := must[store.Kiosk](t)(f.s.CreateKiosk(ctx, own, store.Kiosk{CabinetID: a.cab2.ID, Name: "kiosk two"}))
			siteOf := map[string]string{a.kiosk1.ID: a.site1.ID, kiosk2.ID: a.site2.ID}

			actors := []string{a.staff.ID, a.manager.ID, a.contractor.ID, a.admin.ID, ""}
			keySets := []string{a.ks1.ID, a.ks2.ID, ""}
			kinds := []keycab.EventKind{keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventDoorOpened, keycab.EventIdentified}
			base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			var all []store.Event
			for _, k := range []struct {
				sc store.Scope
				id string
			}{{a.kiosk(), a.kiosk1.ID}, {store.KioskScope(a.org.ID, kiosk2.ID), kiosk2.ID}} {
				var evs []store.Event
				for i := range 60 {
					// Every third event shares its instant with the one
					// before it, so the cursor's tie-breaks are exercised.
					at := base.Add(time.Duration(i-i/3) * time.Minute)
					ev := store.Event{LogIndex: int64(i), Kind: kinds[i%len(kinds)], ActorID: actors[i%len(actors)],
						KeySetID: keySets[i%len(keySets)], At: at}
					if (ev.Kind == keycab.EventKeyTaken || ev.Kind == keycab.EventKeyReturned) && (ev.ActorID == "" || ev.KeySetID == "") {
						ev.Kind = keycab.EventIdentified // custody needs both
					}
					evs = append(evs, ev)
				}
				MustNoErr(t, f.s.RecordEvents(ctx, k.sc, evs))
				for _, ev := range evs {
					ev.OrgID, ev.KioskID = a.org.ID, k.id
					all = append(all, ev)
				}
			}
			// The other tenant's events must never show.
			MustNoErr(t, f.s.RecordEvents(ctx, f.b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventDoorOpened, At: base.Add(5 * time.Minute)}}))
			slices.SortFunc(all, func(x, y store.Event) int {
				if c := y.At.Compare(x.At); c != 0 {
					return c
				}
				if c := strings.Compare(y.KioskID, x.KioskID); c != 0 {
					return c
				}
				return int(y.LogIndex - x.LogIndex)
			})

			since, until := base.Add(10*time.Minute), base.Add(30*time.Minute)
			inWindow := func(ev store.Event) bool { return !ev.At.Before(since) && ev.At.Before(until) }
			any := func(store.Event, string) bool { return true }
			cases := []historyCase{
				{"owner, everything", own, store.EventFilter{}, any},
				{"site", own, store.EventFilter{SiteID: a.site2.ID}, func(_ store.Event, s string) bool { return s == a.site2.ID }},
				{"key set", own, store.EventFilter{KeySetID: a.ks2.ID}, func(ev store.Event, _ string) bool { return ev.KeySetID == a.ks2.ID }},
				{"member", own, store.EventFilter{ActorID: a.contractor.ID}, func(ev store.Event, _ string) bool { return ev.ActorID == a.contractor.ID }},
				{"kind", own, store.EventFilter{Kind: keycab.EventDoorOpened}, func(ev store.Event, _ string) bool { return ev.Kind == keycab.EventDoorOpened }},
				{"time range", own, store.EventFilter{Since: since, Until: until}, func(ev store.Event, _ string) bool { return inWindow(ev) }},
				{"site, kind and range", own, store.EventFilter{SiteID: a.site1.ID, Kind: keycab.EventKeyTaken, Since: since, Until: until},
					func(ev store.Event, s string) bool {
						return s == a.site1.ID && ev.Kind == keycab.EventKeyTaken && inWindow(ev)
					}},
				{"auditor", a.as(a.auditor), store.EventFilter{}, any},
				{"site manager: own sites and own events", a.as(a.manager), store.EventFilter{},
					func(ev store.Event, s string) bool { return s == a.site1.ID || ev.ActorID == a.manager.ID }},
				{"site manager asking for another site", a.as(a.manager), store.EventFilter{SiteID: a.site2.ID},
					func(ev store.Event, s string) bool { return s == a.site2.ID && ev.ActorID == a.manager.ID }},
				{"site manager asking for their site", a.as(a.manager), store.EventFilter{SiteID: a.site1.ID},
					func(_ store.Event, s string) bool { return s == a.site1.ID }},
				{"site manager asking for their own events", a.as(a.manager), store.EventFilter{ActorID: a.manager.ID},
					func(ev store.Event, _ string) bool { return ev.ActorID == a.manager.ID }},
				{"site manager asking for another member", a.as(a.manager), store.EventFilter{ActorID: a.staff.ID, Kind: keycab.EventKeyTaken},
					func(ev store.Event, s string) bool {
						return s == a.site1.ID && ev.ActorID == a.staff.ID && ev.Kind == keycab.EventKeyTaken
					}},
				{"staff: own events only", a.as(a.staff), store.EventFilter{}, func(ev store.Event, _ string) bool { return ev.ActorID == a.staff.ID }},
				{"staff asking for another member", a.as(a.staff), store.EventFilter{ActorID: a.admin.ID},
					func(ev store.Event, _ string) bool { return ev.ActorID == a.staff.ID }},
				{"contractor: own events only", a.as(a.contractor), store.EventFilter{KeySetID: a.ks1.ID},
					func(ev store.Event, _ string) bool { return ev.ActorID == a.contractor.ID && ev.KeySetID == a.ks1.ID }},
			}
			for _, c := range cases {
				var want []string
				for _, ev := range all {
					if c.want(ev, siteOf[ev.KioskID]) {
						want = append(want, eventKey(ev))
					}
				}
				if len(want) == 0 {
					t.Fatalf("%s: the fixture has no matching event; the case proves nothing", c.name)
				}
				got := readAllPages(t, f.s, c.as, c.f, 7)
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %d events\n%v\nwant %d\n%v", c.name, len(got), got, len(want), want)
				}
			}

			// Another tenant's owner sees only its own event.
			if got := readAllPages(t, f.s, f.b.as(f.b.owner), store.EventFilter{}, 7); len(got) != 1 || !strings.HasPrefix(got[0], f.b.kiosk1.ID+"/") {
				t.Errorf("tenant B sees %v, want its own one event", got)
			}
			// Kiosks have no history reads.
			_, err := f.s.ListEvents(ctx, a.kiosk(), store.EventFilter{})
			wantCode(t, err, keycab.EFORBIDDEN)
		})
	}
}

// readAllPages reads every page of a filter, n events a page, and checks
// that no page is longer than asked.
func readAllPages(tb testing.TB, s *store.Store, sc store.Scope, f store.EventFilter, n int) []string {
	tb.Helper()
	var out []string
	f.Limit = n
	for range 1000 {
		page := must[[]store.Event](tb)(s.ListEvents(context.Background(), sc, f))
		if len(page) > n {
			tb.Fatalf("a page of %d holds %d events", n, len(page))
		}
		for _, ev := range page {
			out = append(out, eventKey(ev))
		}
		if len(page) < n {
			return out
		}
		f.Before = &page[len(page)-1]
	}
	tb.Fatal("more than 1000 pages")
	return nil
}

func eventKey(e store.Event) string { return fmt.Sprintf("%s/%d", e.KioskID, e.LogIndex) }

// TestHistoryPlans checks on SQLite, whose planner needs no statistics to
// choose, that each filter of the history page reads its own index in
// page order: no full scan of the events and no sort of them.
func TestHistoryPlans(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, engines()[0])
	a := f.a
	own := a.as(a.owner)
	for _, c := range []struct {
		name  string
		as    store.Scope
		f     store.EventFilter
		index string
	}{
		{"everything", own, store.EventFilter{}, "events_at"},
		{"range", own, store.EventFilter{Since: time.Unix(100, 0), Until: time.Unix(200, 0)}, "events_at"},
		{"site", own, store.EventFilter{SiteID: a.site1.ID}, "events_site"},
		{"key set", own, store.EventFilter{KeySetID: a.ks1.ID, Since: time.Unix(100, 0)}, "events_key_set"},
		{"member", own, store.EventFilter{ActorID: a.staff.ID}, "events_actor"},
		{"staff", a.as(a.staff), store.EventFilter{}, "events_actor"},
		{"site and kind: the site leads", own, store.EventFilter{Kind: keycab.EventKeyTaken, SiteID: a.site1.ID}, "events_site"},
		{"key set, member and kind: the key set leads", own, store.EventFilter{Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID}, "events_key_set"},
		{"staff and kind: the member leads", a.as(a.staff), store.EventFilter{Kind: keycab.EventKeyTaken}, "events_actor"},
		{"kind, page 2", own, store.EventFilter{Kind: keycab.EventAlarmRaised, Before: &store.Event{KioskID: "k", LogIndex: 3, At: time.Unix(500, 0)}}, "events_kind"},
	} {
		plan := must[string](t)(f.s.ExplainEvents(ctx, c.as, c.f))
		if !strings.Contains(plan, "USING INDEX "+c.index+" ") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: want a read of %s in page order, got plan:\n%s", c.name, c.index, plan)
		}
	}
	// A scoped site manager's page merges a branch per site and one for
	// their own events, each its own index in page order.
	plan := must[string](t)(f.s.ExplainEvents(ctx, a.as(a.manager), store.EventFilter{Since: time.Unix(100, 0)}))
	if !strings.Contains(plan, "USING INDEX events_site ") || !strings.Contains(plan, "USING INDEX events_actor ") {
		t.Errorf("site manager: want branches on events_site and events_actor, got plan:\n%s", plan)
	}
}
