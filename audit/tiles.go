package audit

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// EntryReaderFunc adapts a function to an EntryReader.
type EntryReaderFunc func(start, end int64) ([][]byte, error)

// ReadEntries calls f.
func (f EntryReaderFunc) ReadEntries(start, end int64) ([][]byte, error) { return f(start, end) }

// EntryBundle encodes leaves as a C2SP tlog-tiles entry bundle: each
// entry as a big-endian uint16 length and its bytes.
func EntryBundle(leaves [][]byte) ([]byte, error) {
	var bundle []byte
	for i, l := range leaves {
		if len(l) > MaxLeafSize {
			return nil, fmt.Errorf("entry %d of the bundle is %d bytes, more than a bundle allows", i, len(l))
		}
		bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(l)))
		bundle = append(bundle, l...)
	}
	return bundle, nil
}

// ParseEntryBundle splits an entry bundle into its entries.
func ParseEntryBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry bundle: entry %d: truncated length", len(out))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry bundle: entry %d: %d bytes announced, %d left", len(out), n, len(b)-2)
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}

// ParseTilePath parses a C2SP tlog-tiles path made by TilePath: a hash
// tile "tile/L/N[.p/W]" or an entry bundle "tile/entries/N[.p/W]" (L -1),
// where N is tlog's three-digit path form.
func ParseTilePath(p string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok || strings.HasPrefix(rest, "data/") {
		return tlog.Tile{}, fmt.Errorf("malformed tile path %q", p)
	}
	h := strconv.Itoa(TileHeight)
	if e, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest = "data/" + e
	}
	t, err := tlog.ParseTilePath("tile/" + h + "/" + rest)
	if err != nil || t.L > 63 {
		return tlog.Tile{}, fmt.Errorf("malformed tile path %q", p)
	}
	return t, nil
}

// TileInTree reports whether every hash of t (or, for an entry bundle,
// every entry) exists in a tree of the given size.
func TileInTree(t tlog.Tile, size int64) bool {
	level := max(t.L, 0) * t.H
	if t.W < 1 || t.W > 1<<uint(t.H) || t.N < 0 || t.N > size || level > 62 {
		return false
	}
	return t.N<<uint(t.H)+int64(t.W) <= size>>uint(level)
}

// ReadTile returns the contents of hash tile t, or of entry bundle t when
// t.L is -1, from a log's stored hashes and entries.
func ReadTile(t tlog.Tile, hashes tlog.HashReader, entries EntryReader) ([]byte, error) {
	if t.L != -1 {
		data, err := tlog.ReadTileData(t, hashes)
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", TilePath(t), err)
		}
		return data, nil
	}
	start := t.N << uint(t.H)
	leaves, err := entries.ReadEntries(start, start+int64(t.W))
	if err != nil {
		return nil, fmt.Errorf("entries from %d: %w", start, err)
	}
	if len(leaves) != t.W {
		return nil, fmt.Errorf("entries from %d: %d of %d", start, len(leaves), t.W)
	}
	b, err := EntryBundle(leaves)
	if err != nil {
		return nil, fmt.Errorf("entries from %d: %w", start, err)
	}
	return b, nil
}

// TileFetcher returns the file at a tlog-tiles path ("checkpoint",
// "tile/0/000", "tile/entries/000.p/5", ...), from a directory or a URL.
type TileFetcher func(path string) ([]byte, error)

// TilesResult is what VerifyTiles found.
type TilesResult struct {
	Signed     []byte // the checkpoint file as fetched
	Checkpoint Checkpoint
	Entries    int64
}

