package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/sqlitefile"
)

// Backup writes a consistent copy of the open database to dst while the
// kiosk keeps running (see sqlitefile.Backup: dst must not exist, a crash
// leaves no half backup, mode 0600, as it holds members' badge hashes and
// personal text). The kiosk's signing key is not in it (see Restore).
func (d *DB) Backup(ctx context.Context, dst string) error {
	// A head over every entry first, so the backup proves all it holds
	// (opened read-only, the newest entries may wait for the writer's).
	if err := d.Seal(ctx); err != nil {
		return err
	}
	if err := sqlitefile.Backup(ctx, d.db, dst); err != nil {
		return d.wrap("backup to "+dst+" from", err)
	}
	return nil
}

// Epoch describes the log a restored kiosk's new log continues from: the
// backup's log, which Restore verified.
type Epoch struct {
	PrevOrigin   string    // the backup log's origin
	PrevKiosk    string    // its kiosk id at HQ ("" if it was never enrolled)
	HQURL        string    // the HQ it was enrolled with ("" if none)
	PrevSize     int64     // its size when the backup was taken
	PrevRoot     string    // its tree root at that size (base64)
	PrevCosigned int64     // the size HQ had cosigned by then
	BackupTime   time.Time // the newest entry's time in the backup
	Restored     time.Time
	Custody      int    // key sets out in the backup, carried over
	Archive      string // where the backup's log is kept for auditors
}

// Restore makes a new kiosk database at path from the backup at from. The
// kiosk cannot continue the backup's log: HQ has seen, and cosigned,
// entries written after the backup, and the same indexes with other
// entries are a fork. So the restored kiosk starts a new log epoch:
//
//   - the backup is verified (every entry, hash and signature) and kept,
//     unchanged, as archive (a copy named after its origin and size) for
//     `keycab audit verify --db`;
//   - the new database gets the backup's config (at version 0, so the
//     first bundle from HQ replaces it) and its custody, and no log;
//   - the kiosk is enrolled again (a new key, a new log named by HQ), and
//     the first entry of the new log is log.epoch, naming the previous
//     log's origin, size and root; the custody rows point at it.
//
// path must not exist. Nothing at path is written unless the backup
// verifies. Of opts, Logger and Now are used.
func Restore(ctx context.Context, from, path, archiveDir string, opts Options) (Epoch, error) {
	var ep Epoch
	if _, err := os.Lstat(path); err == nil {
		return ep, fmt.Errorf("restore: %s exists: move it aside first", path)
	}
	if _, err := os.Lstat(MarkPath(path)); err == nil {
		return ep, fmt.Errorf("restore: the high-water mark %s of the log being replaced is there: move it aside with the database first", MarkPath(path))
	}
	if err := os.MkdirAll(archiveDir, 0o700); err != nil {
		return ep, fmt.Errorf("restore: %w", err)
	}
	// Work on a copy in the archive: opening a database may migrate it.
	tmp := filepath.Join(archiveDir, ".restoring.db")
	os.Remove(tmp)
	if err := copyFile(from, tmp); err != nil {
		return ep, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp)
	old, err := Open(ctx, tmp, Options{Logger: opts.Logger})
	if err != nil {
		return ep, fmt.Errorf("restore from %s: %w", from, err)
	}
	ep.PrevOrigin, err = old.Origin()
	if err != nil {
		old.Close()
		return ep, fmt.Errorf("restore from %s: %w", from, err)
	}
	res, err := old.Verify(ctx, nil)
	if err != nil {
		old.Close()
		return ep, fmt.Errorf("restore from %s: the backup does not verify: %w", from, err)
	}
	ep.PrevSize, ep.PrevRoot = res.Entries, res.Root.String()
	if res.Unsigned > 0 {
		// Entries no signed head covers (a backup of a running kiosk
		// taken between an append and its head, or rows another program
		// added): the new log vouches only for what the old key signed.
		// They stay in the archive, named as not signed.
		ep.PrevSize = res.Entries - res.Unsigned
		root, err := old.TreeRoot(ctx, ep.PrevSize)
		if err != nil {
			old.Close()
			return ep, fmt.Errorf("restore from %s: %w", from, err)
		}
		ep.PrevRoot = root.String()
		if opts.Logger != nil {
			opts.Logger.Warn("restore: the backup's newest entries are not signed; the new log names only the signed part",
				"from", from, "signed", ep.PrevSize, "unsigned", res.Unsigned)
		}
	}
	if p, err := old.HQPeer(ctx); err == nil {
		ep.PrevKiosk, ep.HQURL = p.KioskID, p.URL
	}
	st, err := old.SyncState(ctx)
	if err == nil {
		ep.PrevCosigned = st.CosignedSize
		ep.BackupTime, err = old.newestTime(ctx)
	}
	if err == nil {
		err = old.Close()
	} else {
		old.Close()
	}
	if err != nil {
		return ep, fmt.Errorf("restore from %s: %w", from, err)
	}
	ep.Archive = filepath.Join(archiveDir, fmt.Sprintf("%s-%d.db", safeName(ep.PrevOrigin), ep.PrevSize))
	if _, err := os.Lstat(ep.Archive); err == nil {
		return ep, fmt.Errorf("restore: %s exists: this backup was restored before", ep.Archive)
	}
	if err := os.Rename(tmp, ep.Archive); err != nil {
		return ep, fmt.Errorf("restore: %w", err)
	}
	os.Chmod(ep.Archive, 0o400)

	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	ep.Restored = now().UTC()
	d, err := Open(ctx, path, Options{Create: true, Logger: opts.Logger})
	if err != nil {
		return ep, err
	}
	if ep.Custody, err = d.importBackup(ctx, ep); err != nil {
		d.Close()
		removeDB(path)
		return ep, fmt.Errorf("restore from %s: %w", from, err)
	}
	if err := d.Close(); err != nil {
		removeDB(path)
		return ep, err
	}
	return ep, nil
}

