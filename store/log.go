package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Record is one event to append, with the personal text it refers to.
// The text is kept off the log in the personal table; the event carries
// salted references (audit.PersonalRef) that Append fills in.
type Record struct {
	Event     *audit.Event
	Recipient string
	Notes     string
	// Subject is the member the personal text belongs to, for erasure;
	// empty means Event.Actor. Verify takes a missing text as erased only
	// after a member.erased entry for the entry's actor, so a Subject
	// other than the actor would make its erased texts "missing".
	Subject string
	// Badge is the hex keycab.BadgeHash of a badge.linked admin.change
	// (LinkBadge): kept off the log in the personal table like a text,
	// filed under the linked member (Event.Detail["member"]), and
	// referenced by Detail[audit.BadgeRefKey], so that erasing the member
	// removes it. Retention never deletes it (its row's at_ms is 0).
	Badge string
	// Still is a JPEG from the kiosk's camera taken as the entry was made
	// (keycab.Policy Stills): kept off the log in the stills table, filed
	// under Subject (or the actor) like a text, its SHA-256 in
	// Detail[audit.StillKey] (audit.StillHash). StillMissing, when Still
	// is empty, says why there is none (Detail[audit.StillMissingKey]).
	Still        []byte
	StillMissing string
}

// Appended describes an entry Append wrote.
type Appended struct {
	Index int64
	Leaf  []byte
}

// ErrNoLog is returned by log operations on a database that has no log
// yet (it was opened without a signer and never given one).
var ErrNoLog = errors.New("database has no audit log yet")

// loadMeta reads the log's origin and keys; d.meta stays nil when the
// database has no log.
func (d *DB) loadMeta(ctx context.Context) error {
	var m logMeta
	err := d.db.QueryRowContext(ctx, "SELECT origin, verifier_key FROM log_meta WHERE id = 1").Scan(&m.origin, &m.vkey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return d.wrap("read log", err)
	}
	if m.verifier, err = note.NewVerifier(m.vkey); err != nil {
		return fmt.Errorf("open %s: log verifier key %q: %w", d.path, m.vkey, err)
	}
	if err := d.loadKeys(ctx, &m); err != nil {
		return err
	}
	d.meta = &m
	return nil
}