// VerifyTiles verifies a log served as C2SP tlog-tiles: the checkpoint's
// signature by v, then every entry in order, recomputing the tree and
// comparing each stored hash the hash tiles hold and, at the end, the
// checkpoint's root. The first fault is a *Problem naming the entry.
// With decode set every entry must also parse as an event. Each of more
// (an export's cosigned checkpoints: CosignedDir) must be signed by v and
// match the tree at its size too.
func VerifyTiles(fetch TileFetcher, v note.Verifier, decode bool, more ...[]byte) (TilesResult, error) {
	signed, err := fetch("checkpoint")
	if err != nil {
		return TilesResult{}, fmt.Errorf("fetch checkpoint: %w", err)
	}
	cp, _, err := OpenCheckpoint(signed, v)
	if err != nil {
		return TilesResult{}, &Problem{Index: -1, What: "checkpoint: " + err.Error()}
	}
	c := NewChecker(v, decode)
	for _, msg := range append([][]byte{signed}, more...) {
		if err := c.Checkpoint(msg); err != nil {
			return TilesResult{}, err
		}
	}
	width := map[[2]int64]int{}
	for _, t := range tlog.NewTiles(TileHeight, 0, cp.Size) {
		width[[2]int64{int64(t.L), t.N}] = t.W
	}
	cache := map[[2]int64][]byte{}
	tile := func(l int, n int64) (tlog.Tile, []byte, error) {
		key := [2]int64{int64(l), n}
		t := tlog.Tile{H: TileHeight, L: l, N: n, W: width[[2]int64{int64(max(l, 0)), n}]}
		if t.W == 0 {
			return t, nil, fmt.Errorf("tile %d/%d is not in a tree of %d entries", l, n, cp.Size)
		}
		if data, ok := cache[key]; ok {
			return t, data, nil
		}
		data, err := fetch(TilePath(t))
		if err != nil {
			return t, nil, fmt.Errorf("fetch %s: %w", TilePath(t), err)
		}
		if l >= 0 && len(data) != t.W*tlog.HashSize {
			return t, nil, &Problem{Index: n << uint(TileHeight*(l+1)), What: fmt.Sprintf("hash tile %s is %d bytes, want %d", TilePath(t), len(data), t.W*tlog.HashSize)}
		}
		cache[key] = data
		return t, data, nil
	}
	for n := int64(0); n<<TileHeight < cp.Size; n++ {
		for k := range cache { // level-0 tiles before this one are done with
			if k[0] <= 0 && k[1] < n {
				delete(cache, k)
			}
		}
		bt, bundle, err := tile(-1, n)
		if err != nil {
			return TilesResult{}, err
		}
		leaves, err := ParseEntryBundle(bundle)
		if err != nil || len(leaves) != bt.W {
			if err == nil {
				err = fmt.Errorf("%d entries, want %d", len(leaves), bt.W)
			}
			return TilesResult{}, &Problem{Index: n << TileHeight, What: fmt.Sprintf("entry bundle %s: %v", TilePath(bt), err)}
		}
		for j, leaf := range leaves {
			i := n<<TileHeight + int64(j)
			var hs []tlog.Hash
			for level := 0; level == 0 || (i+1)%(1<<level) == 0; level++ {
				x := tlog.StoredHashIndex(level, i>>uint(level))
				tf := tlog.TileForIndex(TileHeight, x)
				t, data, err := tile(tf.L, tf.N)
				if err != nil {
					return TilesResult{}, err
				}
				h, err := tlog.HashFromTile(t, data, x)
				if err != nil {
					return TilesResult{}, &Problem{Index: i, What: fmt.Sprintf("tree hash at level %d: %v", level, err)}
				}
				hs = append(hs, h)
			}
			if err := c.Entry(i, leaf, EncodeHashes(hs)); err != nil {
				return TilesResult{}, err
			}
		}
	}
	size, _, err := c.Finish()
	if err != nil {
		return TilesResult{}, err
	}
	if size != cp.Size {
		return TilesResult{}, &Problem{Index: size, What: fmt.Sprintf("the tiles hold %d entries, the checkpoint %d", size, cp.Size)}
	}
	return TilesResult{Signed: signed, Checkpoint: cp, Entries: size}, nil
}
