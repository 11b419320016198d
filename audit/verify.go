package audit

import (
	"bytes"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Problem is the first thing found wrong with a log: the entry index it
// concerns and what is wrong there.
type Problem struct {
	Index int64 // entry index, or a checkpoint's size for checkpoint problems; -1 for none (a stored row no entry refers to)
	What  string
}

func (p *Problem) Error() string {
	if p.Index < 0 {
		return p.What
	}
	return fmt.Sprintf("entry %d: %s", p.Index, p.What)
}

// Checker recomputes a log from its entries and checks it against the
// stored hashes and every signed checkpoint. Give it the checkpoints first,
// then every entry in index order, then call Finish.
type Checker struct {
	v        note.Verifier
	keys     []LogKey // with a key chain: the key of each size (SetKeys)
	f        *Frontier
	pending  []Checkpoint // sorted by size, not yet reached
	decode   bool
	prev     tlog.Hash // leaf hash of the last entry
	breakAt  int64     // entry whose prev did not chain, or -1
	matched  int64     // size of the last checkpoint that matched
	Checked  int       // checkpoints whose root matched
	LastRoot tlog.Hash
}

// NewChecker returns a Checker for a log signed by v. With decode set it
// also parses every entry and rejects malformed ones; without, it checks
// the tree, the chain of prev hashes and the signatures, which is what
// tamper evidence rests on (an entry the writer encoded cannot change
// without changing its hash), at several times the speed.
func NewChecker(v note.Verifier, decode bool) *Checker {
	return &Checker{v: v, f: &Frontier{}, decode: decode, breakAt: -1}
}

// SetKeys gives the checker the log's key chain (see rotate.go): each
// checkpoint must then be signed by a key that covers its size.
func (c *Checker) SetKeys(keys []LogKey) { c.keys = keys }

// Open verifies a signed checkpoint with the log's key, or with a key
// chain the key (of those) that covers its size, and parses it.
func (c *Checker) Open(msg []byte) (Checkpoint, error) {
	if len(c.keys) == 0 {
		cp, _, err := OpenCheckpoint(msg, c.v)
		return cp, err
	}
	text, err := NoteText(msg)
	if err != nil {
		return Checkpoint{}, err
	}
	p, err := ParseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, err
	}
	err = fmt.Errorf("no key of the log signs checkpoints of size %d", p.Size)
	for _, k := range c.keys {
		if k.Covers(p.Size) {
			var cp Checkpoint
			if cp, _, err = OpenCheckpoint(msg, k.Verifier); err == nil {
				return cp, nil
			}
		}
	}
	return Checkpoint{}, err
}

// Checkpoint verifies one signed checkpoint's signature and queues it to be
// compared with the recomputed tree when the entries reach its size.
func (c *Checker) Checkpoint(msg []byte) error {
	text, _ := NoteText(msg)
	cp, err := c.Open(msg)
	if err != nil {
		size := int64(-1)
		if p, perr := ParseCheckpoint(text); perr == nil {
			size = p.Size
		}
		return &Problem{Index: size - 1, What: fmt.Sprintf("checkpoint at size %d: %v", size, err)}
	}
	if cp.Size < c.f.Size() {
		return fmt.Errorf("checkpoint at size %d given after %d entries", cp.Size, c.f.Size())
	}
	// Keep every distinct checkpoint, even two of one size: which of a
	// fork's two is the log's own shows when the entries reach that size,
	// and an earlier mismatch is reported first.
	i := sort.Search(len(c.pending), func(i int) bool { return c.pending[i].Size > cp.Size })
	for j := i - 1; j >= 0 && c.pending[j].Size == cp.Size; j-- {
		if c.pending[j].Root == cp.Root {
			return nil
		}
	}
	c.pending = append(c.pending, Checkpoint{})
	copy(c.pending[i+1:], c.pending[i:])
	c.pending[i] = cp
	if cp.Size == 0 {
		return c.reach()
	}
	return nil
}

