package store_test

import (
	"bytes"
	"testing"

	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// TestRecent reads the log backwards in pages and finds the same entries
// as Scan, newest first, never more than asked for.
func TestRecent(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	mustAppend(t, d, 250)
	var all []store.Entry
	if err := d.Scan(ctx, 0, -1, func(e store.Entry) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{1, 7, 100, 1000} {
		var got []store.Entry
		for before := int64(-1); ; {
			n := 0
			err := d.Recent(ctx, before, page, func(e store.Entry) error {
				n++
				before = e.Index
				got = append(got, e)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n > page {
				t.Fatalf("page %d: %d entries", page, n)
			}
			if n < page {
				break
			}
		}
		if len(got) != len(all) {
			t.Fatalf("page %d: %d entries, the log has %d", page, len(got), len(all))
		}
		for i, e := range got {
			w := all[len(all)-1-i]
			if e.Index != w.Index || !bytes.Equal(e.Leaf, w.Leaf) || !bytes.Equal(e.Hashes, w.Hashes) {
				t.Fatalf("page %d: entry %d is %d, want %d", page, i, e.Index, w.Index)
			}
		}
	}
	for _, c := range []struct {
		before int64
		n      int
		want   []int64
	}{{0, 5, nil}, {3, 5, []int64{2, 1, 0}}, {-1, 0, nil}, {-1, 2, []int64{int64(len(all)) - 1, int64(len(all)) - 2}}} {
		var got []int64
		if err := d.Recent(ctx, c.before, c.n, func(e store.Entry) error { got = append(got, e.Index); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) || (len(got) > 0 && (got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1])) {
			t.Errorf("Recent(%d, %d) = %v, want %v", c.before, c.n, got, c.want)
		}
	}
}
