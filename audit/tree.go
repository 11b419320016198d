package audit

import (
	"database/sql"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Frontier holds the hashes of the complete subtrees that make up a tree
// of Size leaves: all that is needed to append the next leaf and to
// compute the root, in O(log n) memory. It implements tlog.HashReader for
// exactly those hashes, so tlog.StoredHashes and tlog.TreeHash do the
// hashing.
type Frontier struct {
	size    int64
	indexes []int64 // stored hash indexes, ascending
	hashes  []tlog.Hash
}

var _ tlog.HashReader = (*Frontier)(nil)

// FrontierIndexes returns the stored hash indexes of the frontier of a
// tree of size n, ascending.
func FrontierIndexes(n int64) []int64 {
	var idx []int64
	for l := 62; l >= 0; l-- {
		if n&(1<<l) != 0 {
			idx = append(idx, tlog.StoredHashIndex(l, (n>>l)-1))
		}
	}
	return idx
}

// NewFrontier returns the frontier of a tree of size n, reading its
// hashes from r (nothing is read when n is 0).
func NewFrontier(n int64, r tlog.HashReader) (*Frontier, error) {
	f := &Frontier{size: n, indexes: FrontierIndexes(n)}
	if len(f.indexes) == 0 {
		return f, nil
	}
	h, err := r.ReadHashes(f.indexes)
	if err != nil {
		return nil, fmt.Errorf("read tree frontier at size %d: %w", n, err)
	}
	if len(h) != len(f.indexes) {
		return nil, fmt.Errorf("read tree frontier at size %d: got %d hashes, want %d", n, len(h), len(f.indexes))
	}
	f.hashes = h
	return f, nil
}

// Size returns the number of leaves the frontier covers.
func (f *Frontier) Size() int64 { return f.size }

// ReadHashes implements tlog.HashReader for the frontier's hashes.
func (f *Frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		found := false
		for j, y := range f.indexes {
			if x == y {
				out[i], found = f.hashes[j], true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("hash %d is not on the frontier of a tree of size %d", x, f.size)
		}
	}
	return out, nil
}

// Next returns the hashes to store for the leaf at index f.Size(), as
// tlog.StoredHashes does, without changing f.
func (f *Frontier) Next(leaf []byte) ([]tlog.Hash, error) {
	return tlog.StoredHashes(f.size, leaf, f)
}

// Advance moves the frontier past one leaf whose stored hashes are
// hashes (as returned by Next).
func (f *Frontier) Advance(hashes []tlog.Hash) {
	n := f.size
	base := tlog.StoredHashIndex(0, n)
	// The leaf completes len(hashes)-1 subtrees: they replace the frontier's
	// last len(hashes)-1 entries, and the top one joins the frontier.
	k := len(hashes) - 1
	f.indexes = append(f.indexes[:len(f.indexes)-k], base+int64(k))
	f.hashes = append(f.hashes[:len(f.hashes)-k], hashes[k])
	f.size = n + 1
}

// Root returns the root hash of the tree of f.Size() leaves.
func (f *Frontier) Root() tlog.Hash {
	h, err := tlog.TreeHash(f.size, f)
	if err != nil {
		// The frontier holds exactly the hashes TreeHash reads.
		panic(fmt.Sprintf("audit: frontier of size %d incomplete: %v", f.size, err))
	}
	return h
}

// Clone returns an independent copy of f.
func (f *Frontier) Clone() *Frontier {
	return &Frontier{
		size:    f.size,
		indexes: append([]int64(nil), f.indexes...),
		hashes:  append([]tlog.Hash(nil), f.hashes...),
	}
}

// EncodeHashes packs the stored hashes of one leaf for storage.
func EncodeHashes(hs []tlog.Hash) []byte {
	b := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// DecodeHashes unpacks what EncodeHashes packed.
func DecodeHashes(b []byte) ([]tlog.Hash, error) {
	if len(b) == 0 || len(b)%tlog.HashSize != 0 {
		return nil, fmt.Errorf("stored hashes are %d bytes, not a positive multiple of %d", len(b), tlog.HashSize)
	}
	hs := make([]tlog.Hash, len(b)/tlog.HashSize)
	for i := range hs {
		copy(hs[i][:], b[i*tlog.HashSize:])
	}
	return hs, nil
}

// HashLocation says where the stored hash with the given index lives when
// each leaf's stored hashes are kept together (as the store does): in the
// hashes of leaf `leaf`, at position `pos`.
func HashLocation(index int64) (leaf int64, pos int) {
	level, n := tlog.SplitStoredHashIndex(index)
	return (n+1)<<uint(level) - 1, level
}

// GroupedHashReader returns a tlog.HashReader for a database that keeps
// each leaf's stored hashes together (EncodeHashes), as the kiosk's and
// HQ's stores do. query selects the rows (leaf index, packed hashes) of
// the given leaf indexes, asked for in batches of at most batch;
// HashLocation maps every wanted hash to its leaf.
func GroupedHashReader(batch int, query func(leaves []int64) (*sql.Rows, error)) tlog.HashReader {
	load := func(leaves []int64, found func(leaf int64, packed []byte) error) error {
		rows, err := query(leaves)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var leaf int64
			var packed []byte
			if err := rows.Scan(&leaf, &packed); err != nil {
				return err
			}
			if err := found(leaf, packed); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		groups := map[int64][]tlog.Hash{}
		var need []int64
		for _, x := range indexes {
			leaf, _ := HashLocation(x)
			if _, ok := groups[leaf]; !ok {
				groups[leaf] = nil
				need = append(need, leaf)
			}
		}
		for len(need) > 0 {
			b := need[:min(len(need), batch)]
			need = need[len(b):]
			err := load(b, func(leaf int64, packed []byte) error {
				hs, err := DecodeHashes(packed)
				if err != nil {
					return fmt.Errorf("entry %d: %w", leaf, err)
				}
				groups[leaf] = hs
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			leaf, pos := HashLocation(x)
			hs := groups[leaf]
			if hs == nil {
				return nil, fmt.Errorf("tree hash %d: entry %d is missing", x, leaf)
			}
			if pos >= len(hs) {
				return nil, fmt.Errorf("tree hash %d: entry %d stores only %d hashes", x, leaf, len(hs))
			}
			out[i] = hs[pos]
		}
		return out, nil
	})
}
