package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// EventFilter selects history. Zero fields select everything; Limit
// defaults to 100 (at most 1000). Before pages backwards: pass the last
// event of the previous page.
type EventFilter struct {
	SiteID   string // where the event happened (its cabinet's site then)
	KeySetID string
	ActorID  string
	Kind     keycab.EventKind
	Since    time.Time // at or after
	Until    time.Time // before
	Limit    int
	Before   *Event
}

// EventCursor is the cursor of the page of history after e (a page's
// last event), for EventFilter.Before: opaque to clients, base64url of
// "at_us:kiosk:index".
func EventCursor(e Event) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s:%d", e.At.UnixMicro(), e.KioskID, e.LogIndex))
}

// ParseEventCursor reads an EventCursor; a malformed one is EINVALID.
func ParseEventCursor(c string) (*Event, error) {
	bad := keycab.Errorf(keycab.EINVALID, "malformed cursor")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 {
		return nil, bad
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	idx, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	return &Event{At: time.UnixMicro(at).UTC(), KioskID: parts[1], LogIndex: idx}, nil
}

// ListEvents returns history, newest first: owners, admins and auditors
// see all; site managers their sites' and their own; staff and
// contractors their own. Each event carries its personal text (recipient,
// notes) where the reader may see it (personal.go: owners and admins;
// others only at a site where they hold a key set now), and a return to a
// wrong slot its home slot (homeSlots). Every filter, the role's scope and the page
// cursor are conditions of one query, answered by one of the indexes of
// migration 0004 (events_site, _key_set, _actor, _kind or _at; see
// docs/PERFORMANCE.md), so a page reads about as many rows as it returns.
func (s *Store) ListEvents(ctx context.Context, sc Scope, f EventFilter) ([]Event, error) {
	var out []Event
	err := s.read(ctx, "list events", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("history"); err != nil {
			return err
		}
		q, args := historyQuery(s.engine, t.p, f)
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		var sites []string
		for rows.Next() {
			e, site, err := scanEvent(rows, t.org())
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, e)
			sites = append(sites, site)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := t.homeSlots(ctx, out); err != nil {
			return err
		}
		if err := t.eventTexts(ctx, out, sites); err != nil {
			return err
		}
		return t.eventStills(ctx, out, sites)
	})
	return out, err
}

// homeSlots fills in the home slot of the returns to a wrong slot among
// events: the slot of the event's cabinet that HQ's slot map gives its
// key set.
func (t *tx) homeSlots(ctx context.Context, events []Event) error {
	type home struct{ cabinet, keySet string }
	want := map[home][]int{}
	for i, e := range events {
		if e.Kind == keycab.EventKeyReturned && e.KeySetID != "" && strings.Contains(e.Context, "wrong slot") {
			h := home{e.CabinetID, e.KeySetID}
			want[h] = append(want[h], i)
		}
	}
	for h, idx := range want {
		var n int
		err := t.queryRow(ctx, "SELECT number FROM slots WHERE org_id = $1 AND cabinet_id = $2 AND key_set_id = $3 ORDER BY number LIMIT 1",
			t.org(), h.cabinet, h.keySet).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		for _, i := range idx {
			events[i].HomeSlot = n
		}
	}
	return nil
}

// eventColumns are the columns of events (as e) that scanEvent reads.
const eventColumns = `e.kiosk_id, e.log_index, e.kind, e.actor_id, e.key_set_id, e.cabinet_id, e.at_us, e.due_us, e.detail,
	e.reason, e.second_id, e.third_id, e.slot, e.via, e.context, e.site_id`

// scanEvent reads one row of eventColumns: the event, and the site
// where it happened.
func scanEvent(rows *sql.Rows, orgID string) (Event, string, error) {
	e := Event{OrgID: orgID}
	var at, due int64
	var site string
	err := rows.Scan(&e.KioskID, &e.LogIndex, &e.Kind, &e.ActorID, &e.KeySetID, &e.CabinetID, &at, &due, &e.Detail,
		&e.Reason, &e.SecondID, &e.ThirdID, &e.Slot, &e.Via, &e.Context, &site)
	e.At, e.DueAt = fromUS(at), fromUS(due)
	return e, site, err
}

