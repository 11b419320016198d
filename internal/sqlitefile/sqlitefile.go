// Package sqlitefile copies live SQLite databases: the kiosk's (store) and
// HQ's embedded one (hq/store) are backed up the same way.
package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database db is open on to dst,
// while other connections keep reading and writing: VACUUM INTO reads one
// snapshot (in WAL mode writers are not blocked) and writes a compact
// copy. dst must not exist. The copy is written under a temporary name
// next to dst, synced, and renamed, so a crash leaves either no backup or
// a whole one, never half of one; it has mode 0600.
func Backup(ctx context.Context, db *sql.DB, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := dst + ".partial"
	os.Remove(tmp)
	// VACUUM INTO wants a new or empty file; creating it first sets its mode.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := Sync(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return Sync(filepath.Dir(dst))
}

// Sync flushes a file or directory to stable storage.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