// importBackup copies the archived backup's config and custody into d (a
// database with no log) and records the pending epoch, in one transaction.
func (d *DB) importBackup(ctx context.Context, ep Epoch) (int, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, d.wrap("restore", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS old", ep.Archive); err != nil {
		return 0, d.wrap("restore", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE old")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, d.wrap("restore", err)
	}
	defer tx.Rollback()
	for _, t := range []string{"config", "cabinet", "keysets", "keyset_tokens", "slots", "members", "badges", "reservations", "jobs"} {
		if _, err := tx.ExecContext(ctx, "INSERT INTO main."+t+" SELECT * FROM old."+t); err != nil {
			return 0, d.wrap("restore "+t, err)
		}
	}
	// The first bundle from HQ (which knows the kiosk anew) must replace it.
	if _, err := tx.ExecContext(ctx, "UPDATE main.config SET version = 0"); err != nil {
		return 0, d.wrap("restore config", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO main.personal SELECT * FROM old.personal WHERE ref IN
		(SELECT recipient_ref FROM old.custody UNION SELECT notes_ref FROM old.custody)`); err != nil {
		return 0, d.wrap("restore personal text", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT keyset_id, member_id, second_id, slot, taken_ms, due_ms, reason, recipient_ref, notes_ref FROM old.custody ORDER BY keyset_id")
	if err != nil {
		return 0, d.wrap("restore custody", err)
	}
	var custody []custodyRow
	for rows.Next() {
		var c custodyRow
		if err := rows.Scan(&c.KeySet, &c.Member, &c.Second, &c.Slot, &c.TakenMS, &c.DueMS, &c.Reason, &c.Recipient, &c.Notes); err != nil {
			rows.Close()
			return 0, d.wrap("restore custody", err)
		}
		custody = append(custody, c)
	}
	if err := rows.Close(); err != nil {
		return 0, d.wrap("restore custody", err)
	}
	js, err := json.Marshal(custody)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO main.log_epoch_pending (id, prev_origin, prev_kiosk, hq_url, prev_size, prev_root, prev_cosigned, backup_ms, restored_ms, custody)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ep.PrevOrigin, ep.PrevKiosk, ep.HQURL, ep.PrevSize, ep.PrevRoot, ep.PrevCosigned, ms(ep.BackupTime), ms(ep.Restored), string(js)); err != nil {
		return 0, d.wrap("restore", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, d.wrap("restore", err)
	}
	return len(custody), nil
}

// custodyRow is a custody row carried from a backup into a new epoch.
type custodyRow struct {
	KeySet    string `json:"keyset_id"`
	Member    string `json:"member_id"`
	Second    string `json:"second_id"`
	Slot      int64  `json:"slot"`
	TakenMS   int64  `json:"taken_ms"`
	DueMS     int64  `json:"due_ms"`
	Reason    string `json:"reason"`
	Recipient []byte `json:"recipient_ref,omitempty"`
	Notes     []byte `json:"notes_ref,omitempty"`
}

// PendingEpoch reports whether the database is a restored kiosk's whose
// new log has not begun yet (it waits for enrolment), and from what.
func (d *DB) PendingEpoch(ctx context.Context) (Epoch, bool, error) {
	ep, _, ok, err := d.pendingEpoch(ctx)
	return ep, ok, err
}

// pendingEpoch reads the pending epoch row and the custody it carries.
func (d *DB) pendingEpoch(ctx context.Context) (Epoch, []custodyRow, bool, error) {
	var ep Epoch
	var backup, restored int64
	var custody string
	err := d.db.QueryRowContext(ctx, "SELECT prev_origin, prev_kiosk, hq_url, prev_size, prev_root, prev_cosigned, backup_ms, restored_ms, custody FROM log_epoch_pending WHERE id = 1").
		Scan(&ep.PrevOrigin, &ep.PrevKiosk, &ep.HQURL, &ep.PrevSize, &ep.PrevRoot, &ep.PrevCosigned, &backup, &restored, &custody)
	if errors.Is(err, sql.ErrNoRows) {
		return ep, nil, false, nil
	} else if err != nil {
		return ep, nil, false, d.wrap("read pending epoch", err)
	}
	var rows []custodyRow
	if err := json.Unmarshal([]byte(custody), &rows); err != nil {
		return ep, nil, false, fmt.Errorf("pending epoch in %s: custody: %w", d.path, err)
	}
	ep.BackupTime, ep.Restored, ep.Custody = fromMS(backup), fromMS(restored), len(rows)
	return ep, rows, true, nil
}

// beginEpoch appends the log.epoch entry that starts a restored kiosk's
// new log, recreates the carried custody rows pointing at it and drops
// the pending row, in one transaction. It runs when the new log is
// created, and again at the next open if a crash came in between.
func (d *DB) beginEpoch(ctx context.Context) error {
	ep, rows, ok, err := d.pendingEpoch(ctx)
	if err != nil || !ok {
		return err
	}
	if d.Size() != 0 {
		return fmt.Errorf("open %s: a log epoch is pending but the log already has %d entries", d.path, d.Size())
	}
	err = d.Update(ctx, func(tx *Tx) error {
		tx.Retain("epoch")
		a, err := tx.Append(Record{Event: &audit.Event{
			Kind: keycab.EventLogEpoch,
			Detail: map[string]string{
				"prev_origin":   ep.PrevOrigin,
				"prev_kiosk":    ep.PrevKiosk,
				"prev_size":     strconv.FormatInt(ep.PrevSize, 10),
				"prev_root":     ep.PrevRoot,
				"prev_cosigned": strconv.FormatInt(ep.PrevCosigned, 10),
				"backup_time":   ep.BackupTime.Format(time.RFC3339Nano),
				"restored_time": ep.Restored.Format(time.RFC3339Nano),
				"custody":       strconv.Itoa(len(rows)),
			},
		}})
		if err != nil {
			return err
		}
		for _, c := range rows {
			if _, err := tx.Exec(`INSERT INTO custody (keyset_id, member_id, second_id, slot, log_index, taken_ms, due_ms, reason, recipient_ref, notes_ref)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.KeySet, c.Member, c.Second, c.Slot, a.Index, c.TakenMS, c.DueMS, c.Reason, c.Recipient, c.Notes); err != nil {
				return d.wrap("restore custody", err)
			}
		}
		_, err = tx.Exec("DELETE FROM log_epoch_pending WHERE id = 1")
		return d.wrapNil("begin epoch", err)
	})
	if err != nil {
		return err
	}
	d.log.Info("new log epoch begun", "prev_origin", ep.PrevOrigin, "prev_size", ep.PrevSize, "custody", len(rows))
	return nil
}

// newestTime is the wall time of the newest entry (zero for an empty log).
func (d *DB) newestTime(ctx context.Context) (time.Time, error) {
	n := d.Size()
	if n == 0 {
		return time.Time{}, nil
	}
	leaves, err := d.ReadEntries(n-1, n)
	if err != nil {
		return time.Time{}, err
	}
	e, err := audit.Decode(leaves[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("entry %d: %w", n-1, err)
	}
	return e.WallTime(), nil
}

// safeName makes a log origin usable as a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// copyFile copies the SQLite file from to a new file to (mode 0600), synced.
func copyFile(from, to string) error {
	if err := checkHeader(from); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}