// historyQuery builds ListEvents' statement for principal p: the tenant,
// the role's scope, the filter's conditions (only those set, so the
// planner sees which index fits), the cursor as a row-value range on the
// page order, and the LIMIT. A site manager scoped to some sites reads
// one branch per site and one for their own events, each an index range
// in page order cut at the LIMIT, and the branches are merged: a page
// costs the same however sparse the manager's sites are.
//
// When several equalities are set, the index should lead with the most
// selective: a key set, then a member, a site, a kind (a site can hold
// most of an organisation's events, and key.taken is a third of them).
// PostgreSQL's statistics see that; SQLite's average per index cannot,
// so on SQLite the others are written +col, which keeps them as filters
// but off the index choice.
//
// On SQLite the index is also named (INDEXED BY): without statistics
// (sqlite_stat1), SQLite 3.54 reads events_at for an equality with a date
// range and a LIMIT, the organisation's whole month (100 to 300 ms a page
// at 1M events), and statistics are only as good as the last ANALYZE. The
// index of the leading equality answers every such page in page order,
// so there is nothing to choose; TestHistoryPlans checks the plans on a
// database without statistics on both engines.
func historyQuery(e Engine, p principal, f EventFilter) (string, []any) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	args := []any{p.org}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	type eq struct {
		rank int // 0 leads the index choice
		col  string
		ph   string
	}
	var branches []*eq
	switch {
	case p.role == keycab.RoleStaff || p.role == keycab.RoleContractor:
		f.ActorID = p.member
	case p.readsAll() || len(p.sites) == 0:
	case f.SiteID != "" && slices.Contains(p.sites, f.SiteID):
	case f.SiteID != "" || f.ActorID == p.member:
		// Outside the manager's sites only their own events show.
		branches = []*eq{{1, "e.actor_id", arg(p.member)}}
	default:
		for _, id := range p.sites {
			branches = append(branches, &eq{2, "e.site_id", arg(id)})
		}
		if f.ActorID == "" {
			branches = append(branches, &eq{1, "e.actor_id", arg(p.member)})
		}
	}
	var eqs []*eq
	for i, c := range []struct{ col, v string }{
		{"e.key_set_id", f.KeySetID}, {"e.actor_id", f.ActorID}, {"e.site_id", f.SiteID}, {"e.kind", string(f.Kind)},
	} {
		if c.v != "" {
			eqs = append(eqs, &eq{i, c.col, arg(c.v)})
		}
	}
	var rest strings.Builder
	if !f.Since.IsZero() {
		rest.WriteString(" AND e.at_us >= " + arg(us(f.Since)))
	}
	if !f.Until.IsZero() {
		rest.WriteString(" AND e.at_us < " + arg(us(f.Until)))
	}
	if c := f.Before; c != nil {
		// The row value alone: with a redundant at_us <= beside it,
		// SQLite's planner picked a skip-scan and a sort for some key sets
		// (1 s a page at 10M events instead of 1 ms).
		rest.WriteString(" AND (e.at_us, e.kiosk_id, e.log_index) < (" + arg(us(c.At)) + ", " + arg(c.KioskID) + ", " + arg(c.LogIndex) + ")")
	}
	limit := arg(f.Limit)
	one := func(branch *eq) string {
		all := slices.Clone(eqs)
		if branch != nil {
			all = append(all, branch)
		}
		slices.SortStableFunc(all, func(x, y *eq) int { return x.rank - y.rank })
		var b strings.Builder
		b.WriteString(`SELECT ` + eventColumns + ` FROM events e`)
		if e == SQLite {
			index := "events_at"
			if len(all) > 0 {
				index = historyIndex[all[0].col]
			}
			b.WriteString(" INDEXED BY " + index)
		}
		b.WriteString(" WHERE e.org_id = $1")
		for i, c := range all {
			b.WriteString(" AND ")
			if i > 0 && e == SQLite {
				b.WriteString("+")
			}
			b.WriteString(c.col + " = " + c.ph)
		}
		b.WriteString(rest.String() + " ORDER BY e.at_us DESC, e.kiosk_id DESC, e.log_index DESC LIMIT " + limit)
		return b.String()
	}
	switch len(branches) {
	case 0:
		return one(nil), args
	case 1:
		return one(branches[0]), args
	}
	parts := make([]string, len(branches))
	for i, br := range branches {
		parts[i] = "SELECT * FROM (" + one(br) + ") AS b" + strconv.Itoa(i)
	}
	return "SELECT kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, reason, second_id, third_id, slot, via, context, site_id FROM (" +
		strings.Join(parts, " UNION ") + ") AS h ORDER BY at_us DESC, kiosk_id DESC, log_index DESC LIMIT " + limit, args
}

// historyIndex is the index of migration 0004 that leads with each
// column of the history's equalities.
var historyIndex = map[string]string{
	"e.key_set_id": "events_key_set", "e.actor_id": "events_actor", "e.site_id": "events_site", "e.kind": "events_kind",
}

// ExplainEvents returns the engine's plan for the query ListEvents runs
// for sc and f (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), one
// line per step, so an operator or a benchmark can see which index a
// filter uses.
func (s *Store) ExplainEvents(ctx context.Context, sc Scope, f EventFilter) (string, error) {
	return s.explain(ctx, "explain events", sc, func(t *tx) (string, []any) {
		return historyQuery(s.engine, t.p, f)
	})
}

// explain returns the engine's plan for the statement query builds, run
// for a person of sc's organisation, one line per step.
func (s *Store) explain(ctx context.Context, op string, sc Scope, query func(*tx) (string, []any)) (string, error) {
	var plan []string
	err := s.read(ctx, op, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("history"); err != nil {
			return err
		}
		q, args := query(t)
		prefix := "EXPLAIN "
		if s.engine == SQLite {
			prefix = "EXPLAIN QUERY PLAN "
		}
		rows, err := t.query(ctx, prefix+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		for rows.Next() {
			if err := rows.Scan(vals...); err != nil {
				return err
			}
			// The plan's text is the last column on both engines.
			plan = append(plan, fmt.Sprint(*vals[len(vals)-1].(*any)))
		}
		return rows.Err()
	})
	return strings.Join(plan, "\n"), err
}