// Entry checks the entry at index (which must be the next one) against its
// stored hashes, and any checkpoint whose size it reaches.
func (c *Checker) Entry(index int64, leaf, stored []byte) error {
	if index != c.f.Size() {
		if index > c.f.Size() {
			return &Problem{Index: c.f.Size(), What: fmt.Sprintf("missing (the next stored entry is %d)", index)}
		}
		return &Problem{Index: index, What: "stored twice"}
	}
	hs, err := c.f.Next(leaf)
	if err != nil {
		return &Problem{Index: index, What: err.Error()}
	}
	prev, err := c.prevOf(leaf)
	if err != nil {
		return &Problem{Index: index, What: err.Error()}
	}
	chained := (index == 0 && len(prev) == 0) || (index > 0 && bytes.Equal(prev, c.prev[:]))
	lastBroke := index > 0 && c.breakAt == index-1
	if !hashesEqual(hs, stored) {
		switch {
		case lastBroke:
			// The entry before did not chain, and this one's stored hashes
			// were made over other bytes for it: it was moved here whole.
			return c.outOfPlace(index - 1)
		case len(stored) >= tlog.HashSize && !bytes.Equal(hs[0][:], stored[:tlog.HashSize]):
			return &Problem{Index: index, What: "entry bytes do not match its stored leaf hash (entry changed)"}
		case !chained:
			// Bytes and leaf hash agree but neither fits here: the entry
			// was moved here whole, with the hashes of its old place.
			return c.outOfPlace(index)
		}
		return &Problem{Index: index, What: "stored tree hashes do not match the recomputed tree"}
	}
	switch {
	case !chained && lastBroke:
		// Neither this entry nor the one before chains: that one is out
		// of place (moved, inserted or replaced).
		return c.outOfPlace(index - 1)
	case !chained:
		c.breakAt = index
	case lastBroke:
		return c.changedBefore(c.breakAt)
	}
	c.prev = hs[0]
	c.f.Advance(hs)
	if err := c.reach(); err != nil {
		if c.breakAt == index {
			return c.changedBefore(index)
		}
		return err
	}
	return nil
}

func (c *Checker) outOfPlace(i int64) error {
	return &Problem{Index: i, What: "entry is out of place: it does not chain to the entry before it, nor the entry after it to it (entries moved, inserted or replaced)"}
}

// prevOf returns the prev field of an entry. With full decoding it parses
// the entry; otherwise it reads the field where the deterministic encoding
// puts it: key 14 is the largest key, so when present it is the last pair,
// the 35 bytes 0x0e 0x58 0x20 followed by the hash.
func (c *Checker) prevOf(leaf []byte) ([]byte, error) {
	if c.decode {
		ev, err := Decode(leaf)
		if err != nil {
			return nil, err
		}
		return ev.Prev, nil
	}
	if n := len(leaf); n >= 36 && leaf[n-35] == 0x0e && leaf[n-34] == 0x58 && leaf[n-33] == 0x20 {
		return leaf[n-32:], nil
	}
	return nil, nil
}

func hashesEqual(hs []tlog.Hash, stored []byte) bool {
	if len(stored) != len(hs)*tlog.HashSize {
		return false
	}
	for i, h := range hs {
		if !bytes.Equal(h[:], stored[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
			return false
		}
	}
	return true
}

// changedBefore reports the entry before i, whose successor i no longer
// chains to it: its bytes changed after i was written.
func (c *Checker) changedBefore(i int64) error {
	return &Problem{Index: i - 1, What: fmt.Sprintf("entry was changed after it was written (entry %d records other bytes for it)", i)}
}

// reach compares the recomputed root with the checkpoints at the current size.
func (c *Checker) reach() error {
	for len(c.pending) > 0 && c.pending[0].Size == c.f.Size() {
		cp := c.pending[0]
		c.pending = c.pending[1:]
		root := c.f.Root()
		if root != cp.Root {
			// Entries up to the last matching checkpoint are as signed; the
			// first that may differ is the one after it.
			return &Problem{Index: c.matched, What: fmt.Sprintf("log rewritten: the signed checkpoint at size %d does not match the recomputed tree; entries %d to %d differ from what was signed", cp.Size, c.matched, cp.Size-1)}
		}
		c.matched = cp.Size
		c.Checked++
		c.LastRoot = root
	}
	return nil
}

// Finish reports checkpoints beyond the last entry (entries deleted) and
// returns the size and root of the recomputed tree.
func (c *Checker) Finish() (int64, tlog.Hash, error) {
	if c.breakAt >= 0 && c.breakAt == c.f.Size()-1 {
		return 0, tlog.Hash{}, &Problem{Index: c.breakAt, What: "newest entry does not chain to the one before it (replaced or appended behind the log's back)"}
	}
	if len(c.pending) > 0 {
		cp := c.pending[len(c.pending)-1]
		return 0, tlog.Hash{}, &Problem{Index: c.f.Size(), What: fmt.Sprintf("missing: a signed checkpoint covers %d entries but the log has %d (newest entries deleted)", cp.Size, c.f.Size())}
	}
	return c.f.Size(), c.f.Root(), nil
}

// Frontier returns the checker's current frontier (not a copy).
func (c *Checker) Frontier() *Frontier { return c.f }