func (d *DB) loadLog(ctx context.Context) error {
	if err := d.loadMeta(ctx); err != nil || d.meta == nil {
		return err
	}
	var count, kept int64
	var maxIdx sql.NullInt64
	signed, headSize, err := head(ctx, d.db)
	if err != nil && !errors.Is(err, ErrNoLog) {
		return err
	}
	if err := d.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM log_entries), (SELECT max(idx) FROM log_entries),
		(SELECT coalesce(max(size), 0) FROM (SELECT size FROM log_checkpoints UNION ALL SELECT size FROM log_cosignatures))`).Scan(&count, &maxIdx, &kept); err != nil {
		return d.wrap("read log", err)
	}
	d.size, d.sealed = headSize, headSize
	switch {
	case count < headSize || (count > 0 && maxIdx.Int64 != count-1) || (count > 0 && headSize == 0):
		// Do not fail: verify must be able to open such a file and say
		// what is wrong. Appending to it is refused.
		d.broken = keycab.Errorf(keycab.ETAMPERED, "log has %d entries but its signed head covers %d: run keycab audit verify", count, headSize)
		return nil
	case kept > headSize:
		d.broken = keycab.Errorf(keycab.ETAMPERED, "log's signed head covers %d entries but a kept checkpoint covers %d: run keycab audit verify", headSize, kept)
		return nil
	}
	f, err := audit.NewFrontier(headSize, d.hashReader(ctx))
	if err != nil {
		d.broken = keycab.Errorf(keycab.ETAMPERED, "log tree is unreadable: %v: run keycab audit verify", err)
		return nil
	}
	if headSize > 0 {
		// The head is where the entries this kiosk checks with its MAC
		// begin (loadTail): it must be a checkpoint of this log, signed
		// by its key, over the stored tree at that size. Another
		// program's row with a head on it is not one.
		cp, err := d.openCheckpoint(signed)
		if err != nil || cp.Size != headSize || cp.Root != f.Root() {
			d.broken = keycab.Errorf(keycab.ETAMPERED, "log's head on entry %d is not this log's signed checkpoint of its %d entries: run keycab audit verify", headSize-1, headSize)
			return nil
		}
	}
	if headSize > 0 {
		hs, err := d.hashReader(ctx).ReadHashes([]int64{tlog.StoredHashIndex(0, headSize-1)})
		if err != nil {
			d.broken = keycab.Errorf(keycab.ETAMPERED, "log tree is unreadable: %v: run keycab audit verify", err)
			return nil
		}
		d.prev = hs[0]
	}
	if count > headSize {
		if err := d.loadTail(ctx, f, count); err != nil {
			d.broken = err
			return nil
		}
	}
	d.frontier = f
	return nil
}

// loadTail checks the entries from d.size to end, which no signed head
// covers yet, and takes them into the log: each must chain to the one
// before it and match its stored tree hashes, and, when the log is opened
// to append, carry the MAC of this log's key (audit.Signer.TailMAC), so
// that the head Seal signs over them covers only entries this kiosk wrote.
func (d *DB) loadTail(ctx context.Context, f *audit.Frontier, end int64) error {
	rows, err := d.db.QueryContext(ctx, "SELECT idx, leaf, hashes, mac FROM log_entries WHERE idx >= ? ORDER BY idx", d.size)
	if err != nil {
		return d.wrap("read log", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var leaf, hashes, mac []byte
		if err := rows.Scan(&idx, &leaf, &hashes, &mac); err != nil {
			return d.wrap("read log", err)
		}
		if idx != f.Size() {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head, is missing: run keycab audit verify", f.Size())
		}
		hs, err := f.Next(leaf)
		if err != nil {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head: %v: run keycab audit verify", idx, err)
		}
		if !bytes.Equal(audit.EncodeHashes(hs), hashes) {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head, does not match its stored tree hashes: run keycab audit verify", idx)
		}
		ev, err := audit.Decode(leaf)
		if err != nil {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head: %v: run keycab audit verify", idx, err)
		}
		if want := d.prev[:]; (idx == 0 && len(ev.Prev) != 0) || (idx > 0 && !bytes.Equal(ev.Prev, want)) {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head, does not chain to the entry before it: run keycab audit verify", idx)
		}
		if s := d.opts.Signer; s != nil && !d.opts.ReadOnly && !hmac.Equal(mac, s.TailMAC(idx, hs[0])) {
			return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head, does not carry this kiosk's MAC (another program wrote it): run keycab audit verify", idx)
		}
		f.Advance(hs)
		d.prev = hs[0]
	}
	if err := rows.Err(); err != nil {
		return d.wrap("read log", err)
	}
	if f.Size() != end {
		return keycab.Errorf(keycab.ETAMPERED, "log entry %d, after the signed head, is missing: run keycab audit verify", f.Size())
	}
	d.size = end
	d.log.Warn("audit log entries had no signed head (the last run stopped before signing it)", "path", d.path, "from", d.sealed, "to", end)
	return nil
}

func (d *DB) createLog(ctx context.Context) error {
	s := d.opts.Signer
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("create log", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO log_meta (id, origin, verifier_key, created_ms) VALUES (1, ?, ?, ?)", s.Name(), s.VerifierKey, d.now().UnixMilli()); err != nil {
		return d.wrap("create log", err)
	}
	if err := tx.Commit(); err != nil {
		return d.wrap("create log", err)
	}
	d.log.Info("audit log created", "origin", s.Name(), "verifier", s.VerifierKey)
	return d.loadLog(ctx)
}

// Origin returns the log's origin (the name of its key).
func (d *DB) Origin() (string, error) {
	if d.meta == nil {
		return "", ErrNoLog
	}
	return d.meta.origin, nil
}

// Verifier returns the note verifier of the key recorded in the log.
func (d *DB) Verifier() (note.Verifier, error) {
	if d.meta == nil {
		return nil, ErrNoLog
	}
	return d.meta.verifier, nil
}

// VerifierKey returns the verifier key recorded in the log.
func (d *DB) VerifierKey() (string, error) {
	if d.meta == nil {
		return "", ErrNoLog
	}
	return d.meta.vkey, nil
}

// Size returns the number of entries in the log.
func (d *DB) Size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// Append appends records to the log in one transaction and returns where
// they landed. A signed head covers them within the seal delay (Seal).
func (d *DB) Append(ctx context.Context, recs ...Record) ([]Appended, error) {
	var out []Appended
	err := d.Update(ctx, func(tx *Tx) error {
		for _, r := range recs {
			a, err := tx.Append(r)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Tx is a write transaction that may append to the log; custody and config
// changes made through it commit together with the entries.
type Tx struct {
	ctx      context.Context
	d        *DB
	tx       *sql.Tx
	frontier *audit.Frontier
	prev     tlog.Hash
	retain   string // why to keep the head checkpoint for good, if at all
	pending  []pendingEntry
	// next is the key the log rotates to (RotateKey), if it does.
	next *audit.Signer
}

// pendingEntry is an entry appended in a transaction but not yet written:
// Update writes them at the end.
type pendingEntry struct {
	index             int64
	leaf, hashes, mac []byte
}

// Update runs fn in a write transaction. Entries fn appends and every
// other change fn makes commit together or not at all. The head
// checkpoint that covers the entries is signed in the same transaction
// when fn asks for it to be kept (Retain), rotates the key, or the log
// keeps one at this size (Options.RetainEvery), or with a negative
// Options.SealDelay; otherwise within the seal delay after the commit, or
// sooner when something reads the head (Seal).
func (d *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opts.ReadOnly {
		return fmt.Errorf("write %s: opened read-only", d.path)
	}
	if d.meta == nil || d.opts.Signer == nil {
		return fmt.Errorf("write %s: %w or no signer key was given", d.path, ErrNoLog)
	}
	return d.update(ctx, false, fn)
}

// update is Update with d.mu held; with seal set it signs a head even when
// fn appends nothing (Seal).
func (d *DB) update(ctx context.Context, seal bool, fn func(tx *Tx) error) error {
	if d.broken != nil {
		return fmt.Errorf("write %s: %w", d.path, d.broken)
	}
	// An append runs to its end once begun (it is short, and half an
	// append is no use to anyone): without a cancellable context
	// database/sql does not start a watcher goroutine for every
	// transaction, which on a busy two-core Pi costs more than the
	// statements themselves.
	ctx = context.WithoutCancel(ctx)
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("begin", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{ctx: ctx, d: d, tx: sqlTx, frontier: d.frontier.Clone(), prev: d.prev}
	if err := fn(tx); err != nil {
		return err
	}
	var kept []byte // the checkpoint kept for good, for the mark
	signedNow := false
	if tx.frontier.Size() != d.size || tx.retain != "" || seal {
		var signed []byte
		// A log's first append signs in its own transaction, so that a
		// log with entries and no head is always one that lost its head.
		if seal || tx.retain != "" || tx.next != nil || d.opts.SealDelay < 0 || d.sealed == 0 {
			cp := audit.Checkpoint{Origin: d.meta.origin, Size: tx.frontier.Size(), Root: tx.frontier.Root()}
			if signed, err = tx.signHead(cp); err != nil {
				return err
			}
			signedNow = true
		}
		if err := tx.flush(signed); err != nil {
			return err
		}
		if signed != nil && tx.frontier.Size() == d.size && d.sealed < d.size {
			// Nothing new: the head (or the kept checkpoint) seals what
			// waited.
			if err := tx.moveHead(d.size-1, signed); err != nil {
				return err
			}
		}
		if tx.retain != "" {
			if _, err := tx.Exec("INSERT INTO log_checkpoints (size, checkpoint, why) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING", tx.frontier.Size(), signed, tx.retain); err != nil {
				return d.wrap("keep checkpoint", err)
			}
			kept = signed
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return d.wrap("commit", err)
	}
	d.size, d.frontier, d.prev = tx.frontier.Size(), tx.frontier, tx.prev
	if signedNow {
		d.sealed = d.size
	}
	d.rotated(tx)
	if kept != nil {
		d.keepMark(kept, d.size)
	}
	d.sealLater()
	return nil
}

// Seal signs a head checkpoint over the entries appended since the last
// one, if there are any, and commits it. Appends call it through a timer
// within the seal delay (Options.SealDelay); Head, Checkpoints and Close
// call it first, so a push, an export or a verifier of the open database
// sees every committed entry under a signature. On a database opened
// read-only or without a signer it does nothing.
func (d *DB) Seal(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sealLocked(ctx)
}

func (d *DB) sealLocked(ctx context.Context) error {
	if d.opts.ReadOnly || d.opts.Signer == nil || d.meta == nil || d.sealed == d.size {
		return nil
	}
	return d.update(ctx, true, func(*Tx) error { return nil })
}

// sealLater arranges for Seal to run within the seal delay while entries
// wait for a head (d.mu held).
func (d *DB) sealLater() {
	if d.sealed == d.size || d.sealing != nil || d.closed {
		return
	}
	d.sealing = time.AfterFunc(d.opts.SealDelay, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.sealing = nil
		if d.closed {
			return
		}
		if err := d.sealLocked(context.Background()); err != nil {
			// The entries are committed with their MACs; the next
			// append, read of the head or open tries again.
			d.log.Error("cannot sign the log's head", "path", d.path, "size", d.size, "err", err)
		}
	})
}

// Exec runs a statement inside the transaction. Statements are prepared
// once per connection and reused.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	st, err := tx.d.prepare(tx.ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.tx.StmtContext(tx.ctx, st).ExecContext(tx.ctx, args...)
}

// QueryRow runs a query inside the transaction.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	st, err := tx.d.prepare(tx.ctx, query)
	if err != nil {
		return tx.tx.QueryRowContext(tx.ctx, query, args...)
	}
	return tx.tx.StmtContext(tx.ctx, st).QueryRowContext(tx.ctx, args...)
}

// prepare returns the cached prepared statement for query.
func (d *DB) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.stmts[query]; ok {
		return st, nil
	}
	st, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, d.wrap("prepare", err)
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[query] = st
	return st, nil
}

// Size returns the log's size including entries appended in tx.
func (tx *Tx) Size() int64 { return tx.frontier.Size() }

// Retain asks for the head checkpoint this transaction signs to be kept for
// good, for the reason why (a push to HQ, a boot, an export).
func (tx *Tx) Retain(why string) { tx.retain = why }

// Append appends one record within the transaction.
func (tx *Tx) Append(r Record) (Appended, error) {
	e := r.Event
	if e == nil {
		return Appended{}, errors.New("append: no event")
	}
	d := tx.d
	e.Stamp(d.now(), audit.Uptime(d.start), d.boot)
	subject := r.Subject
	if subject == "" {
		subject = e.Actor
	}
	var err error
	if e.Recipient, err = tx.personal(r.Recipient, subject, e.Time, e.KeySet); err != nil {
		return Appended{}, err
	}
	if e.Notes, err = tx.personal(r.Notes, subject, e.Time, e.KeySet); err != nil {
		return Appended{}, err
	}
	if r.Badge != "" {
		if e.Kind != keycab.EventAdminChange || e.Detail["member"] == "" {
			return Appended{}, errors.New("append: a badge value belongs to an admin.change that names its member")
		}
		ref, err := tx.personal(r.Badge, e.Detail["member"], 0, "")
		if err != nil {
			return Appended{}, err
		}
		e.Detail[audit.BadgeRefKey] = hex.EncodeToString(ref)
	}
	index := tx.frontier.Size()
	if err := tx.still(index, e, r.Still, r.StillMissing, subject); err != nil {
		return Appended{}, err
	}
	e.Prev = nil
	if index > 0 {
		e.Prev = append([]byte(nil), tx.prev[:]...)
	}
	leaf, err := audit.Encode(e)
	if err != nil {
		return Appended{}, err
	}
	hs, err := tx.frontier.Next(leaf)
	if err != nil {
		return Appended{}, fmt.Errorf("append: %w", err)
	}
	tx.pending = append(tx.pending, pendingEntry{index, leaf, audit.EncodeHashes(hs), d.opts.Signer.TailMAC(index, hs[0])})
	tx.frontier.Advance(hs)
	tx.prev = hs[0]
	if tx.frontier.Size()%d.retain == 0 {
		tx.retain = "interval"
	}
	return Appended{Index: index, Leaf: leaf}, nil
}

// personal keeps a personal text of an entry, filed under subject, with
// the entry's time (atMS; 0 keeps it from retention) and key set (for
// retention and legal holds), and returns its reference.
func (tx *Tx) personal(text, subject string, atMS int64, keySet string) ([]byte, error) {
	if text == "" {
		return nil, nil
	}
	salt := audit.NewSalt()
	ref := audit.PersonalRef(salt, text)
	if _, err := tx.Exec("INSERT INTO personal (ref, subject, salt, text, at_ms, keyset) VALUES (?, ?, ?, ?, ?, ?)",
		ref, subject, salt, text, atMS, keySet); err != nil {
		return nil, tx.d.wrap("store personal text", err)
	}
	return ref, nil
}

// still keeps a still of entry e at index, filed under subject with the entry's
// time and key set, and puts its hash in e's Detail; with none it notes
// why (missing), if given.
func (tx *Tx) still(index int64, e *audit.Event, jpeg []byte, missing, subject string) error {
	if len(jpeg) == 0 {
		if missing != "" {
			if e.Detail == nil {
				e.Detail = map[string]string{}
			}
			e.Detail[audit.StillMissingKey] = missing
		}
		return nil
	}
	if len(jpeg) > audit.MaxStill {
		return fmt.Errorf("append: a still of %d bytes is more than the %d one may be", len(jpeg), audit.MaxStill)
	}
	ref := audit.StillHash(jpeg)
	if _, err := tx.Exec("INSERT INTO stills (idx, ref, subject, at_ms, keyset, jpeg) VALUES (?, ?, ?, ?, ?, ?)",
		index, ref, subject, e.Time, e.KeySet, jpeg); err != nil {
		return tx.d.wrap("store still", err)
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail[audit.StillKey] = hex.EncodeToString(ref)
	return nil
}

// flush writes the pending entries, the newest carrying the signed head
// when one is given (then the entry that carried the previous head gives
// it up).
func (tx *Tx) flush(head []byte) error {
	d := tx.d
	for i, e := range tx.pending {
		var h []byte
		if i == len(tx.pending)-1 {
			h = head
		}
		if _, err := tx.Exec("INSERT INTO log_entries (idx, leaf, hashes, head, mac) VALUES (?, ?, ?, ?, ?)", e.index, e.leaf, e.hashes, h, e.mac); err != nil {
			var se *sqlite.Error
			if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
				return d.conflict()
			}
			return d.wrap(fmt.Sprintf("append entry %d", e.index), err)
		}
	}
	if len(tx.pending) > 0 && head != nil {
		if err := tx.clearHead(); err != nil {
			return err
		}
	}
	tx.pending = nil
	return nil
}

// moveHead puts the signed head on the entry at idx, the newest, and
// takes it from the entry that carried the previous one.
func (tx *Tx) moveHead(idx int64, head []byte) error {
	res, err := tx.Exec("UPDATE log_entries SET head = ? WHERE idx = ? AND head IS NULL", head, idx)
	if err != nil {
		return tx.d.wrap("sign log head", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return tx.d.conflict()
	}
	return tx.clearHead()
}

// clearHead clears the head of the entry that carried the newest signed
// one, once a newer entry carries the next.
func (tx *Tx) clearHead() error {
	d := tx.d
	if d.sealed == 0 {
		return nil
	}
	// The head moves only from the entry this process knows carries it:
	// if another program appended behind its back, the insert before or
	// this update finds out.
	res, err := tx.Exec("UPDATE log_entries SET head = NULL WHERE idx = ? AND head IS NOT NULL", d.sealed-1)
	if err != nil {
		return d.wrap("move log head", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return d.conflict()
	}
	return nil
}

// conflict marks the log as changed by another program: this process's
// view of it is stale, and it appends no more until reopened.
func (d *DB) conflict() error {
	d.broken = keycab.Errorf(keycab.ECONFLICT, "another program appended to the log after entry %d; reopen it", d.size-1)
	return fmt.Errorf("write %s: %w", d.path, d.broken)
}

// Head returns the log's head, the signed checkpoint the newest entry
// carries, and the size it covers (the newest index + 1). An empty log
// has no head: ErrNoLog and size 0. On a database open to append it first
// signs a head over entries waiting for one (Seal), so the head covers
// every committed entry.
func (d *DB) Head(ctx context.Context) ([]byte, int64, error) {
	if err := d.Seal(ctx); err != nil {
		return nil, 0, err
	}
	return head(ctx, d.db)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func head(ctx context.Context, q queryRower) ([]byte, int64, error) {
	var signed []byte
	var idx int64
	err := q.QueryRowContext(ctx, "SELECT head, idx FROM log_entries WHERE head IS NOT NULL ORDER BY idx DESC LIMIT 1").Scan(&signed, &idx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNoLog
	} else if err != nil {
		return nil, 0, fmt.Errorf("read log head: %w", err)
	}
	return signed, idx + 1, nil
}

// Checkpoints returns every signed checkpoint the database holds: the kept
// ones and HQ's cosigned ones ordered by size, then the head.
func (d *DB) Checkpoints(ctx context.Context) ([][]byte, error) {
	if err := d.Seal(ctx); err != nil {
		return nil, err
	}
	var out [][]byte
	err := d.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = checkpoints(ctx, tx)
		return err
	})
	return out, d.wrapNil("read checkpoints", err)
}

func checkpoints(ctx context.Context, tx *sql.Tx) ([][]byte, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT checkpoint FROM (
			SELECT size, checkpoint FROM log_checkpoints
			UNION ALL SELECT size, checkpoint FROM log_cosignatures
		) ORDER BY size`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The head: found from the newest entry backwards, not by a scan.
	if h, _, err := head(ctx, tx); err == nil {
		out = append(out, h)
	} else if !errors.Is(err, ErrNoLog) {
		return nil, err
	}
	return out, nil
}

