package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Kiosk is an enrolled kiosk: the device principal of one cabinet.
type Kiosk struct {
	ID         string
	OrgID      string
	CabinetID  string
	Name       string
	PublicKey  []byte
	EnrolledAt time.Time
	LastSeen   time.Time
	LogSize    int64
	RevokedAt  time.Time
}

// CreateKiosk enrols a kiosk for a cabinet. Owners, admins and the site's
// managers.
func (s *Store) CreateKiosk(ctx context.Context, sc Scope, k Kiosk) (Kiosk, error) {
	err := s.write(ctx, "create kiosk", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("enrolling a kiosk"); err != nil {
			return err
		}
		if err := t.sameOrg(k.OrgID); err != nil {
			return err
		}
		c, err := t.cabinet(ctx, k.CabinetID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("enrolling a kiosk needs an owner, admin or the site's manager")
		}
		k.ID, k.OrgID, k.EnrolledAt = newID("kiosk"), t.org(), t.now
		k.LastSeen, k.LogSize, k.RevokedAt = time.Time{}, 0, time.Time{}
		if _, err := t.exec(ctx, `INSERT INTO kiosks (org_id, id, cabinet_id, name, public_key, enrolled_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.OrgID, k.ID, k.CabinetID, k.Name, k.PublicKey, us(k.EnrolledAt)); err != nil {
			return err
		}
		return t.logAction(ctx, "kiosk.create", k.ID, k.CabinetID)
	})
	return k, err
}

// ListKiosks returns the kiosks the principal may see: owners, admins and
// auditors all; site managers those of their sites.
func (s *Store) ListKiosks(ctx context.Context, sc Scope) ([]Kiosk, error) {
	var out []Kiosk
	err := s.read(ctx, "list kiosks", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("kiosk health is for managers and auditors")
		}
		var err error
		out, err = t.kiosks(ctx, "")
		return err
	})
	return out, err
}

func (t *tx) kiosks(ctx context.Context, id string) ([]Kiosk, error) {
	rows, err := t.query(ctx, `SELECT k.id, k.cabinet_id, c.site_id, k.name, k.public_key, k.enrolled_us, k.last_seen_us, k.log_size, k.revoked_us
		FROM kiosks k JOIN cabinets c ON c.org_id = k.org_id AND c.id = k.cabinet_id
		WHERE k.org_id = $1 AND ($2 = '' OR k.id = $2) ORDER BY k.name, k.id`, t.org(), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Kiosk
	for rows.Next() {
		k := Kiosk{OrgID: t.org()}
		var site string
		var enrolled, seen, revoked int64
		if err := rows.Scan(&k.ID, &k.CabinetID, &site, &k.Name, &k.PublicKey, &enrolled, &seen, &k.LogSize, &revoked); err != nil {
			return nil, err
		}
		k.EnrolledAt, k.LastSeen, k.RevokedAt = fromUS(enrolled), fromUS(seen), fromUS(revoked)
		if t.p.seesSite(site) {
			out = append(out, k)
		}
	}
	return out, rows.Err()
}

// RevokeKiosk revokes a kiosk: its principal stops working at once.
func (s *Store) RevokeKiosk(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "revoke kiosk "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("revoking a kiosk"); err != nil {
			return err
		}
		ks, err := t.kiosks(ctx, id)
		if err != nil {
			return err
		}
		if len(ks) == 0 || t.p.role == keycab.RoleStaff || t.p.role == keycab.RoleContractor {
			return notFound("kiosk", id)
		}
		c, err := t.cabinet(ctx, ks[0].CabinetID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("revoking a kiosk needs an owner, admin or the site's manager")
		}
		if _, err := t.exec(ctx, "UPDATE kiosks SET revoked_us = $1 WHERE org_id = $2 AND id = $3 AND revoked_us = 0", us(t.now), t.org(), id); err != nil {
			return err
		}
		return t.logAction(ctx, "kiosk.revoke", id, "")
	})
}

// Event is one entry of a kiosk's log as HQ keeps it for history and
// custody. The kiosk's signed leaf stays the evidence (hq/kioskapi).
type Event struct {
	OrgID     string
	KioskID   string
	LogIndex  int64
	Kind      keycab.EventKind
	ActorID   string // the member, if any
	KeySetID  string // the key set, if any
	CabinetID string
	At        time.Time // the kiosk's wall time
	DueAt     time.Time // key.taken: when the key set is due back
	Detail    string    // alarm.raised: the alarm's name (keycab.Alarm...)
	EventRecord
	// NotBefore is HQ's lower bound on when the event happened: the HQ
	// time of the newest clock.anchored entry before it in the kiosk's
	// log (zero: none). Its upper bound is when HQ received it (see
	// EventTimes).
	NotBefore time.Time
	// Entry is the decoded log entry, given for key.rotate (whose
	// signatures HQ checks before it pins the new key; not stored) and
	// for admin.change (a touchscreen change HQ applies, kioskchange.go).
	Entry *audit.Event
}

// EventRecord is what an event records beyond who, what and when, as
// the kiosk's entry holds it, and the personal text its entry references
// (personal.go) where the reader may see it.
type EventRecord struct {
	Reason   string // key.taken: the reason preset
	SecondID string // the second member of a dual or triple release
	ThirdID  string // the third member of a triple release
	Slot     int    // the slot taken from or returned to; 0 for none
	Via      string // identified: the reader (rfid, wiegand, camera...)
	// Context is what an alarm was about ("1 High St from slot 2"), or a
	// return's circumstances ("wrong slot", "for HOLDER").
	Context string
	// HomeSlot is, for a return to a wrong slot, the slot of its cabinet
	// the key set is mapped to (HQ's slot map as it is now); 0 otherwise.
	// ListEvents fills it in; it is not stored in events.
	HomeSlot int
	// Recipient and Notes are the entry's personal text, filled in by
	// ListEvents for a reader who may see it (personal.go); empty
	// otherwise, and never stored in events.
	Recipient string
	Notes     string
	// Still is set, by ListEvents, when HQ keeps the entry's camera still
	// and the reader may see it (stills.go: EventStill reads it).
	Still bool
}

// RecordEvents stores events of the principal's own kiosk, in log order,
// and applies them: key.taken and key.returned move custody, alarm.raised
// opens an alarm. Resending an event already stored is a no-op; the same
// index with other content is refused (ECONFLICT) as equivocation.
func (s *Store) RecordEvents(ctx context.Context, sc Scope, events []Event) error {
	return s.write(ctx, "record events", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("only a kiosk records its events")
		}
		var size int64
		if err := t.queryRow(ctx, "SELECT log_size FROM kiosks WHERE org_id = $1 AND id = $2", t.org(), t.p.kiosk).Scan(&size); err != nil {
			return err
		}
		for _, e := range events {
			if e.KioskID != "" && e.KioskID != t.p.kiosk {
				return notFound("kiosk", e.KioskID)
			}
			if (e.OrgID != "" && e.OrgID != t.org()) || (e.CabinetID != "" && e.CabinetID != t.p.cabinet) {
				return notFound("cabinet", e.CabinetID)
			}
			size = max(size, e.LogIndex+1)
		}
		added, err := t.recordEvents(ctx, events)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE kiosks SET last_seen_us = $1, log_size = $2 WHERE org_id = $3 AND id = $4",
			us(t.now), size, t.org(), t.p.kiosk); err != nil {
			return err
		}
		if added == 0 {
			return nil
		}
		return t.logAction(ctx, "events.record", t.p.kiosk, strconv.Itoa(added)+" events")
	})
}

// recordEvents stores the principal kiosk's events and applies the new
// ones (custody, alarms); a resent event must match the stored one. It
// returns how many were new. Events are stored in runs up to the next
// clock.anchored entry (whose time bound depends on the events before it),
// then applied in log order.
func (t *tx) recordEvents(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	bound, err := t.timeBound(ctx, events[0].LogIndex)
	if err != nil {
		return 0, err
	}
	added := 0
	var pending []Event
	flush := func() error {
		n, err := t.insertEvents(ctx, pending)
		added += n
		pending = pending[:0]
		return err
	}
	for _, e := range events {
		e.OrgID, e.KioskID, e.CabinetID = t.org(), t.p.kiosk, t.p.cabinet
		if e.LogIndex < 0 || e.Kind == "" {
			return added, invalid("event %d: needs an index and a kind", e.LogIndex)
		}
		if e.Kind == keycab.EventClockAnchored {
			// The anchor is checked against the events before it, which
			// must be stored first.
			if err := flush(); err != nil {
				return added, err
			}
			if at, ok, err := t.anchorTime(ctx, e); err != nil {
				return added, err
			} else if ok {
				bound = max(bound, at)
			}
		}
		e.NotBefore = fromUS(bound)
		pending = append(pending, e)
	}
	return added, flush()
}

// insertEvents inserts events (of the principal kiosk, with their lower
// time bounds), then, in log order, applies those that were new and checks
// those that were not against the stored ones. It returns how many were
// new. On SQLite, in process, each event is one execution of a statement
// prepared once (tx.prepared); on PostgreSQL, where every statement is a
// round trip, one statement takes them all as arrays, a column each.
func (t *tx) insertEvents(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	inserted := make(map[int64]bool, len(events))
	if t.s.engine == SQLite {
		// Rows of sqliteEventRows to a statement (the same few texts
		// prepared once a transaction), the push's constants bound once a
		// statement; RETURNING names the rows that were new.
		for start := 0; start < len(events); start += sqliteEventRows {
			chunk := events[start:min(len(events), start+sqliteEventRows)]
			args := make([]any, 0, 5+14*len(chunk))
			args = append(args, t.org(), t.p.kiosk, t.p.cabinet, us(t.now), t.p.site)
			for _, e := range chunk {
				args = append(args, e.LogIndex, string(e.Kind), e.ActorID, e.KeySetID, us(e.At), us(e.DueAt), e.Detail, us(e.NotBefore),
					e.Reason, e.SecondID, e.ThirdID, e.Slot, e.Via, e.Context)
			}
			rows, err := t.query(ctx, sqliteEventInsert.text(len(chunk)), args...)
			if err != nil {
				return 0, err
			}
			if err := readIndexes(rows, inserted); err != nil {
				return 0, err
			}
		}
	} else {
		n := len(events)
		var (
			idx, at, due, notBefore, slot = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
			kind, actor, keySet, detail   = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			reason, second, third         = make([]string, n), make([]string, n), make([]string, n)
			via, context                  = make([]string, n), make([]string, n)
		)
		for i, e := range events {
			idx[i], kind[i], actor[i], keySet[i] = e.LogIndex, string(e.Kind), e.ActorID, e.KeySetID
			at[i], due[i], detail[i], notBefore[i] = us(e.At), us(e.DueAt), e.Detail, us(e.NotBefore)
			reason[i], second[i], third[i], slot[i], via[i], context[i] = e.Reason, e.SecondID, e.ThirdID, int64(e.Slot), e.Via, e.Context
		}
		rows, err := t.query(ctx, `INSERT INTO events (org_id, kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, received_us, site_id, not_before_us,
				reason, second_id, third_id, slot, via, context)
			SELECT $1, $2, u.idx, u.kind, u.actor, u.key_set, $3, u.at, u.due, u.detail, CAST($4 AS BIGINT), $5, u.not_before,
				u.reason, u.second, u.third, u.slot, u.via, u.context
			FROM unnest(CAST($6 AS BIGINT[]), CAST($7 AS TEXT[]), CAST($8 AS TEXT[]), CAST($9 AS TEXT[]), CAST($10 AS BIGINT[]), CAST($11 AS BIGINT[]), CAST($12 AS TEXT[]), CAST($13 AS BIGINT[]),
				CAST($14 AS TEXT[]), CAST($15 AS TEXT[]), CAST($16 AS TEXT[]), CAST($17 AS BIGINT[]), CAST($18 AS TEXT[]), CAST($19 AS TEXT[]))
				AS u (idx, kind, actor, key_set, at, due, detail, not_before, reason, second, third, slot, via, context)
			ON CONFLICT (org_id, kiosk_id, log_index) DO NOTHING RETURNING log_index`,
			t.org(), t.p.kiosk, t.p.cabinet, us(t.now), t.p.site, idx, kind, actor, keySet, at, due, detail, notBefore,
			reason, second, third, slot, via, context)
		if err != nil {
			return 0, err
		}
		if err := readIndexes(rows, inserted); err != nil {
			return 0, err
		}
	}
	var fresh []Event
	for _, e := range events {
		if !inserted[e.LogIndex] {
			if err := t.sameEvent(ctx, e); err != nil {
				return 0, err
			}
			continue
		}
		fresh = append(fresh, e)
	}
	if err := t.emitEvents(ctx, fresh); err != nil {
		return 0, err
	}
	return len(inserted), t.applyEvents(ctx, fresh)
}

// sqliteApplyRows bounds the key sets and alarms applyEvents takes in
// one statement on SQLite (6 numbered parameters each, which SQLite binds
// in time quadratic in their number).
const sqliteApplyRows = 200

// sqliteEventRows is how many events one INSERT takes on SQLite: 14
// parameters each, well inside SQLite's bound of 32766.
const sqliteEventRows = 500

// sqliteEventInsert is the INSERT of many events on SQLite: first the
// organisation, kiosk, cabinet, HQ's time and site, then 14 parameters an
// event. RETURNING names the rows that were new.
var sqliteEventInsert = &multiRowInsert{
	head: `INSERT INTO events (org_id, kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, received_us, site_id, not_before_us,
			reason, second_id, third_id, slot, via, context)
		SELECT c.org, c.kiosk, v.column1, v.column2, v.column3, v.column4, c.cabinet, v.column5, v.column6, v.column7, c.received, c.site, v.column8,
			v.column9, v.column10, v.column11, v.column12, v.column13, v.column14
		FROM (SELECT ? AS org, ? AS kiosk, ? AS cabinet, ? AS received, ? AS site) AS c, (VALUES `,
	row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	// WHERE true: without it SQLite would read ON CONFLICT as a join's.
	tail: ") AS v WHERE true ON CONFLICT (org_id, kiosk_id, log_index) DO NOTHING RETURNING log_index",
}

// multiRowInsert is an INSERT of many rows in one statement on SQLite:
// head, the VALUES rows (row, n times), tail. Its parameters are anonymous
// (?): SQLite looks a numbered or named one up in a list, which made a
// 500-row statement's binding quadratic. The texts are kept by row count,
// so a few of them are prepared once a transaction.
type multiRowInsert struct {
	head, row, tail string
	texts           sync.Map // int -> string
}

// text returns the statement for n rows.
func (m *multiRowInsert) text(n int) string {
	if q, ok := m.texts.Load(n); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString(m.head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.row)
	}
	b.WriteString(m.tail)
	q, _ := m.texts.LoadOrStore(n, b.String())
	return q.(string)
}

// readIndexes reads the log indexes an INSERT's RETURNING log_index gave
// into set, and closes the rows.
func readIndexes(rows *sql.Rows, set map[int64]bool) error {
	defer rows.Close()
	for rows.Next() {
		var idx int64
		if err := rows.Scan(&idx); err != nil {
			return err
		}
		set[idx] = true
	}
	return rows.Err()
}

// applyEvents applies new events, in log order, in a few statements
// whatever their number (on PostgreSQL each statement is a round trip;
// on SQLite each is a statement journal and a program run): custody ends as applyEvent one by one would leave it (the last
// take or return of each key set decides: its row is dropped, then made
// again for a take naming a key set and a member HQ knows), and the
// alarms raised are inserted together. A batch with a key rotation is
// applied one by one.
func (t *tx) applyEvents(ctx context.Context, events []Event) error {
	last := map[string]Event{}
	var order []string
	var alarms, changes []Event
	for _, e := range events {
		switch e.Kind {
		case keycab.EventKeyRotate, keycab.EventKeyHandedOver, keycab.EventKeyLost:
			// Rare: one at a time (a hand-over keeps its take's row; a
			// loss and a hand-over are held to the kiosk's own site).
			for _, e := range events {
				if err := t.applyEvent(ctx, e); err != nil {
					return err
				}
			}
			return nil
		case keycab.EventKeyTaken, keycab.EventKeyReturned:
			if _, ok := last[e.KeySetID]; !ok {
				order = append(order, e.KeySetID)
			}
			last[e.KeySetID] = e
		case keycab.EventAlarmRaised:
			alarms = append(alarms, e)
		case keycab.EventAdminChange:
			changes = append(changes, e)
		}
	}
	if t.s.engine == SQLite && max(len(order), len(alarms)) > sqliteApplyRows {
		// Beyond SQLite's bound on parameters: one by one.
		for _, e := range events {
			if err := t.applyEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(order) > 0 {
		del := "DELETE FROM custody WHERE org_id = $1 AND key_set_id = ANY($2)"
		delArgs := []any{t.org(), order}
		if t.s.engine == SQLite {
			del, delArgs = "DELETE FROM custody WHERE org_id = $1"+strings.Replace(notIn("key_set_id", 2, len(order)), "NOT IN", "IN", 1), append([]any{t.org()}, strArgs(order)...)
		}
		if _, err := t.exec(ctx, del, delArgs...); err != nil {
			return err
		}
		args := []any{t.org()}
		var rows []string
		for _, ks := range order {
			e := last[ks]
			if e.Kind != keycab.EventKeyTaken {
				continue
			}
			b := len(args)
			rows = append(rows, fmt.Sprintf("($%d, $%d, $%d, CAST($%d AS BIGINT), CAST($%d AS BIGINT), CAST($%d AS BIGINT))", b+1, b+2, b+3, b+4, b+5, b+6))
			args = append(args, e.KeySetID, e.ActorID, e.KioskID, e.LogIndex, us(e.At), us(e.DueAt))
		}
		if len(rows) > 0 {
			if _, err := t.exec(ctx, `INSERT INTO custody (org_id, key_set_id, member_id, kiosk_id, log_index, taken_us, due_us)
				SELECT $1, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (VALUES `+strings.Join(rows, ", ")+`) AS v
				WHERE EXISTS (SELECT 1 FROM key_sets WHERE org_id = $1 AND id = v.column1) AND EXISTS (SELECT 1 FROM members WHERE org_id = $1 AND id = v.column2)`,
				args...); err != nil {
				return err
			}
		}
	}
	if len(alarms) > 0 {
		args := []any{t.org()}
		rows := make([]string, len(alarms))
		for i, e := range alarms {
			b := len(args)
			rows[i] = fmt.Sprintf("($1, $%d, $%d, $%d, $%d, $%d, $%d)", b+1, b+2, b+3, b+4, b+5, b+6)
			args = append(args, newID("alarm"), e.KioskID, e.CabinetID, e.Detail, e.LogIndex, us(e.At))
		}
		if _, err := t.exec(ctx, `INSERT INTO alarms (org_id, id, kiosk_id, cabinet_id, alarm, log_index, raised_us) VALUES `+strings.Join(rows, ", "), args...); err != nil {
			return err
		}
	}
	for _, e := range changes {
		if err := t.applyKioskChange(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// sameEvent checks that a resent event matches the stored one.
func (t *tx) sameEvent(ctx context.Context, e Event) error {
	var kind, actor, keySet, detail string
	var at, due int64
	var r EventRecord
	err := t.queryRow(ctx, `SELECT kind, actor_id, key_set_id, at_us, due_us, detail, reason, second_id, third_id, slot, via, context FROM events
		WHERE org_id = $1 AND kiosk_id = $2 AND log_index = $3`, t.org(), e.KioskID, e.LogIndex).
		Scan(&kind, &actor, &keySet, &at, &due, &detail, &r.Reason, &r.SecondID, &r.ThirdID, &r.Slot, &r.Via, &r.Context)
	if err != nil {
		return err
	}
	if kind != string(e.Kind) || actor != e.ActorID || keySet != e.KeySetID || at != us(e.At) || due != us(e.DueAt) || detail != e.Detail || r != e.EventRecord {
		return keycab.Errorf(keycab.ECONFLICT, "event %d of kiosk %s differs from the one stored: equivocation", e.LogIndex, e.KioskID)
	}
	return nil
}

// applyEvent moves custody and opens alarms.
func (t *tx) applyEvent(ctx context.Context, e Event) error {
	switch e.Kind {
	case keycab.EventKeyTaken:
		// A kiosk working from an older config may name a key set or a
		// member HQ has since deleted. The event keeps the reference as
		// text; custody holds only what HQ knows, so it moves only when
		// both exist (checked in the statement: a failed insert would
		// abort the whole push on PostgreSQL), and otherwise the key set's
		// previous holder, if any, no longer holds it.
		res, err := t.exec(ctx, `INSERT INTO custody (org_id, key_set_id, member_id, kiosk_id, log_index, taken_us, due_us)
			SELECT $1, $2, $3, $4, CAST($5 AS BIGINT), CAST($6 AS BIGINT), CAST($7 AS BIGINT)
			WHERE EXISTS (SELECT 1 FROM key_sets WHERE org_id = $1 AND id = $2) AND EXISTS (SELECT 1 FROM members WHERE org_id = $1 AND id = $3)
			ON CONFLICT (org_id, key_set_id) DO UPDATE SET member_id = excluded.member_id, kiosk_id = excluded.kiosk_id,
				log_index = excluded.log_index, taken_us = excluded.taken_us, due_us = excluded.due_us`,
			t.org(), e.KeySetID, e.ActorID, e.KioskID, e.LogIndex, us(e.At), us(e.DueAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := t.exec(ctx, "DELETE FROM custody WHERE org_id = $1 AND key_set_id = $2", t.org(), e.KeySetID); err != nil {
				return err
			}
		}
	case keycab.EventKeyReturned:
		if _, err := t.exec(ctx, "DELETE FROM custody WHERE org_id = $1 AND key_set_id = $2", t.org(), e.KeySetID); err != nil {
			return err
		}
	case keycab.EventKeyLost:
		// Only a key set of the kiosk's own site: a kiosk's log does not
		// settle another site's custody.
		if _, err := t.exec(ctx, `DELETE FROM custody WHERE org_id = $1 AND key_set_id = $2
			AND key_set_id IN (SELECT id FROM key_sets WHERE org_id = $1 AND site_id = $3)`, t.org(), e.KeySetID, t.p.site); err != nil {
			return err
		}
	case keycab.EventKeyHandedOver:
		// Detail: the new holder, if HQ knows the member and they may
		// still take keys; a key set of the kiosk's own site only.
		if _, err := t.exec(ctx, `UPDATE custody SET member_id = $1 WHERE org_id = $2 AND key_set_id = $3
			AND key_set_id IN (SELECT id FROM key_sets WHERE org_id = $2 AND site_id = $4)
			AND EXISTS (SELECT 1 FROM members WHERE org_id = $2 AND id = $1 AND NOT disabled AND erased_us = 0)`,
			e.Detail, t.org(), e.KeySetID, t.p.site); err != nil {
			return err
		}
	case keycab.EventKeyRotate:
		return t.rotateKioskKey(ctx, e)
	case keycab.EventAdminChange:
		return t.applyKioskChange(ctx, e)
	case keycab.EventAlarmRaised:
		if _, err := t.exec(ctx, `INSERT INTO alarms (org_id, id, kiosk_id, cabinet_id, alarm, log_index, raised_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.org(), newID("alarm"), e.KioskID, e.CabinetID, e.Detail, e.LogIndex, us(e.At)); err != nil {
			return err
		}
	}
	return nil
}

// Holding is a key set out of its cabinet now.
type Holding struct {
	keycab.Checkout
	OrgID   string
	KioskID string
	SiteID  string
}

// ListCustody returns the key sets out now: all for owners, admins and
// auditors, those of their sites for site managers, their own for staff
// and contractors.
func (s *Store) ListCustody(ctx context.Context, sc Scope) ([]Holding, error) {
	var out []Holding
	err := s.read(ctx, "list custody", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("keys out"); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT c.key_set_id, c.member_id, c.kiosk_id, c.log_index, c.taken_us, c.due_us, k.site_id
			FROM custody c JOIN key_sets k ON k.org_id = c.org_id AND k.id = c.key_set_id
			WHERE c.org_id = $1 ORDER BY c.taken_us, c.key_set_id`, t.org())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h := Holding{OrgID: t.org()}
			var taken, due int64
			if err := rows.Scan(&h.KeySetID, &h.MemberID, &h.KioskID, &h.LogIndex, &taken, &due, &h.SiteID); err != nil {
				return err
			}
			h.TakenAt, h.DueAt = fromUS(taken), fromUS(due)
			switch t.p.role {
			case keycab.RoleStaff, keycab.RoleContractor:
				if h.MemberID != t.p.member {
					continue
				}
			default:
				if !t.p.seesSite(h.SiteID) {
					continue
				}
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// Alarm is an alarm a kiosk raised.
type Alarm struct {
	ID        string
	OrgID     string
	KioskID   string
	CabinetID string
	Alarm     string // keycab.Alarm...
	LogIndex  int64
	RaisedAt  time.Time
	ClearedAt time.Time
	ClearedBy string
	Note      string
	// KeySetID, Slot and Context come from the entry that raised the
	// alarm, once HQ holds it: the key set and slot it is about, if
	// any, and the kiosk's words on it ("door open longer than 1m0s").
	KeySetID string
	Slot     int
	Context  string
}

// ListAlarms returns alarms, newest first (only open ones when open is
// set): owners, admins and auditors all; site managers their sites'.
func (s *Store) ListAlarms(ctx context.Context, sc Scope, open bool) ([]Alarm, error) {
	var out []Alarm
	err := s.read(ctx, "list alarms", sc, func(ctx context.Context, t *tx) error {
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("alarms are for managers and auditors")
		}
		var err error
		out, err = t.alarms(ctx, "", open)
		return err
	})
	return out, err
}

func (t *tx) alarms(ctx context.Context, id string, open bool) ([]Alarm, error) {
	rows, err := t.query(ctx, `SELECT a.id, a.kiosk_id, a.cabinet_id, c.site_id, a.alarm, a.log_index, a.raised_us, a.cleared_us, a.cleared_by, a.note,
			coalesce(e.key_set_id, ''), coalesce(e.slot, 0), coalesce(e.context, '')
		FROM alarms a JOIN cabinets c ON c.org_id = a.org_id AND c.id = a.cabinet_id
		LEFT JOIN events e ON e.org_id = a.org_id AND e.kiosk_id = a.kiosk_id AND e.log_index = a.log_index
		WHERE a.org_id = $1 AND ($2 = '' OR a.id = $2) AND (NOT $3 OR a.cleared_us = 0)
		ORDER BY a.raised_us DESC, a.id`, t.org(), id, open)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alarm
	for rows.Next() {
		a := Alarm{OrgID: t.org()}
		var site string
		var raised, cleared int64
		if err := rows.Scan(&a.ID, &a.KioskID, &a.CabinetID, &site, &a.Alarm, &a.LogIndex, &raised, &cleared, &a.ClearedBy, &a.Note,
			&a.KeySetID, &a.Slot, &a.Context); err != nil {
			return nil, err
		}
		a.RaisedAt, a.ClearedAt = fromUS(raised), fromUS(cleared)
		if t.p.seesSite(site) {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// ClearAlarm closes an open alarm with a note. Owners, admins and the
// site's managers.
func (s *Store) ClearAlarm(ctx context.Context, sc Scope, id, note string) error {
	return s.write(ctx, "clear alarm "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("clearing an alarm"); err != nil {
			return err
		}
		as, err := t.alarms(ctx, id, false)
		if err != nil {
			return err
		}
		if len(as) == 0 || t.p.role == keycab.RoleStaff || t.p.role == keycab.RoleContractor {
			return notFound("alarm", id)
		}
		c, err := t.cabinet(ctx, as[0].CabinetID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(c.SiteID) {
			return forbidden("clearing an alarm needs an owner, admin or the site's manager")
		}
		if strings.TrimSpace(note) == "" {
			return invalid("clearing an alarm needs a note")
		}
		res, err := t.exec(ctx, "UPDATE alarms SET cleared_us = $1, cleared_by = $2, note = $3 WHERE org_id = $4 AND id = $5 AND cleared_us = 0",
			us(t.now), t.p.member, note, t.org(), id)
		if err != nil {
			return err
		}
		if err := affected(res, "open alarm", id); err != nil {
			return err
		}
		return t.logAction(ctx, "alarm.clear", id, note)
	})
}

// KioskConfig returns the snapshot the principal's kiosk runs from: its
// organisation, site, cabinet and slots, its site's key sets with their
// valid tokens, reservations and jobs, and the members who may use it
// with their badges and PIN hashes. Kiosks only.
func (s *Store) KioskConfig(ctx context.Context, sc Scope) (keycab.Config, error) {
	var cfg keycab.Config
	err := s.read(ctx, "kiosk config", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("the kiosk config is for kiosks")
		}
		var err error
		if cfg.Org, err = t.getOrg(ctx); err != nil {
			return err
		}
		sites, err := t.sites(ctx, t.p.site)
		if err != nil || len(sites) == 0 {
			return errors.Join(err, notFound("site", t.p.site))
		}
		cfg.Site = sites[0].Site
		if cfg.Cabinet, err = t.cabinet(ctx, t.p.cabinet); err != nil {
			return err
		}
		if cfg.Slots, err = t.slots(ctx, t.p.cabinet); err != nil {
			return err
		}
		if cfg.KeySets, err = t.keySets(ctx, t.p.site, ""); err != nil {
			return err
		}
		inSite := map[string]bool{}
		for _, k := range cfg.KeySets {
			inSite[k.ID] = true
			rs, err := t.reservations(ctx, k.ID, "")
			if err != nil {
				return err
			}
			cfg.Reservations = append(cfg.Reservations, rs...)
		}
		rows, err := t.query(ctx, "SELECT key_set_id, hash, issued_us FROM qr_tokens WHERE org_id = $1 AND revoked_us = 0", t.org())
		if err != nil {
			return err
		}
		for rows.Next() {
			var tok keycab.QRToken
			var issued int64
			if err := rows.Scan(&tok.KeySetID, &tok.Hash, &issued); err != nil {
				rows.Close()
				return err
			}
			tok.IssuedAt = fromUS(issued)
			if inSite[tok.KeySetID] {
				cfg.Tokens = append(cfg.Tokens, tok)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids, err := t.memberIDs(ctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := t.memberRow(ctx, id)
			if err != nil {
				return err
			}
			if m.Disabled || !m.ErasedAt.IsZero() || !m.AtSite(t.p.site) {
				continue
			}
			cfg.Members = append(cfg.Members, m)
			if err := t.kioskBadges(ctx, &cfg, id); err != nil {
				return err
			}
			if m.Role == keycab.RoleContractor {
				jobs, err := t.jobs(ctx, id, "")
				if err != nil {
					return err
				}
				cfg.Jobs = append(cfg.Jobs, jobs...)
			}
		}
		if err := t.kioskGroups(ctx, &cfg); err != nil {
			return err
		}
		if cfg.BadgeSalt, err = t.badgeSalt(ctx); err != nil {
			return err
		}
		if err := t.kioskChanges(ctx, &cfg); err != nil {
			return err
		}
		if err := t.kioskLifecycle(ctx, &cfg); err != nil {
			return err
		}
		if err := t.kioskHQCustody(ctx, &cfg); err != nil {
			return err
		}
		if err := t.kioskRevokedPasses(ctx, &cfg); err != nil {
			return err
		}
		chain, err := t.policyChain(ctx, PolicyCabinet, t.p.cabinet)
		if err != nil {
			return err
		}
		if cfg.Policy, cfg.Branding, err = t.effectivePolicy(ctx, chain); err != nil {
			return err
		}
		cfg.Version = us(t.now)
		return nil
	})
	return cfg, err
}

func (t *tx) memberIDs(ctx context.Context) ([]string, error) {
	return t.strings(ctx, "SELECT id FROM members WHERE org_id = $1 ORDER BY id", t.org())
}

func (t *tx) kioskBadges(ctx context.Context, cfg *keycab.Config, memberID string) error {
	rows, err := t.query(ctx, "SELECT hash, kind FROM badges WHERE org_id = $1 AND member_id = $2 AND revoked_us = 0", t.org(), memberID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		b := keycab.Badge{MemberID: memberID}
		if err := rows.Scan(&b.Hash, &b.Kind); err != nil {
			return err
		}
		cfg.Badges = append(cfg.Badges, b)
	}
	return rows.Err()
}

// kioskGroups fills in the groups of a bundle's members and key sets, and
// the access rules that reach its key sets.
func (t *tx) kioskGroups(ctx context.Context, cfg *keycab.Config) error {
	mg, err := t.groupIndex(ctx, keycab.MemberGroup)
	if err != nil {
		return err
	}
	kg, err := t.groupIndex(ctx, keycab.KeySetGroup)
	if err != nil {
		return err
	}
	for i := range cfg.Members {
		cfg.Members[i].Groups = mg[cfg.Members[i].ID]
	}
	used := map[string]bool{}
	for i := range cfg.KeySets {
		cfg.KeySets[i].Groups = kg[cfg.KeySets[i].ID]
		for _, g := range cfg.KeySets[i].Groups {
			used[g] = true
		}
	}
	rules, err := t.accessRules(ctx)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if used[r.KeySetGroupID] {
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	return nil
}
