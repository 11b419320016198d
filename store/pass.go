package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"keycab.dev/keycab"
)

// passUsesKept is how long a pass's last use is kept: far longer than
// keycab.PassCoolDown, so that a clock stepped back a little still sees it.
const passUsesKept = 24 * time.Hour

// PassUsedAt returns when offline pass id last identified someone at this
// kiosk (NotePassUse), zero when never (or long ago).
func (d *DB) PassUsedAt(ctx context.Context, id string) (time.Time, error) {
	var at int64
	err := d.db.QueryRowContext(ctx, "SELECT used_ms FROM pass_uses WHERE pass_id = ?", id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, d.wrap("read pass use", err)
	}
	return fromMS(at), nil
}

// NotePassUse records that offline pass id identified someone at at, for
// the pass cool-down, and forgets uses older than a day.
func (d *DB) NotePassUse(ctx context.Context, id string, at time.Time) error {
	if d.opts.ReadOnly {
		return keycab.Errorf(keycab.EINVALID, "database is read-only")
	}
	return d.Update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DELETE FROM pass_uses WHERE used_ms < ?", at.Add(-passUsesKept).UnixMilli()); err != nil {
			return d.wrap("note pass use", err)
		}
		_, err := tx.Exec(`INSERT INTO pass_uses (pass_id, used_ms) VALUES (?, ?)
			ON CONFLICT (pass_id) DO UPDATE SET used_ms = excluded.used_ms`, id, at.UnixMilli())
		return d.wrapNil("note pass use", err)
	})
}
