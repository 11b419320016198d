package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// whyRotate is why the checkpoint that covers a key.rotate entry is kept:
// the log's key chain is found through these checkpoints.
const whyRotate = "key.rotate"

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// keyChain returns the log's keys, from first (the key it was created
// with) through every key.rotate entry, each verified as signed by the key
// before it and the next (audit.VerifyRotation) and covered by a kept
// checkpoint the key before it signed, so that trust in the first key
// carries over to the others. v verifies the first key's signatures (nil:
// first's own verifier; give one not to trust the file).
func keyChain(ctx context.Context, q queryer, origin, first string, v note.Verifier) ([]audit.LogKey, error) {
	if v == nil {
		var err error
		if v, err = note.NewVerifier(first); err != nil {
			return nil, fmt.Errorf("log verifier key %q: %w", first, err)
		}
	}
	keys := []audit.LogKey{{VerifierKey: first, Verifier: v}}
	rows, err := q.QueryContext(ctx, `SELECT c.size, c.checkpoint, e.leaf FROM log_checkpoints c JOIN log_entries e ON e.idx = c.size - 1
		WHERE c.why = ? ORDER BY c.size`, whyRotate)
	if err != nil {
		return nil, fmt.Errorf("read key chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var size int64
		var cp, leaf []byte
		if err := rows.Scan(&size, &cp, &leaf); err != nil {
			return nil, fmt.Errorf("read key chain: %w", err)
		}
		last := &keys[len(keys)-1]
		if c, _, err := audit.OpenCheckpoint(cp, last.Verifier); err != nil || c.Size != size {
			return nil, &audit.Problem{Index: size - 1, What: fmt.Sprintf("key.rotate entry: the checkpoint that covers it is not signed by the key it hands over from (%v)", err)}
		}
		e, err := audit.Decode(leaf)
		if err != nil {
			return nil, &audit.Problem{Index: size - 1, What: fmt.Sprintf("key.rotate entry: %v", err)}
		}
		next, err := audit.VerifyRotation(origin, size-1, last.VerifierKey, e)
		if err != nil {
			return nil, &audit.Problem{Index: size - 1, What: err.Error()}
		}
		nv, err := note.NewVerifier(next)
		if err != nil {
			return nil, &audit.Problem{Index: size - 1, What: fmt.Sprintf("key.rotate entry: new key: %v", err)}
		}
		last.Until = size
		keys = append(keys, audit.LogKey{VerifierKey: next, Verifier: nv, From: size})
	}
	return keys, rows.Err()
}

// loadKeys reads the log's key chain; the newest key becomes the one the
// log is verified and signed with.
func (d *DB) loadKeys(ctx context.Context, m *logMeta) error {
	keys, err := keyChain(ctx, d.db, m.origin, m.vkey, m.verifier)
	if err != nil {
		return fmt.Errorf("open %s: %w", d.path, err)
	}
	m.keys = keys
	cur := keys[len(keys)-1]
	m.vkey, m.verifier = cur.VerifierKey, cur.Verifier
	return nil
}

// Keys returns the log's key chain, oldest first.
func (d *DB) Keys() ([]audit.LogKey, error) {
	if d.meta == nil {
		return nil, ErrNoLog
	}
	return append([]audit.LogKey(nil), d.meta.keys...), nil
}

// RotateKey hands the log over to the key next (named like the log): it
// appends a key.rotate entry signed by the current key and next
// (audit.RotationEvent), signs the head that covers it with both and
// keeps that checkpoint, and from then on signs with next. It returns the
// entry's index and that checkpoint. Open the database with next from now
// on.
func (d *DB) RotateKey(ctx context.Context, next *audit.Signer) (int64, []byte, error) {
	var index int64
	err := d.Update(ctx, func(tx *Tx) error {
		e, err := audit.RotationEvent(d.meta.origin, tx.Size(), d.opts.Signer, next)
		if err != nil {
			return err
		}
		a, err := tx.Append(Record{Event: e})
		if err != nil {
			return err
		}
		index = a.Index
		tx.Retain(whyRotate)
		tx.next = next
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	cp, err := d.RotationCheckpoint(ctx, index)
	return index, cp, err
}

// RotationCheckpoint returns the kept checkpoint that covers the key.rotate
// entry at index, signed by both keys.
func (d *DB) RotationCheckpoint(ctx context.Context, index int64) ([]byte, error) {
	var cp []byte
	err := d.db.QueryRowContext(ctx, "SELECT checkpoint FROM log_checkpoints WHERE size = ? AND why = ?", index+1, whyRotate).Scan(&cp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keycab.Errorf(keycab.ENOTFOUND, "no key.rotate entry at %d", index)
	}
	return cp, d.wrapNil("read rotation checkpoint", err)
}

// signHead signs the transaction's new head: with the current key, and
// with both keys when the transaction rotates the key.
func (tx *Tx) signHead(cp audit.Checkpoint) ([]byte, error) {
	if tx.next == nil {
		return audit.SignCheckpoint(cp, tx.d.opts.Signer)
	}
	if tx.next.Name() != cp.Origin {
		return nil, fmt.Errorf("sign checkpoint: key %q does not match origin %q", tx.next.Name(), cp.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: cp.Text()}, tx.d.opts.Signer, tx.next)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// rotated switches the log to the key a committed transaction rotated to.
func (d *DB) rotated(tx *Tx) {
	if tx.next == nil {
		return
	}
	m := *d.meta
	m.keys = append([]audit.LogKey(nil), m.keys...)
	m.keys[len(m.keys)-1].Until = tx.frontier.Size()
	v := tx.next.Verifier()
	m.keys = append(m.keys, audit.LogKey{VerifierKey: tx.next.VerifierKey, Verifier: v, From: tx.frontier.Size()})
	m.vkey, m.verifier = tx.next.VerifierKey, v
	d.meta = &m
	d.opts.Signer = tx.next
	d.log.Info("audit log key rotated", "origin", m.origin, "verifier", m.vkey, "from_size", tx.frontier.Size())
}

// openCheckpoint verifies a checkpoint of the log with the key of its
// size.
func (d *DB) openCheckpoint(signed []byte) (audit.Checkpoint, error) {
	c := audit.NewChecker(d.meta.verifier, false)
	c.SetKeys(d.meta.keys)
	return c.Open(signed)
}
