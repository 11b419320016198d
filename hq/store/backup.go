package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"keycab.dev/keycab/internal/sqlitefile"
)

// Backup writes a consistent copy of the embedded (SQLite) HQ database
// named by dsn to dst, while HQ keeps serving: see sqlitefile.Backup (dst
// must not exist; a crash leaves no half backup; mode 0600). It does not
// check or migrate the schema, so the backup before an upgrade is taken
// of the database as the old version left it. A PostgreSQL database is
// backed up with pg_dump, which knows its roles and policies.
func Backup(ctx context.Context, dsn, dst string) error {
	engine, path, err := parseDSN(dsn)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if engine != SQLite {
		return errors.New("backup: HQ on PostgreSQL is backed up with pg_dump -Fc (see docs/OPERATIONS.md)")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %s: no such database", path)
	}
	// Not query_only: SQLite counts VACUUM INTO as a write, though it
	// changes nothing here.
	db, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'orgs'").Scan(&tables); err != nil || tables != 1 {
		return fmt.Errorf("backup: %s is not a keycab HQ database", path)
	}
	if err := sqlitefile.Backup(ctx, db, dst); err != nil {
		return fmt.Errorf("backup %s to %s: %w", path, dst, err)
	}
	return nil
}