// read runs fn in a read transaction (one consistent snapshot).
func (d *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// Cosigned returns the cosigned checkpoints the log keeps (HQ's, as
// AddCosignature stored them), ordered by size.
func (d *DB) Cosigned(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT checkpoint FROM log_cosignatures ORDER BY size, cosigner")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	return out, d.wrapNil("read cosignatures", err)
}

// AddCosignature stores a checkpoint cosigned by HQ (verified by the caller
// against HQ's pinned key and by this method against the log's key and tree).
func (d *DB) AddCosignature(ctx context.Context, cosigner string, signed []byte) error {
	cp, err := d.openCheckpoint(signed)
	if err != nil {
		return keycab.Errorf(keycab.EINVALID, "cosigned checkpoint: %v", err)
	}
	root, err := tlog.TreeHash(cp.Size, d.hashReader(ctx))
	if err != nil {
		return fmt.Errorf("cosigned checkpoint: %w", err)
	}
	if root != cp.Root {
		return keycab.Errorf(keycab.ETAMPERED, "cosigned checkpoint at size %d does not match this log", cp.Size)
	}
	_, err = d.db.ExecContext(ctx, "INSERT INTO log_cosignatures (size, cosigner, checkpoint, received_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		cp.Size, cosigner, signed, d.now().UnixMilli())
	if err != nil {
		return d.wrap("store cosignature", err)
	}
	d.keepMark(signed, cp.Size)
	return nil
}

// hashReader reads stored tree hashes (tlog.HashReader) from the database,
// fetching the entries that hold them a few hundred at a time.
func (d *DB) hashReader(ctx context.Context) tlog.HashReader {
	return audit.GroupedHashReader(500, func(leaves []int64) (*sql.Rows, error) {
		args := make([]any, len(leaves))
		for i, l := range leaves {
			args[i] = l
		}
		return d.db.QueryContext(ctx, "SELECT idx, hashes FROM log_entries WHERE idx IN (?"+strings.Repeat(", ?", len(leaves)-1)+")", args...)
	})
}

// HashReader returns a tlog.HashReader over the stored tree, for proofs and
// export.
func (d *DB) HashReader(ctx context.Context) tlog.HashReader { return d.hashReader(ctx) }

// Entry is one stored log entry.
type Entry struct {
	Index  int64
	Leaf   []byte
	Hashes []byte
}

// Scan calls fn for every entry from start (inclusive) to end (exclusive;
// -1 for all) in index order, stopping at fn's first error.
func (d *DB) Scan(ctx context.Context, start, end int64, fn func(Entry) error) error {
	if end < 0 {
		end = 1<<63 - 1
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return d.wrap("read log", err)
	}
	defer conn.Close()
	var fnErr error
	// Read through the driver itself: its rows hand over freshly allocated
	// blobs, which database/sql would copy once more (half the cost of a
	// scan of the log).
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("sqlite driver cannot query")
		}
		rows, err := q.QueryContext(ctx, "SELECT idx, leaf, hashes FROM log_entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
			[]driver.NamedValue{{Ordinal: 1, Value: start}, {Ordinal: 2, Value: end}})
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 3)
		for {
			if err := rows.Next(dest); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			idx, ok1 := dest[0].(int64)
			leaf, ok2 := dest[1].([]byte)
			hashes, ok3 := dest[2].([]byte)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("entry %v: stored with the wrong types", dest[0])
			}
			if fnErr = fn(Entry{Index: idx, Leaf: leaf, Hashes: hashes}); fnErr != nil {
				return fnErr
			}
		}
	})
	if fnErr != nil {
		return fnErr
	}
	return d.wrapNil("read log", err)
}

