package audit_test

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab/audit"
)

// Tile paths parse back to their tiles, and TileInTree accepts exactly the
// tiles a tree of that size has (and narrower ones of them), for hash
// tiles and entry bundles.
func TestTilePathsAndTree(t *testing.T) {
	for _, n := range []int64{1, 2, 255, 256, 257, 65535, 65536, 65537, 256_000, 257_000} {
		have := map[tlog.Tile]bool{}
		for _, tl := range tlog.NewTiles(audit.TileHeight, 0, n) {
			for _, x := range []tlog.Tile{tl, {H: tl.H, L: -1, N: tl.N, W: tl.W}} {
				if x.L == -1 && tl.L != 0 {
					continue
				}
				p := audit.TilePath(x)
				got, err := audit.ParseTilePath(p)
				if err != nil || got != x {
					t.Fatalf("size %d: %s parsed as %+v, %v; want %+v", n, p, got, err, x)
				}
				if !audit.TileInTree(x, n) {
					t.Errorf("size %d: %s not in the tree", n, p)
				}
				have[x] = true
				if x.W > 1 {
					narrower := x
					narrower.W--
					if !audit.TileInTree(narrower, n) {
						t.Errorf("size %d: %s (narrower) not in the tree", n, audit.TilePath(narrower))
					}
				}
			}
		}
		// The tiles of one more entry that this tree does not have.
		for _, tl := range tlog.NewTiles(audit.TileHeight, n, n+1) {
			if !have[tl] && audit.TileInTree(tl, n) {
				t.Errorf("size %d: %s is beyond the tree but accepted", n, audit.TilePath(tl))
			}
		}
	}
	for _, bad := range []string{"tile/", "tile/0", "tile/0/", "tile/-1/000", "tile/0/1", "tile/0/000.p/0", "tile/0/000.p/256", "tile/x/000",
		"tile/entries/", "tile/data/000", "checkpoint", "tile/0/000/", "tile/64/000"} {
		if tl, err := audit.ParseTilePath(bad); err == nil && audit.TileInTree(tl, 1<<40) {
			t.Errorf("%q parsed as %+v", bad, tl)
		}
	}
}

// Entry bundles round-trip, and damaged ones are refused.
func TestEntryBundle(t *testing.T) {
	leaves := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("z"), 300)}
	b, err := audit.EntryBundle(leaves)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.ParseEntryBundle(b)
	if err != nil || !slices.EqualFunc(got, leaves, bytes.Equal) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	for _, cut := range []int{1, 4, len(b) - 1} { // inside a length, inside an entry
		if _, err := audit.ParseEntryBundle(b[:cut]); err == nil {
			t.Errorf("bundle cut at %d accepted", cut)
		}
	}
	if _, err := audit.EntryBundle([][]byte{make([]byte, audit.MaxLeafSize+1)}); err == nil {
		t.Error("oversized entry bundled")
	}
}
