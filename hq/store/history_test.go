package store_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
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

// TestHistoryPlans checks, on both engines and on a fresh database
// without statistics (no ANALYZE has run, as in a service that has just
// started or has never kept any), that each filter of the history page
// reads its own index in page order, with no full scan of the events and
// no sort of them, and that EventTimes looks a page's events up by their
// primary key. Without statistics SQLite once chose events_at for a date
// range with a site or a member (100 ms a page at 1M events), and a
// read of the organisation's events for EventTimes' 51 ORed lookups
// (seconds per dashboard history page).
//
// On SQLite the same plans are checked with the statistics the store
// gathers itself (PRAGMA optimize when it opens again). Not on
// PostgreSQL: with statistics it rightly reads events_at for the
// fixture's site, which holds every event.
func TestHistoryPlans(t *testing.T) {
	for _, e := range engines() {
		for _, stats := range []bool{false, true} {
			if stats && e.Name == "postgres" {
				continue
			}
			name := e.Name
			if stats {
				name += "/statistics"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testHistoryPlans(t, e, stats)
			})
		}
	}
}

func testHistoryPlans(t *testing.T, e pgtest.Engine, stats bool) {
	ctx := context.Background()
	f := newFixture(t, e)
	a := f.a
	own := a.as(a.owner)
	pg := e.Name == "postgres"
	if pg {
		// No autovacuum either: it would ANALYZE the events under the
		// test's feet.
		_, err := openRaw(t, f.owner, "").ExecContext(ctx, `ALTER TABLE events SET (autovacuum_enabled = false)`)
		MustNoErr(t, err)
	}
	// Some history, so the planners see a table of a few pages: on an
	// empty one PostgreSQL costs every index alike.
	var evs []store.Event
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range 2000 {
		evs = append(evs, store.Event{LogIndex: int64(i), Kind: keycab.EventDoorOpened, At: base.Add(time.Duration(i) * time.Minute)})
	}
	MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), evs))
	if !stats {
		mustNoStatistics(t, f)
	} else {
		// The store's own statistics: Open runs PRAGMA optimize.
		MustNoErr(t, f.s.Close())
		f.s = MustOpen(t, f.appDSN)
		if n := statisticsRows(t, f); n == 0 {
			t.Fatal("no statistics on the events after the store opened again")
		}
	}

	uses := func(plan, index string) bool {
		if pg {
			return regexp.MustCompile(`(Index|Index Only) Scan( Backward)? using (`+index+`) on events`).MatchString(plan) &&
				!strings.Contains(plan, "Sort") && !strings.Contains(plan, "Seq Scan on events")
		}
		return strings.Contains(plan, "USING INDEX "+index+" ") && !strings.Contains(plan, "TEMP B-TREE")
	}
	month := store.EventFilter{Since: base, Until: base.AddDate(0, 0, 30)}
	withMonth := func(f store.EventFilter) store.EventFilter {
		f.Since, f.Until = month.Since, month.Until
		return f
	}
	for _, c := range []struct {
		name  string
		as    store.Scope
		f     store.EventFilter
		index string
		// pgAlso are the other indexes PostgreSQL may choose when
		// several equalities are set: there its statistics pick the
		// most selective, and without statistics any of them reads
		// the page in page order ("pg: needs statistics": not checked
		// on PostgreSQL).
		pgAlso string
	}{
		// On PostgreSQL without statistics the organisation's share of
		// the events is a guess (0.5%), so the unfiltered page sorts
		// what it takes for a few rows; autovacuum analyzes a table once
		// a tenth of it has changed, and with statistics the page is a
		// backward read of events_at (docs/PERFORMANCE.md).
		{"everything", own, store.EventFilter{}, "events_at", "pg: needs statistics"},
		{"range", own, month, "events_at", ""},
		{"site", own, store.EventFilter{SiteID: a.site1.ID}, "events_site", ""},
		{"site and range", own, withMonth(store.EventFilter{SiteID: a.site1.ID}), "events_site", ""},
		{"site, kind and range: the site leads", own, withMonth(store.EventFilter{SiteID: a.site1.ID, Kind: keycab.EventKeyTaken}), "events_site", "events_kind"},
		{"key set", own, store.EventFilter{KeySetID: a.ks1.ID, Since: base}, "events_key_set", ""},
		{"key set and range", own, withMonth(store.EventFilter{KeySetID: a.ks1.ID}), "events_key_set", ""},
		{"member", own, store.EventFilter{ActorID: a.staff.ID}, "events_actor", ""},
		{"member and range", own, withMonth(store.EventFilter{ActorID: a.staff.ID}), "events_actor", ""},
		{"kind and range", own, withMonth(store.EventFilter{Kind: keycab.EventKeyTaken}), "events_kind", ""},
		{"staff", a.as(a.staff), store.EventFilter{}, "events_actor", ""},
		{"staff and range", a.as(a.staff), month, "events_actor", ""},
		{"site and kind: the site leads", own, store.EventFilter{Kind: keycab.EventKeyTaken, SiteID: a.site1.ID}, "events_site", "events_kind"},
		{"key set, member and kind: the key set leads", own, store.EventFilter{Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID}, "events_key_set", "events_actor|events_kind"},
		{"staff and kind: the member leads", a.as(a.staff), store.EventFilter{Kind: keycab.EventKeyTaken}, "events_actor", "events_kind"},
		{"kind, page 2", own, store.EventFilter{Kind: keycab.EventAlarmRaised, Before: &store.Event{KioskID: "k", LogIndex: 3, At: time.Unix(500, 0)}}, "events_kind", ""},
		{"site and range, page 2", own, withMonth(store.EventFilter{SiteID: a.site1.ID, Before: &evs[100]}), "events_site", ""},
	} {
		plan := must[string](t)(f.s.ExplainEvents(ctx, c.as, c.f))
		if pg && c.pgAlso == "pg: needs statistics" {
			continue
		}
		index := c.index
		if pg && c.pgAlso != "" {
			index += "|" + c.pgAlso
		}
		if !uses(plan, index) {
			t.Errorf("%s: want a read of %s in page order, got plan:\n%s", c.name, c.index, plan)
		}
	}
	// A scoped site manager's page merges a branch per site and one for
	// their own events, each its own index in page order.
	plan := must[string](t)(f.s.ExplainEvents(ctx, a.as(a.manager), store.EventFilter{Since: time.Unix(100, 0)}))
	if !strings.Contains(plan, "events_site") || !strings.Contains(plan, "events_actor") || strings.Contains(plan, "Seq Scan on events") {
		t.Errorf("site manager: want branches on events_site and events_actor, got plan:\n%s", plan)
	}

	// EventTimes for a page of 51: every event by its primary key, and
	// nothing else read of the events.
	page := must[[]store.Event](t)(f.s.ListEvents(ctx, own, store.EventFilter{Limit: 51}))
	if len(page) != 51 {
		t.Fatalf("a page holds %d events, want 51", len(page))
	}
	plan = must[string](t)(f.s.KioskLogs().ExplainEventTimes(ctx, own, page))
	var lookups int
	for _, line := range strings.Split(plan, "\n") {
		switch {
		case pg && strings.Contains(line, " on events "):
			if !regexp.MustCompile(`Index Scan using events_pkey on events`).MatchString(line) {
				t.Errorf("event times: a read of events other than a primary-key lookup: %q", line)
			}
			lookups++
		case !pg && strings.Contains(line, "events AS e") || !pg && strings.Contains(line, " e USING") || !pg && strings.HasPrefix(strings.TrimSpace(line), "SCAN e"):
			// The primary key of a table with a text key is its
			// automatic index.
			if !strings.Contains(line, "USING INDEX sqlite_autoindex_events_1 (org_id=? AND kiosk_id=? AND log_index=?)") {
				t.Errorf("event times: a read of events other than a primary-key lookup: %q", line)
			}
			lookups++
		}
	}
	if lookups == 0 {
		t.Errorf("event times: no primary-key lookup of events in plan:\n%s", plan)
	}
	if t.Failed() {
		t.Logf("event times plan:\n%s", plan)
	}
}

