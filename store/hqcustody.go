package store

import (
	"database/sql"
	"errors"
	"strconv"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// adoptHQCustody adopts the custody changes made at HQ that a bundle
// carries (keycab.Config.HQCustody), inside ApplyConfig's transaction:
// each HQ log entry once (hq_custody). Where the kiosk's custody of the
// key set differs from HQ's, it logs custody.hq (KeySet with Second, or
// back when Second is empty; Detail hq_index and the holder before) and
// custody follows, so the kiosk shows the key set with whoever HQ says
// has it and raises nothing for it. A change the kiosk made after HQ's
// (its custody row is newer than HQ's change, by the kiosk's clock) is
// kept: HQ will hear of it with the next push. It returns how many it
// logged.
func (tx *Tx) adoptHQCustody(changes []keycab.HQCustody) (int, error) {
	d := tx.d
	n := 0
	for _, c := range changes {
		if c.KeySetID == "" || c.Index < 0 {
			continue
		}
		var seen int64 = -1
		err := tx.QueryRow("SELECT hq_index FROM hq_custody WHERE keyset_id = ?", c.KeySetID).Scan(&seen)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return n, d.wrap("read hq custody", err)
		}
		if c.Index <= seen {
			continue
		}
		var have string
		var taken int64
		err = tx.QueryRow("SELECT member_id, taken_ms FROM custody WHERE keyset_id = ?", c.KeySetID).Scan(&have, &taken)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return n, d.wrap("read custody", err)
		}
		newer := have != "" && taken > c.At.UnixMilli()
		if have != c.MemberID && !newer {
			ev := &audit.Event{Kind: keycab.EventCustodyFromHQ, KeySet: c.KeySetID, Second: c.MemberID,
				Detail: map[string]string{"hq_index": strconv.FormatInt(c.Index, 10)}}
			if have != "" {
				ev.Detail["holder"] = have
			}
			a, err := tx.Append(Record{Event: ev})
			if err != nil {
				return n, err
			}
			switch {
			case c.MemberID == "":
				_, err = tx.Exec("DELETE FROM custody WHERE keyset_id = ?", c.KeySetID)
			case have == "":
				_, err = tx.Exec(`INSERT INTO custody (keyset_id, member_id, second_id, slot, log_index, taken_ms, due_ms, reason)
					VALUES (?, ?, '', 0, ?, ?, ?, '')`, c.KeySetID, c.MemberID, a.Index, ms(c.Since), ms(c.Due))
			default:
				_, err = tx.Exec("UPDATE custody SET member_id = ?, second_id = '' WHERE keyset_id = ?", c.MemberID, c.KeySetID)
			}
			if err != nil {
				return n, d.wrap("record custody", err)
			}
			n++
		}
		if _, err := tx.Exec("INSERT INTO hq_custody (keyset_id, hq_index) VALUES (?, ?) ON CONFLICT (keyset_id) DO UPDATE SET hq_index = excluded.hq_index",
			c.KeySetID, c.Index); err != nil {
			return n, d.wrap("record hq custody", err)
		}
	}
	return n, nil
}
