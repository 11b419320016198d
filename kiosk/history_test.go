package kiosk_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/store"
)

// countingLog is the real store, counting the log entries it hands over
// (each of which History decodes).
type countingLog struct {
	*store.DB
	read int
}

func (l *countingLog) Recent(ctx context.Context, before int64, n int, fn func(store.Entry) error) error {
	return l.DB.Recent(ctx, before, n, func(e store.Entry) error { l.read++; return fn(e) })
}

func (l *countingLog) Scan(ctx context.Context, start, end int64, fn func(store.Entry) error) error {
	return l.DB.Scan(ctx, start, end, func(e store.Entry) error { l.read++; return fn(e) })
}

// mustAppendWorkload appends n entries of the workload (internal/workload), a thousand
// to a transaction.
func mustAppendWorkload(tb testing.TB, d *store.DB, n int) {
	tb.Helper()
	w := workload.New(3)
	for done := 0; done < n; {
		recs := make([]store.Record, min(1000, n-done))
		for i := range recs {
			recs[i] = w.Next()
		}
		if _, err := d.Append(context.Background(), recs...); err != nil {
			tb.Fatal(err)
		}
		done += len(recs)
	}
}

// TestHistoryAsBefore holds History, which reads the log from its end, to
// the results of reading and decoding the whole log, for filters that
// match often, rarely (several pages back) and never.
func TestHistoryAsBefore(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.take("BADGE-BEN", "ks-2", 2)
	r.toIdle()
	mustAppendWorkload(t, r.db, 3000)
	ctx := context.Background()
	for _, f := range []kiosk.HistoryFilter{
		{}, {Limit: 1}, {Limit: 7}, {Limit: 5000},
		{Kind: keycab.EventKeyTaken}, {Kind: keycab.EventKeyReturned, Limit: 3},
		{KeySet: "ks7"}, {Member: "m3", Limit: 250},
		{KeySet: "ks-1"}, {Member: "m-ben", Limit: 1}, {Member: "m-ben", Kind: keycab.EventKeyTaken},
		{Member: "m-nobody"},
	} {
		want, err := r.c.HistoryByScan(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.c.History(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: History gives %d entries, reading the whole log %d; first difference at %d", f, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []kiosk.HistoryItem) int {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestHistoryReadsOnlyTheNewest opens the History tab on a log of 50,000
// entries: it reads and decodes the newest Limit entries, not the log.
func TestHistoryReadsOnlyTheNewest(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 50,000 entries")
	}
	r := newRig(t, testConfig(t))
	const n = 50000
	mustAppendWorkload(t, r.db, n)
	size := r.db.Size()
	ctx := context.Background()
	for _, limit := range []int{0, 10, 1000} {
		l := &countingLog{DB: r.db}
		items, err := r.c.HistoryFrom(ctx, l, kiosk.HistoryFilter{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		want := limit
		if limit == 0 {
			want = 100
		}
		if len(items) != want || items[0].Index != size-1 || items[want-1].Index != size-int64(want) {
			t.Fatalf("limit %d: %d entries, %+v first", limit, len(items), items[:min(1, len(items))])
		}
		if l.read != want {
			t.Errorf("limit %d: History read %d entries of a log of %d to show %d", limit, l.read, size, want)
		}
	}
}

// TestHistoryPlainWords: History carries each entry in the shared
// staff-facing words (keycab.Describe), never a kind's or a detail's
// internal name.
func TestHistoryPlainWords(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	items, err := r.c.History(context.Background(), kiosk.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[keycab.EventKind]string{}
	for _, it := range items {
		texts[it.Kind] = it.Text
		if it.Text == "" || strings.Contains(it.Text, string(it.Kind)) {
			t.Errorf("entry %d (%s) reads %q", it.Index, it.Kind, it.Text)
		}
	}
	if texts[keycab.EventIdentified] != "Signed in with a badge" || texts[keycab.EventKeyTaken] != "Key taken" {
		t.Fatalf("history texts %v", texts)
	}
}
