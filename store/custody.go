package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Take records that c.MemberID took key set c.KeySetID: it appends
// key.taken and adds the custody row in one transaction, and fills in
// c.LogIndex. A key set already out is refused (keycab.ECONFLICT).
func (d *DB) Take(ctx context.Context, c *keycab.Checkout) error {
	return d.Update(ctx, func(tx *Tx) error {
		var holder string
		err := tx.QueryRow("SELECT member_id FROM custody WHERE keyset_id = ?", c.KeySetID).Scan(&holder)
		if err == nil {
			return keycab.Errorf(keycab.ECONFLICT, "key set %s is already out", c.KeySetID)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return d.wrap("read custody", err)
		}
		ev := &audit.Event{
			Kind:   keycab.EventKeyTaken,
			Actor:  c.MemberID,
			Second: c.SecondID,
			KeySet: c.KeySetID,
			Slot:   uint(c.Slot),
			Due:    ms(c.DueAt),
			Reason: c.Reason,
			Time:   ms(c.TakenAt),
		}
		if c.ThirdID != "" {
			// The third member of a triple release; the entry format has
			// a field for the second only.
			ev.Detail = map[string]string{"third": c.ThirdID}
		}
		a, err := tx.Append(Record{Event: ev, Recipient: c.Recipient, Notes: c.Notes})
		if err != nil {
			return err
		}
		c.LogIndex = a.Index
		c.TakenAt = ev.WallTime()
		_, err = tx.Exec(`INSERT INTO custody (keyset_id, member_id, second_id, slot, log_index, taken_ms, due_ms, reason, recipient_ref, notes_ref)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.KeySetID, c.MemberID, c.SecondID, c.Slot, a.Index, ev.Time, ev.Due, c.Reason, ev.Recipient, ev.Notes)
		return d.wrapNil("record custody", err)
	})
}

// Return records that key set keySet came back (into slot, 0 when the
// cabinet has none), by member (who may differ from the holder). It
// appends key.returned and removes the custody row in one transaction.
// wrongSlot flags a return into a slot that is not the key set's home.
func (d *DB) Return(ctx context.Context, keySet, member string, slot int, wrongSlot bool) (int64, error) {
	var index int64
	err := d.Update(ctx, func(tx *Tx) error {
		var holder string
		err := tx.QueryRow("SELECT member_id FROM custody WHERE keyset_id = ?", keySet).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.ECONFLICT, "key set %s is not out", keySet)
		} else if err != nil {
			return d.wrap("read custody", err)
		}
		ev := &audit.Event{Kind: keycab.EventKeyReturned, Actor: member, KeySet: keySet, Slot: uint(slot)}
		if holder != member {
			ev.Detail = map[string]string{"holder": holder}
		}
		if wrongSlot {
			if ev.Detail == nil {
				ev.Detail = map[string]string{}
			}
			ev.Detail["wrong_slot"] = "true"
		}
		a, err := tx.Append(Record{Event: ev})
		if err != nil {
			return err
		}
		index = a.Index
		_, err = tx.Exec("DELETE FROM custody WHERE keyset_id = ?", keySet)
		return d.wrapNil("record custody", err)
	})
	return index, err
}

// KeysOut returns every key set out now, oldest first. Personal text is
// filled in while it has not been erased.
func (d *DB) KeysOut(ctx context.Context) ([]keycab.Checkout, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT c.keyset_id, c.member_id, c.second_id, c.slot, c.log_index, c.taken_ms, c.due_ms, c.reason,
		       coalesce(r.text, ''), coalesce(n.text, '')
		FROM custody c
		LEFT JOIN personal r ON r.ref = c.recipient_ref
		LEFT JOIN personal n ON n.ref = c.notes_ref
		ORDER BY c.log_index`)
	if err != nil {
		return nil, d.wrap("read custody", err)
	}
	defer rows.Close()
	var out []keycab.Checkout
	for rows.Next() {
		var c keycab.Checkout
		var taken, due int64
		if err := rows.Scan(&c.KeySetID, &c.MemberID, &c.SecondID, &c.Slot, &c.LogIndex, &taken, &due, &c.Reason, &c.Recipient, &c.Notes); err != nil {
			return nil, fmt.Errorf("read custody: %w", err)
		}
		c.TakenAt, c.DueAt = fromMS(taken), fromMS(due)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PersonalText returns the personal text behind a reference from an entry,
// or "" once erased.
func (d *DB) PersonalText(ctx context.Context, ref []byte) (string, error) {
	var s string
	err := d.db.QueryRowContext(ctx, "SELECT text FROM personal WHERE ref = ?", ref).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, d.wrapNil("read personal text", err)
}

// Erase removes a member's personal data: their name and email in the
// config snapshot and every piece of personal text that belongs to them.
// It logs member.erased (by actor) and then rewrites the files so the
// erased bytes are gone from the database and its WAL: secure_delete
// zeroes freed cells, and a truncating checkpoint empties the WAL.
func (d *DB) Erase(ctx context.Context, member, actor string) error {
	var texts int64
	err := d.Update(ctx, func(tx *Tx) error {
		res, err := tx.Exec("DELETE FROM personal WHERE subject = ?", member)
		if err != nil {
			return d.wrap("erase personal text", err)
		}
		texts, _ = res.RowsAffected()
		if _, err := tx.Exec("UPDATE members SET name = '', email = '', erased_ms = ? WHERE id = ?", d.now().UnixMilli(), member); err != nil {
			return d.wrap("erase member", err)
		}
		_, err = tx.Append(Record{Event: &audit.Event{
			Kind:   keycab.EventMemberErased,
			Actor:  actor,
			Detail: map[string]string{"member": member},
		}})
		return err
	})
	d.changedConfig()
	if err != nil {
		return err
	}
	d.log.Info("member personal data erased", "member", member, "texts", texts)
	return d.Compact(ctx)
}

// Compact rewrites the database without free space and empties the WAL,
// so that nothing deleted survives in either file.
func (d *DB) Compact(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.db.ExecContext(ctx, "VACUUM"); err != nil {
		return d.wrap("vacuum", err)
	}
	var busy, logFrames, done int
	if err := d.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return d.wrap("checkpoint", err)
	}
	if busy != 0 {
		return fmt.Errorf("compact %s: another reader kept the WAL from being emptied; try again", d.path)
	}
	return nil
}