// scanAhead is Scan for [start, end) that reads chunks of entries on
// further connections while fn works on the previous ones, so that reading
// SQLite and hashing use both cores. Entries are append-only, so chunks
// read in different snapshots still agree.
func (d *DB) scanAhead(ctx context.Context, start, end int64, fn func(Entry) error) error {
	const chunk = 4096
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		entries []Entry
		err     error
	}
	queue := make(chan chan result, 2)
	go func() {
		defer close(queue)
		for s := start; s < end; s += chunk {
			ch := make(chan result, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			go func(s int64) {
				var r result
				r.err = d.Scan(ctx, s, min(s+chunk, end), func(e Entry) error {
					r.entries = append(r.entries, e)
					return nil
				})
				ch <- r
			}(s)
		}
	}()
	for ch := range queue {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		for _, e := range r.entries {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// ReadEntries implements audit.EntryReader.
func (d *DB) ReadEntries(start, end int64) ([][]byte, error) {
	var out [][]byte
	err := d.Scan(context.Background(), start, end, func(e Entry) error {
		if e.Index != start+int64(len(out)) {
			return fmt.Errorf("entry %d is missing", start+int64(len(out)))
		}
		out = append(out, e.Leaf)
		return nil
	})
	if err == nil && int64(len(out)) != end-start {
		err = fmt.Errorf("entries %d to %d: only %d stored", start, end-1, len(out))
	}
	return out, err
}

// VerifyResult summarises a log that verified.
type VerifyResult struct {
	Entries     int64
	Unsigned    int64 // newest entries no signed head covers yet (Seal)
	Root        tlog.Hash
	Checkpoints int
	Texts       int // kept personal texts that match the reference their entry carries
	Erased      int // references whose text was erased (store.Erase)
	Expired     int // references whose text retention deleted (ExpirePersonal)
	Stills      int // kept camera stills that match the hash their entry carries
	Elapsed     time.Duration
}

// Verify recomputes the whole log from its entries and checks every stored
// hash and every checkpoint signature with v (nil means the key recorded in
// the log), then every kept personal text against the reference its entry
// carries (personalcheck.go). The first thing found wrong is returned as
// an *audit.Problem: the log's own faults first, then those of personal
// text; an erased text is counted in VerifyResult.Erased, and one
// retention deleted in VerifyResult.Expired, not a fault.
func (d *DB) Verify(ctx context.Context, v note.Verifier) (VerifyResult, error) {
	return d.verify(ctx, v, false)
}

// VerifyStrict is Verify that also parses every entry and rejects any that
// is not a well-formed event in the deterministic encoding.
func (d *DB) VerifyStrict(ctx context.Context, v note.Verifier) (VerifyResult, error) {
	return d.verify(ctx, v, true)
}

func (d *DB) verify(ctx context.Context, v note.Verifier, decode bool) (VerifyResult, error) {
	start := time.Now()
	// A database open to append verifies every entry it committed under
	// a signature. Failing to sign (the log changed behind its back) is
	// for the checks below to explain.
	if err := d.Seal(ctx); err != nil {
		d.log.Warn("verify: cannot sign the log's head first", "path", d.path, "err", err)
	}
	if v == nil {
		if d.meta == nil {
			return VerifyResult{}, ErrNoLog
		}
		v = d.meta.keys[0].Verifier
	}
	c := audit.NewChecker(v, decode)
	// What this process committed, read before the snapshot: the log only
	// grows, so the snapshot holds at least that many entries.
	d.mu.Lock()
	committed, signer := d.size, d.opts.Signer
	d.mu.Unlock()
	// One snapshot for what the entries are checked against.
	var cps [][]byte
	var headSize, stored, kept int64
	var pc *personalCheck
	err := d.read(ctx, func(tx *sql.Tx) error {
		var err error
		if pc, err = loadPersonal(ctx, tx); err != nil {
			return fmt.Errorf("read personal text: %w", err)
		}
		if d.meta != nil {
			// The keys after the first, each handed over by a key.rotate
			// entry (rotate.go).
			keys, err := keyChain(ctx, tx, d.meta.origin, d.meta.keys[0].VerifierKey, v)
			if err != nil {
				return err
			}
			c.SetKeys(keys)
		}
		if cps, err = checkpoints(ctx, tx); err != nil {
			return err
		}
		if _, h, err := head(ctx, tx); err == nil {
			headSize = h
		} else if !errors.Is(err, ErrNoLog) {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(idx) + 1, 0) FROM log_entries),
			(SELECT coalesce(max(size), 0) FROM (SELECT size FROM log_checkpoints UNION ALL SELECT size FROM log_cosignatures))`).Scan(&stored, &kept)
	})
	if err != nil {
		return VerifyResult{}, d.wrap("verify", err)
	}
	for _, cp := range cps {
		if err := c.Checkpoint(cp); err != nil {
			return VerifyResult{}, err
		}
	}
	var n int64
	err = d.scanAhead(ctx, 0, stored, func(e Entry) error {
		n++
		if err := c.Entry(e.Index, e.Leaf, e.Hashes); err != nil {
			return err
		}
		pc.entry(e.Index, e.Leaf)
		return nil
	})
	if err != nil {
		return VerifyResult{}, err
	}
	size, root, err := c.Finish()
	if err != nil {
		return VerifyResult{}, err
	}
	// Entries after the head are those an append committed and no head
	// covers yet (Seal signs one within the seal delay, or at the next
	// open after a crash): checked for their chain and tree hashes above,
	// counted, not a fault. A head behind a kept checkpoint is one.
	switch {
	case !d.opts.ReadOnly && d.meta != nil && committed > size:
		// This process committed more than the file holds: whether a head
		// covered them yet or not, they were deleted.
		return VerifyResult{}, &audit.Problem{Index: size, What: fmt.Sprintf("missing: %d entries were committed but the log holds %d (newest entries deleted)", committed, size)}
	case headSize == 0 && size > 0:
		// A log's first append signs its head in its own transaction.
		return VerifyResult{}, &audit.Problem{Index: size, What: fmt.Sprintf("missing: the log ends at entry %d without the signed head its newest entries carry (newest entries deleted, or the head removed)", size-1)}
	case kept > headSize:
		return VerifyResult{}, &audit.Problem{Index: headSize, What: fmt.Sprintf("missing: the signed head covers %d entries but a kept checkpoint covers %d (the head was removed or moved back)", headSize, kept)}
	}
	if err := d.checkTailMACs(ctx, signer, headSize); err != nil {
		return VerifyResult{}, err
	}
	if found, what, fault := d.checkMark(ctx, size); what != "" {
		if fault == markLost {
			what = "missing: " + what
		}
		return VerifyResult{}, &audit.Problem{Index: found, What: what}
	}
	texts, erased, err := pc.finish()
	if err != nil {
		return VerifyResult{}, err
	}
	return VerifyResult{Entries: n, Unsigned: size - headSize, Root: root, Checkpoints: c.Checked, Texts: texts, Erased: erased, Expired: pc.expired, Stills: pc.stills, Elapsed: time.Since(start)}, nil
}

// checkTailMACs checks, when the database was opened with the log's
// signer, that every entry from start on carries its MAC
// (audit.Signer.TailMAC): without the key, a verifier can check the tail
// only for its chain and hashes.
func (d *DB) checkTailMACs(ctx context.Context, s *audit.Signer, start int64) error {
	if s == nil {
		return nil
	}
	rows, err := d.db.QueryContext(ctx, "SELECT idx, leaf, mac FROM log_entries WHERE idx >= ? ORDER BY idx", start)
	if err != nil {
		return d.wrap("verify", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var leaf, mac []byte
		if err := rows.Scan(&idx, &leaf, &mac); err != nil {
			return d.wrap("verify", err)
		}
		if !hmac.Equal(mac, s.TailMAC(idx, tlog.RecordHash(leaf))) {
			return &audit.Problem{Index: idx, What: "entry after the signed head does not carry this kiosk's MAC (written by another program)"}
		}
	}
	return d.wrapNil("verify", rows.Err())
}

// ProveInclusion returns the proof that entry index is in the tree of the
// given size (tlog.CheckRecord checks it against that tree's root).
func (d *DB) ProveInclusion(ctx context.Context, index, size int64) (tlog.RecordProof, error) {
	if index < 0 || index >= size || size > d.Size() {
		return nil, keycab.Errorf(keycab.EINVALID, "no entry %d in a tree of size %d (the log has %d)", index, size, d.Size())
	}
	p, err := tlog.ProveRecord(size, index, d.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove entry %d in tree %d: %w", index, size, err)
	}
	return p, nil
}

// ProveConsistency returns the proof that the tree of size old is a prefix
// of the tree of size size (tlog.CheckTree checks it against both roots).
func (d *DB) ProveConsistency(ctx context.Context, old, size int64) (tlog.TreeProof, error) {
	if old < 0 || old > size || size > d.Size() {
		return nil, keycab.Errorf(keycab.EINVALID, "no consistency proof from %d to %d (the log has %d)", old, size, d.Size())
	}
	p, err := tlog.ProveTree(size, old, d.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove tree %d in tree %d: %w", old, size, err)
	}
	return p, nil
}

// TreeRoot returns the root hash of the tree of the given size.
func (d *DB) TreeRoot(ctx context.Context, size int64) (tlog.Hash, error) {
	if size < 0 || size > d.Size() {
		return tlog.Hash{}, keycab.Errorf(keycab.EINVALID, "no tree of size %d (the log has %d)", size, d.Size())
	}
	return tlog.TreeHash(size, d.hashReader(ctx))
}