// mustNoStatistics fails unless f's database has no planner statistics
// for the events, so TestHistoryPlans sees the plans of a database no
// ANALYZE has run on.
func mustNoStatistics(tb testing.TB, f *fixture) {
	tb.Helper()
	if n := statisticsRows(tb, f); n > 0 {
		tb.Fatalf("the database holds %d rows of statistics on events: the plans checked are not those without statistics", n)
	}
}

// statisticsRows counts the planner's statistics on the events:
// sqlite_stat1 rows on SQLite; on PostgreSQL the ANALYZE runs of the
// table, manual and automatic (pg_stats hides a table under row-level
// security).
func statisticsRows(tb testing.TB, f *fixture) int {
	tb.Helper()
	c := openRaw(tb, f.owner, f.a.org.ID)
	var n int
	q := `SELECT coalesce(sum(analyze_count + autoanalyze_count), 0) FROM pg_stat_user_tables WHERE relname = 'events'`
	if strings.HasPrefix(f.owner, "sqlite:") {
		var tables int
		MustNoErr(tb, c.QueryRowContext(context.Background(), `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'`).Scan(&tables))
		if tables == 0 {
			return 0
		}
		q = `SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'events'`
	}
	MustNoErr(tb, c.QueryRowContext(context.Background(), q).Scan(&n))
	return n
}
