package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/sqlitefile"
)

// The high-water mark: its format and when it is written and checked are
// in the package doc (doc.go).

// MarkPath returns the path of the high-water mark of the database at path.
func MarkPath(path string) string { return path + "-mark" }

// MarkFormatVersion is the version of the mark file's format.
const MarkFormatVersion = 1

var markHeader = fmt.Sprintf("keycab log mark %d\n", MarkFormatVersion)

// ErrBehindMark reports a log that does not reach, or does not match, the
// high-water mark kept beside its database: committed entries were lost.
var ErrBehindMark = errors.New("the log disagrees with its high-water mark")

// readMark returns the signed checkpoint in the mark of the database at
// path, or nil when there is no mark.
func readMark(path string) ([]byte, error) {
	b, err := os.ReadFile(MarkPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	signed, ok := strings.CutPrefix(string(b), markHeader)
	if !ok {
		first, _, _ := strings.Cut(string(b), "\n")
		return nil, fmt.Errorf("unknown format %q (want %q)", first, strings.TrimSpace(markHeader))
	}
	return []byte(signed), nil
}

// writeMark replaces the mark of the database at path with signed,
// atomically and durably.
func writeMark(path string, signed []byte) error {
	mark := MarkPath(path)
	tmp := mark + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append([]byte(markHeader), signed...))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, mark)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return sqlitefile.Sync(filepath.Dir(mark))
}

// markFault is what checkMark found wrong.
type markFault int

const (
	markOK        markFault = iota // the log reaches its mark, or has none
	markLost                       // the log is shorter than its mark
	markRewritten                  // the log has another root at the mark's size
	markBad                        // the mark is unreadable or not this log's
)

// checkMark compares the log, of size entries, with its mark. It returns
// the log's size, what is wrong ("" when nothing is) and what kind of
// fault that is.
func (d *DB) checkMark(ctx context.Context, size int64) (found int64, what string, fault markFault) {
	mark := MarkPath(d.path)
	signed, err := readMark(d.path)
	if err != nil {
		return size, fmt.Sprintf("the high-water mark %s is unreadable: %v", mark, err), markBad
	}
	if signed == nil {
		return size, "", markOK
	}
	text, err := audit.NoteText(signed)
	var cp audit.Checkpoint
	if err == nil {
		cp, err = audit.ParseCheckpoint(text)
	}
	if err != nil {
		return size, fmt.Sprintf("the high-water mark %s is unreadable: %v", mark, err), markBad
	}
	if d.meta == nil {
		return 0, fmt.Sprintf("the high-water mark %s records log %s at size %d (root %s), but the database holds no log", mark, cp.Origin, cp.Size, cp.Root), markLost
	}
	if cp.Origin != d.meta.origin {
		return size, fmt.Sprintf("the high-water mark %s is of log %s, not of this database's log %s", mark, cp.Origin, d.meta.origin), markBad
	}
	verified := false
	for _, k := range d.meta.keys {
		if _, _, err = audit.OpenCheckpoint(signed, k.Verifier); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return size, fmt.Sprintf("the high-water mark %s is not signed by this log's key: %v", mark, err), markBad
	}
	if cp.Size > size {
		return size, fmt.Sprintf("the high-water mark %s records the signed checkpoint of size %d (root %s), but the database holds %d entries: entries %d to %d were committed and signed, and are lost",
			mark, cp.Size, cp.Root, size, size, cp.Size-1), markLost
	}
	root, err := tlog.TreeHash(cp.Size, d.hashReader(ctx))
	if err != nil {
		return size, fmt.Sprintf("the log's tree at the high-water mark's size %d is unreadable: %v", cp.Size, err), markBad
	}
	if root != cp.Root {
		return size, fmt.Sprintf("the high-water mark %s records root %s at size %d, but this log's tree at that size has root %s: the log was rewritten", mark, cp.Root, cp.Size, root), markRewritten
	}
	d.markMu.Lock()
	d.markSize = max(d.markSize, cp.Size)
	d.markMu.Unlock()
	return size, "", markOK
}

// behindMark is the error Open returns for what checkMark found.
func (d *DB) behindMark(what string, fault markFault) error {
	if fault == markBad {
		return fmt.Errorf("open %s: %w: %s; nothing more is appended until it is settled: check the log with keycab audit verify --db %s and that HQ holds no more of it than it has; if so, move %s aside (a new one is written), otherwise restore the newest backup (keycab-kiosk restore, which starts a new log epoch)",
			d.path, ErrBehindMark, what, d.path, MarkPath(d.path))
	}
	return fmt.Errorf("open %s: %w: %s; nothing more is appended to it: keep the files as they are, and restore the newest backup (keycab-kiosk restore, which starts a new log epoch naming the old log)", d.path, ErrBehindMark, what)
}

// precheckMark checks a database with a mark before it is opened to
// write, on a read-only connection of its own: a writable connection, once
// closed, would checkpoint what the damaged WAL still holds into the
// database and remove it. It reads only the log's keys, its signed head
// and the tree hashes the mark needs (no scan of the log).
func precheckMark(ctx context.Context, path string, opts Options) error {
	if opts.ReadOnly {
		return nil
	}
	if _, err := os.Lstat(MarkPath(path)); err != nil {
		return nil
	}
	d := &DB{path: path, opts: Options{ReadOnly: true}}
	if st, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0) {
		_, what, fault := d.checkMark(ctx, 0)
		return d.behindMark(what+" (the database file is missing or empty)", fault)
	}
	db, err := sql.Open("sqlite", DSN(path, true, 5*time.Second))
	if err != nil {
		return nil
	}
	defer db.Close()
	d.db = db
	// Whatever fails to read here, the writable open reports (it may
	// migrate an older schema first, and checks the mark again).
	if err := d.loadMeta(ctx); err != nil || d.meta == nil {
		return nil
	}
	_, size, err := d.Head(ctx)
	if err != nil && !errors.Is(err, ErrNoLog) {
		return nil
	}
	if _, what, fault := d.checkMark(ctx, size); what != "" {
		return d.behindMark(what, fault)
	}
	return nil
}

// keepMark moves the mark forward to signed, a checkpoint of size that is
// in the database for good. Failing to write it is logged, not returned:
// the entries are committed, and an older mark is still a true one.
func (d *DB) keepMark(signed []byte, size int64) {
	if d.opts.ReadOnly {
		return
	}
	d.markMu.Lock()
	defer d.markMu.Unlock()
	if size <= d.markSize {
		return
	}
	if err := writeMark(d.path, signed); err != nil {
		d.log.Error("cannot write the log's high-water mark", "mark", MarkPath(d.path), "size", size, "err", err)
		return
	}
	d.markSize = size
}
