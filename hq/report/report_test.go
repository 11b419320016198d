package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/report"
	"keycab.dev/keycab/hq/store"
)

// Build over two days: a take returned late, a key out when the period
// began, a hand-over splitting the time held, a key still out and
// overdue at the end; times, utilisation, overdue counts and days add up.
func TestBuild(t *testing.T) {
	day1 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day1.Add(time.Duration(h) * time.Hour) }
	f := report.Filter{Since: day1, Until: at(48)}
	ev := func(h int, kind keycab.EventKind, ks, actor string, opt ...func(*store.Event)) store.Event {
		e := store.Event{At: at(h), Kind: kind, KeySetID: ks, ActorID: actor}
		for _, o := range opt {
			o(&e)
		}
		return e
	}
	due := func(h int) func(*store.Event) { return func(e *store.Event) { e.DueAt = at(h) } }
	to := func(m string) func(*store.Event) { return func(e *store.Event) { e.SecondID = m } }
	events := []store.Event{
		ev(14, keycab.EventKeyReturned, "A", "m1"),
		ev(10, keycab.EventKeyTaken, "A", "m1", due(12)),
		ev(2, keycab.EventKeyReturned, "B", "m2"),
		ev(8, keycab.EventKeyTaken, "D", "m1", due(20)),
		ev(9, keycab.EventKeyHandedOver, "D", "m3", to("m2")),
		ev(11, keycab.EventKeyReturned, "D", "m2"),
		ev(44, keycab.EventKeyTaken, "C", "m1", due(46)),
		ev(50, keycab.EventKeyTaken, "A", "m1"), // after the period
	}
	// E: taken before the period, no event since, out now: out all along.
	current := []store.Holding{{Checkout: keycab.Checkout{KeySetID: "E", MemberID: "m2", TakenAt: at(-5), DueAt: at(-1)}}}
	// F: taken before, returned after the period: out all along too.
	events = append(events, ev(52, keycab.EventKeyReturned, "F", "m3"))
	u := report.Build(f, at(60), events, current, map[string]string{"A": "1 High St", "C": "=cmd"}, map[string]string{"m1": "Ann", "m2": "Ben"})
	if u.Hours != 48 {
		t.Fatalf("hours %v", u.Hours)
	}
	ks := map[string]report.KeySetUsage{}
	for _, k := range u.KeySets {
		ks[k.ID] = k
	}
	for id, want := range map[string]struct {
		takes   int
		out     time.Duration
		overdue int
	}{
		"A": {1, 4 * time.Hour, 1}, "B": {0, 2 * time.Hour, 0}, "C": {1, 4 * time.Hour, 1}, "D": {1, 3 * time.Hour, 0},
		"E": {0, 48 * time.Hour, 1}, "F": {0, 48 * time.Hour, 0},
	} {
		k := ks[id]
		if k.Takes != want.takes || k.Out != want.out || k.Overdue != want.overdue {
			t.Errorf("key set %s: %+v, want %+v", id, k, want)
		}
	}
	if a := ks["A"]; a.Label != "1 High St" || a.Utilisation != 4.0/48 {
		t.Errorf("A: %+v", a)
	}
	ms := map[string]report.MemberUsage{}
	for _, m := range u.Members {
		ms[m.ID] = m
	}
	if m := ms["m1"]; m.Takes != 3 || m.Held != 9*time.Hour || m.Overdue != 2 || m.Name != "Ann" {
		t.Errorf("m1: %+v", m)
	}
	if m := ms["m2"]; m.Takes != 0 || m.Held != 52*time.Hour || m.Overdue != 1 {
		t.Errorf("m2: %+v", m)
	}
	if len(u.Days) != 2 || u.Days[0].Takes != 2 || u.Days[0].Returns != 3 || u.Days[0].Overdue != 2 || u.Days[1].Takes != 1 || u.Days[1].Overdue != 2 {
		t.Errorf("days: %+v", u.Days)
	}
	var b bytes.Buffer
	if err := u.WriteCSV(&b, report.ByKeySet); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "C,'=cmd,1,4.00,8.3,1\n") || !strings.HasPrefix(b.String(), "key_set_id,key_set,takes,hours_out,utilisation_percent,overdue\n") {
		t.Errorf("CSV:\n%s", b.String())
	}
	if err := u.WriteCSV(&b, "nope"); keycab.ErrorCode(err) != keycab.EINVALID {
		t.Errorf("unknown table: %v", err)
	}
	for _, bad := range []report.Filter{{}, {Since: at(2), Until: at(1)}, {Since: day1, Until: day1.AddDate(2, 0, 0)}} {
		if err := bad.Validate(); keycab.ErrorCode(err) != keycab.EINVALID {
			t.Errorf("filter %+v: %v", bad, err)
		}
	}
}
