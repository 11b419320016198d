package store

import (
	"context"
	"database/sql"
	"errors"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Settle records a change of a key set's custody that no take or return
// at the cabinet made (a remote action from HQ): it appends ev, whose
// KeySet is out, and in the same transaction removes the custody row
// (holder empty: key.returned, key.lost) or gives it to holder
// (key.handed_over, which then names holder as its Second). The previous
// holder goes in ev.Detail["holder"]. A key set not out is refused
// (keycab.ECONFLICT).
func (d *DB) Settle(ctx context.Context, ev *audit.Event, holder string) (int64, error) {
	var index int64
	err := d.Update(ctx, func(tx *Tx) error {
		var prev string
		err := tx.QueryRow("SELECT member_id FROM custody WHERE keyset_id = ?", ev.KeySet).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.ECONFLICT, "key set %s is not out", ev.KeySet)
		} else if err != nil {
			return d.wrap("read custody", err)
		}
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail["holder"] = prev
		if holder != "" {
			ev.Second = holder
		}
		a, err := tx.Append(Record{Event: ev})
		if err != nil {
			return err
		}
		index = a.Index
		if holder == "" {
			_, err = tx.Exec("DELETE FROM custody WHERE keyset_id = ?", ev.KeySet)
		} else {
			_, err = tx.Exec("UPDATE custody SET member_id = ?, second_id = '' WHERE keyset_id = ?", holder, ev.KeySet)
		}
		return d.wrapNil("record custody", err)
	})
	return index, err
}
