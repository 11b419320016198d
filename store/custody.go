package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
		a, err := tx.Append(Record{Event: ev, Recipient: c.Recipient, Notes: c.Notes, Still: c.Still, StillMissing: c.StillMissing})
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
	return d.ReturnKey(ctx, Returned{KeySet: keySet, Member: member, Slot: slot, WrongSlot: wrongSlot})
}

// Returned is a return for ReturnKey: Return's arguments, and the
// camera's still kept with its entry (Record.Still, Record.StillMissing).
type Returned struct {
	KeySet, Member string
	Slot           int
	WrongSlot      bool
	Still          []byte
	StillMissing   string
}

// ReturnKey is Return with a still.
func (d *DB) ReturnKey(ctx context.Context, r Returned) (int64, error) {
	keySet, member, slot, wrongSlot := r.KeySet, r.Member, r.Slot, r.WrongSlot
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
		a, err := tx.Append(Record{Event: ev, Still: r.Still, StillMissing: r.StillMissing})
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
// config snapshot, their badges, and every piece of personal text that
// belongs to them (the values of badges linked to them at the touchscreen
// among them: LinkBadge).
// It logs member.erased (by actor) and then rewrites the files so the
// erased bytes are gone from the database and its WAL: secure_delete
// zeroes freed cells, and a truncating checkpoint empties the WAL.
// ApplyConfig runs the same for each member a bundle lists as erased at
// HQ (Config.Erased).
func (d *DB) Erase(ctx context.Context, member, actor string) error {
	var texts int64
	err := d.Update(ctx, func(tx *Tx) error {
		var err error
		texts, err = tx.erase(member, actor)
		return err
	})
	d.changedConfig()
	if err != nil {
		return err
	}
	d.log.Info("member personal data erased", "member", member, "texts", texts)
	return d.Compact(ctx)
}

// erase erases member within the transaction (Erase) and returns how
// many personal texts went.
func (tx *Tx) erase(member, actor string) (int64, error) {
	d := tx.d
	res, err := tx.Exec("DELETE FROM personal WHERE subject = ?", member)
	if err != nil {
		return 0, d.wrap("erase personal text", err)
	}
	texts, _ := res.RowsAffected()
	if res, err = tx.Exec("DELETE FROM stills WHERE subject = ?", member); err != nil {
		return 0, d.wrap("erase stills", err)
	}
	stills, _ := res.RowsAffected()
	texts += stills
	if _, err := tx.Exec("UPDATE members SET name = '', email = '', pin_hash = '', erased_ms = ? WHERE id = ?", d.now().UnixMilli(), member); err != nil {
		return 0, d.wrap("erase member", err)
	}
	if _, err := tx.Exec("DELETE FROM badges WHERE member_id = ?", member); err != nil {
		return 0, d.wrap("erase badges", err)
	}
	// The hashes of badges linked to them at the touchscreen, kept for
	// applying the links again over bundles (touch.go); their entries
	// hold only a reference (LinkBadge), and their values went with the
	// personal texts above.
	if _, err := tx.Exec("UPDATE touch_changes SET hash = X'' WHERE change = ? AND target = ?", keycab.ChangeBadgeLinked, member); err != nil {
		return 0, d.wrap("erase badges", err)
	}
	a, err := tx.Append(Record{Event: &audit.Event{
		Kind:   keycab.EventMemberErased,
		Actor:  actor,
		Detail: map[string]string{"member": member},
	}})
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec("INSERT INTO erasures (member_id, log_index, erased_ms) VALUES (?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET log_index = excluded.log_index, erased_ms = excluded.erased_ms",
		member, a.Index, d.now().UnixMilli())
	return texts, d.wrapNil("record erasure", err)
}

// pendingErasures returns the members of erased (a bundle's
// Config.Erased) this kiosk holds anything of and has not erased yet.
func (tx *Tx) pendingErasures(erased []string) ([]string, error) {
	var out []string
	for _, id := range erased {
		var pending bool
		err := tx.QueryRow(`SELECT NOT EXISTS (SELECT 1 FROM erasures WHERE member_id = ?1)
			AND (EXISTS (SELECT 1 FROM members WHERE id = ?1) OR EXISTS (SELECT 1 FROM personal WHERE subject = ?1)
			OR EXISTS (SELECT 1 FROM stills WHERE subject = ?1)
			OR EXISTS (SELECT 1 FROM badges WHERE member_id = ?1))`, id).Scan(&pending)
		if err != nil {
			return nil, tx.d.wrap("read erasures", err)
		}
		if pending {
			out = append(out, id)
		}
	}
	return out, nil
}

// Lifecycle is what the applied bundle says of the record lifecycle
// (keycab.Config Held and PersonalTextDays).
type Lifecycle struct {
	Held             []string
	PersonalTextDays int
}

// ExpirePersonal applies the bundle's personal-text retention rule: it
// deletes the personal texts of entries older than PersonalTextDays
// (by their entry's time), except those of a held member, of a held key
// set, or all of them when the kiosk's site is held, and logs
// personal.expired with the cut-off and the held ids, so that Verify counts the texts as
// removed by retention, not as missing. Entries are never touched. It
// returns how many texts went; with none it logs nothing. It compacts the
// database after deleting, and when an erasure by bundle could not.
func (d *DB) ExpirePersonal(ctx context.Context) (int64, error) {
	var n int64
	err := d.Update(ctx, func(tx *Tx) error {
		var site, js string
		err := tx.QueryRow("SELECT site_id, lifecycle FROM config WHERE id = 1").Scan(&site, &js)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return d.wrap("read lifecycle", err)
		}
		var lc Lifecycle
		if err := json.Unmarshal([]byte(js), &lc); err != nil {
			return fmt.Errorf("read lifecycle: %w", err)
		}
		if lc.PersonalTextDays <= 0 || slices.Contains(lc.Held, site) {
			return nil
		}
		held, _ := json.Marshal(append([]string{}, lc.Held...))
		before := d.now().Add(-time.Duration(lc.PersonalTextDays) * 24 * time.Hour).UnixMilli()
		res, err := tx.Exec(`DELETE FROM personal WHERE at_ms > 0 AND at_ms < ?
			AND subject NOT IN (SELECT value FROM json_each(?2)) AND keyset NOT IN (SELECT value FROM json_each(?2))`, before, string(held))
		if err != nil {
			return d.wrap("expire personal text", err)
		}
		n, _ = res.RowsAffected()
		// Stills go by the same rule (their at_ms is always the entry's).
		if res, err = tx.Exec(`DELETE FROM stills WHERE at_ms < ?
			AND subject NOT IN (SELECT value FROM json_each(?2)) AND keyset NOT IN (SELECT value FROM json_each(?2))`, before, string(held)); err != nil {
			return d.wrap("expire stills", err)
		}
		stills, _ := res.RowsAffected()
		if n+stills == 0 {
			return nil
		}
		detail := map[string]string{"before": strconv.FormatInt(before, 10), "texts": strconv.FormatInt(n, 10), "held": strings.Join(lc.Held, ",")}
		if stills > 0 {
			detail["stills"] = strconv.FormatInt(stills, 10)
		}
		n += stills
		_, err = tx.Append(Record{Event: &audit.Event{Kind: keycab.EventTextsExpired, Detail: detail}})
		return err
	})
	if err != nil {
		return n, err
	}
	if n == 0 && !d.compactDue.Load() {
		return 0, nil
	}
	if n > 0 {
		d.log.Info("personal texts expired", "texts", n)
	}
	if err := d.Compact(ctx); err != nil {
		d.compactDue.Store(true)
		return n, err
	}
	if d.compactDue.Swap(false) {
		d.log.Info("files compacted after an erasure")
	}
	return n, nil
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
