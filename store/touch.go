package store

import (
	"context"
	"fmt"
	"strconv"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Touchscreen changes (sync/wire minor version 2). A fob enrolled, a
// badge linked or a slot mapped at this kiosk is an admin.change entry, which HQ applies
// when the entry is pushed, and a touch_changes row (migration 0005). A
// bundle answers the entries before its ChangesThrough: their changes are
// in it, or listed in its Refused. ApplyConfig applies the kiosk's own
// later changes again over the bundle, so none vanishes between the push
// and the bundle that carries it, and records each refusal once, as an
// admin.change entry of change change.refused (which HQ does not apply).

// touchRefusalsQuery reads the newest refusals HQ sent, oldest first, for
// Snapshot's Refused (the admin screen shows them).
const touchRefusalsQuery = `SELECT log_index, change, refused FROM
	(SELECT log_index, change, refused FROM touch_changes WHERE refused <> '' ORDER BY log_index DESC LIMIT 20) ORDER BY log_index`

// touchChange records the change appended at index in touch_changes.
func (tx *Tx) touchChange(index int64, change string, hash []byte, target string, kind keycab.BadgeKind, slot int) error {
	if hash == nil {
		hash = []byte{}
	}
	_, err := tx.Exec("INSERT INTO touch_changes (log_index, change, hash, target, kind, slot) VALUES (?, ?, ?, ?, ?, ?)",
		index, change, hash, target, string(kind), slot)
	return err
}

// MapSlot makes slot number home key set keySetID (none if empty) at the
// kiosk, as an admin did on its screen, moving the key set from the slot
// that homed it, and logs admin.change by actor, which HQ applies. A slot
// or key set the config does not hold is refused.
func (d *DB) MapSlot(ctx context.Context, actor string, number int, keySetID string) error {
	defer d.changedConfig()
	return d.Update(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM slots WHERE number = ?", number).Scan(&n); err != nil {
			return d.wrap("map slot", err)
		} else if n == 0 {
			return keycab.Errorf(keycab.ENOTFOUND, "no %s", keycab.SlotName(number))
		}
		if keySetID != "" {
			if err := tx.QueryRow("SELECT count(*) FROM keysets WHERE id = ?", keySetID).Scan(&n); err != nil {
				return d.wrap("map slot", err)
			} else if n == 0 {
				return keycab.Errorf(keycab.ENOTFOUND, "no key set %q", keySetID)
			}
		}
		if err := tx.mapSlot(number, keySetID); err != nil {
			return d.wrap("map slot", err)
		}
		a, err := tx.Append(Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: actor, KeySet: keySetID,
			Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": strconv.Itoa(number)}}})
		if err != nil {
			return err
		}
		return tx.touchChange(a.Index, keycab.ChangeSlotMapped, nil, keySetID, "", number)
	})
}

// mapSlot moves key set keySetID to slot number.
func (tx *Tx) mapSlot(number int, keySetID string) error {
	var ks any
	if keySetID != "" {
		ks = keySetID
		if _, err := tx.Exec("UPDATE slots SET keyset_id = NULL WHERE keyset_id = ? AND number <> ?", keySetID, number); err != nil {
			return err
		}
	}
	_, err := tx.Exec("UPDATE slots SET keyset_id = ? WHERE number = ?", ks, number)
	return err
}

// applyTouch records the bundle c's refusals and applies again the
// kiosk's own changes that c does not answer yet, after c's rows replaced
// the snapshot. A change whose key set or member c no longer holds, or
// whose badge or label c gives to another, is left out (HQ will refuse it
// when it reads the entry).
func (tx *Tx) applyTouch(c *keycab.Config) error {
	for _, r := range c.Refused {
		reason := r.Reason
		if reason == "" {
			reason = "refused"
		}
		res, err := tx.Exec("UPDATE touch_changes SET refused = ? WHERE log_index = ? AND refused = ''", reason, r.Index)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			res, err = tx.Exec("INSERT INTO touch_changes (log_index, change, hash, target, refused) VALUES (?, ?, X'', '', ?) ON CONFLICT (log_index) DO NOTHING",
				r.Index, r.Change, reason)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		if n == 0 {
			continue // recorded before
		}
		if _, err := tx.Append(Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Detail: map[string]string{
			"change": keycab.ChangeRefused, "index": strconv.FormatInt(r.Index, 10), "refused_change": r.Change, "reason": reason,
		}}}); err != nil {
			return err
		}
	}
	for i, q := range []string{
		`INSERT INTO keyset_tokens (hash, keyset_id, issued_ms) SELECT t.hash, t.target, ? FROM touch_changes t
		 WHERE t.log_index >= ? AND t.refused = '' AND t.change = '` + keycab.ChangeTokenEnrolled + `'
		 AND EXISTS (SELECT 1 FROM keysets k WHERE k.id = t.target) ORDER BY t.log_index ON CONFLICT (hash) DO NOTHING`,
		`INSERT INTO badges (hash, member_id, kind) SELECT t.hash, t.target, t.kind FROM touch_changes t
		 WHERE t.log_index >= ? AND t.refused = '' AND t.change = '` + keycab.ChangeBadgeLinked + `' AND length(t.hash) = 32
		 AND EXISTS (SELECT 1 FROM members m WHERE m.id = t.target) ORDER BY t.log_index ON CONFLICT (hash) DO NOTHING`,
	} {
		args := []any{c.ChangesThrough}
		if i == 0 {
			args = []any{tx.d.now().UnixMilli(), c.ChangesThrough}
		}
		if _, err := tx.Exec(q, args...); err != nil {
			return fmt.Errorf("apply touchscreen changes: %w", err)
		}
	}
	return tx.applySlotMaps(c)
}

// applySlotMaps applies again, in log order, the kiosk's slot mappings c
// does not answer yet, where c still holds the slot and the key set.
func (tx *Tx) applySlotMaps(c *keycab.Config) error {
	slots, keySets := map[int]bool{}, map[string]bool{"": true}
	for _, s := range c.Slots {
		slots[s.Number] = true
	}
	for _, k := range c.KeySets {
		keySets[k.ID] = true
	}
	rows, err := tx.tx.QueryContext(tx.ctx, `SELECT slot, target FROM touch_changes WHERE log_index >= ? AND refused = '' AND change = ? ORDER BY log_index`,
		c.ChangesThrough, keycab.ChangeSlotMapped)
	if err != nil {
		return fmt.Errorf("apply slot mappings: %w", err)
	}
	type mapping struct {
		slot   int
		keySet string
	}
	var ms []mapping
	for rows.Next() {
		var m mapping
		if err := rows.Scan(&m.slot, &m.keySet); err != nil {
			rows.Close()
			return err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		if slots[m.slot] && keySets[m.keySet] {
			if err := tx.mapSlot(m.slot, m.keySet); err != nil {
				return fmt.Errorf("apply slot mappings: %w", err)
			}
		}
	}
	return nil
}
