// Package report computes HQ's usage reports from the history: over a
// period, per key set (takes, time out, utilisation, overdue returns),
// per person (takes, time held, overdue) and per UTC day (takes,
// returns, checkouts overdue that day), and writes them as CSV. It reads
// the history through the store's own visibility rules (store.ListEvents),
// so a report shows exactly what its reader may see of the history; the
// dashboard draws its charts and the API answers it as JSON.
package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/export"
	"keycab.dev/keycab/hq/store"
)

// MaxEvents bounds the custody events a report reads; beyond it the
// report says it is incomplete (Usage.Truncated).
const MaxEvents = 200_000

// MaxDays is the longest period a report covers.
const MaxDays = 366

// Filter is a report's period [Since, Until) and optional site.
type Filter struct {
	Since, Until time.Time
	SiteID       string
}

// Validate checks the period.
func (f Filter) Validate() error {
	switch {
	case f.Since.IsZero() || f.Until.IsZero():
		return keycab.Errorf(keycab.EINVALID, "a report needs a start and an end")
	case !f.Until.After(f.Since):
		return keycab.Errorf(keycab.EINVALID, "a report's end must be after its start")
	case f.Until.Sub(f.Since) > MaxDays*24*time.Hour:
		return keycab.Errorf(keycab.EINVALID, "a report covers at most %d days", MaxDays)
	}
	return nil
}

// Usage is a report.
type Usage struct {
	Filter
	// Hours is the length of the period up to now, in hours: what
	// utilisation is a share of.
	Hours     float64
	KeySets   []KeySetUsage // most time out first
	Members   []MemberUsage // most takes first
	Days      []Day         // oldest first
	Truncated bool          // more events than MaxEvents: the figures are partial
}

// KeySetUsage is one key set's use over the period.
type KeySetUsage struct {
	ID, Label string
	Takes     int
	Out       time.Duration
	// Utilisation is the share of the period the key set was out (0-1).
	Utilisation float64
	// Overdue counts checkouts that were out past their due time.
	Overdue int
}

// MemberUsage is one person's use over the period.
type MemberUsage struct {
	ID, Name string
	Takes    int
	Held     time.Duration
	Overdue  int
}

// Day is one UTC day of the period.
type Day struct {
	Day            time.Time
	Takes, Returns int
	// Overdue counts the checkouts overdue at some time of the day.
	Overdue int
}

// kinds are the history kinds that change custody.
var kinds = []keycab.EventKind{keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventKeyHandedOver,
	keycab.EventKeyLost, keycab.EventCustodyFromHQ}

// Load reads the custody events of the period that sc may see and
// builds the report, with the key sets' labels and members' names sc may
// list. now ends the intervals of keys still out.
func Load(ctx context.Context, st *store.Store, sc store.Scope, f Filter, now time.Time) (Usage, error) {
	if err := f.Validate(); err != nil {
		return Usage{}, err
	}
	// Events up to now, not only to Until: a key set's first event after
	// the period's start says whether it was out then.
	var events []store.Event
	truncated := false
	to := f.Until
	if now.After(to) {
		to = now.Add(time.Second)
	}
	for _, k := range kinds {
		ef := store.EventFilter{Kind: k, SiteID: f.SiteID, Since: f.Since, Until: to, Limit: 1000}
		for {
			page, err := st.ListEvents(ctx, sc, ef)
			if err != nil {
				return Usage{}, err
			}
			events = append(events, page...)
			if len(events) >= MaxEvents {
				truncated = true
				break
			}
			if len(page) < ef.Limit {
				break
			}
			ef.Before = &page[len(page)-1]
		}
	}
	current, err := st.ListCustody(ctx, sc)
	if err != nil {
		return Usage{}, err
	}
	keySets, err := st.ListKeySets(ctx, sc, f.SiteID)
	if err != nil {
		return Usage{}, err
	}
	members, err := st.ListMembers(ctx, sc)
	if err != nil {
		return Usage{}, err
	}
	labels, names := map[string]string{}, map[string]string{}
	for _, k := range keySets {
		labels[k.ID] = k.Label
	}
	for _, m := range members {
		names[m.ID] = m.Name
	}
	u := Build(f, now, events, current, labels, names)
	u.Truncated = truncated
	return u, nil
}

// checkout is a key set out, as the report follows it.
type checkout struct {
	holder string
	since  time.Time // the current holder's, or the period's start
	due    time.Time
}

// Build computes the report from custody events from the period's start
// on (any order; those after its end only say what came before) and the
// key sets out now (current), naming key sets by labels and members by
// names (ids where they have none). A key set whose first event from the
// start on is a return or a hand-over was out at the start; one out now
// with no event since the start, taken before it, was out all along;
// one still out at the end counts up to min(Until, now).
func Build(f Filter, now time.Time, events []store.Event, current []store.Holding, labels, names map[string]string) Usage {
	end := f.Until
	if now.Before(end) {
		end = now
	}
	if end.Before(f.Since) {
		end = f.Since
	}
	u := Usage{Filter: f, Hours: end.Sub(f.Since).Hours()}
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b store.Event) int { return a.At.Compare(b.At) })
	ks, ms := map[string]*KeySetUsage{}, map[string]*MemberUsage{}
	keySet := func(id string) *KeySetUsage {
		if k, ok := ks[id]; ok {
			return k
		}
		k := &KeySetUsage{ID: id, Label: labels[id]}
		if k.Label == "" {
			k.Label = id
		}
		ks[id] = k
		return k
	}
	member := func(id string) *MemberUsage {
		if id == "" {
			return &MemberUsage{} // an unknown holder: counted nowhere
		}
		if m, ok := ms[id]; ok {
			return m
		}
		m := &MemberUsage{ID: id, Name: names[id]}
		if m.Name == "" {
			m.Name = id
		}
		ms[id] = m
		return m
	}
	for d := startOfDay(f.Since); d.Before(f.Until) && len(u.Days) < MaxDays+1; d = d.AddDate(0, 0, 1) {
		u.Days = append(u.Days, Day{Day: d})
	}
	day := func(t time.Time) *Day {
		i := int(startOfDay(t).Sub(startOfDay(f.Since)) / (24 * time.Hour))
		if i < 0 || i >= len(u.Days) {
			return &Day{}
		}
		return &u.Days[i]
	}
	// overdueDays counts c on each day of [max(due, start), to) in the
	// period.
	overdueDays := func(c *checkout, to time.Time) {
		if c.due.IsZero() || !to.After(c.due) {
			return
		}
		from := c.due
		if from.Before(f.Since) {
			from = f.Since
		}
		for d := startOfDay(from); d.Before(to) && d.Before(f.Until); d = d.AddDate(0, 0, 1) {
			day(d).Overdue++
		}
	}
	out := map[string]*checkout{}
	// The state at the start.
	first := map[string]store.Event{}
	for _, e := range events {
		if _, ok := first[e.KeySetID]; !ok && e.KeySetID != "" && !e.At.Before(f.Since) {
			first[e.KeySetID] = e
		}
	}
	for id, e := range first {
		if e.Kind != keycab.EventKeyTaken {
			out[id] = &checkout{holder: holderBefore(e), since: f.Since}
			keySet(id)
		}
	}
	for _, h := range current {
		if _, ok := first[h.KeySetID]; ok || !h.TakenAt.Before(f.Since) || (f.SiteID != "" && h.SiteID != f.SiteID) {
			continue
		}
		out[h.KeySetID] = &checkout{holder: h.MemberID, since: f.Since, due: h.DueAt}
		keySet(h.KeySetID)
	}
	// held ends c's current holder's interval at t.
	held := func(k *KeySetUsage, c *checkout, t time.Time) {
		d := t.Sub(c.since)
		if d < 0 {
			d = 0
		}
		k.Out += d
		member(c.holder).Held += d
		c.since = t
	}
	// closeOut ends checkout c of key set k at t.
	closeOut := func(k *KeySetUsage, c *checkout, t time.Time) {
		held(k, c, t)
		if !c.due.IsZero() && t.After(c.due) {
			k.Overdue++
			member(c.holder).Overdue++
		}
		overdueDays(c, t)
	}
	for _, e := range events {
		if e.KeySetID == "" || e.At.Before(f.Since) || !e.At.Before(f.Until) {
			continue
		}
		k := keySet(e.KeySetID)
		c := out[e.KeySetID]
		if c == nil && e.Kind != keycab.EventKeyTaken {
			continue // back twice: nothing was out
		}
		switch {
		case e.Kind == keycab.EventKeyTaken:
			if c != nil {
				closeOut(k, c, e.At) // a take over a take the history did not close
			}
			out[e.KeySetID] = &checkout{holder: e.ActorID, since: e.At, due: e.DueAt}
			k.Takes++
			member(e.ActorID).Takes++
			day(e.At).Takes++
		case e.Kind == keycab.EventKeyHandedOver || (e.Kind == keycab.EventCustodyFromHQ && e.SecondID != ""):
			held(k, c, e.At)
			c.holder = e.SecondID // the new holder (store.EventOf)
			out[e.KeySetID] = c
		default: // returned, lost, or back by HQ
			closeOut(k, c, e.At)
			delete(out, e.KeySetID)
			if e.Kind == keycab.EventKeyReturned {
				day(e.At).Returns++
			}
		}
	}
	for id, c := range out {
		k := keySet(id)
		held(k, c, end)
		if !c.due.IsZero() && end.After(c.due) {
			k.Overdue++
			member(c.holder).Overdue++
		}
		overdueDays(c, end)
	}
	for _, k := range ks {
		if u.Hours > 0 {
			k.Utilisation = min(1, k.Out.Hours()/u.Hours)
		}
		u.KeySets = append(u.KeySets, *k)
	}
	for _, m := range ms {
		u.Members = append(u.Members, *m)
	}
	slices.SortFunc(u.KeySets, func(a, b KeySetUsage) int {
		if a.Out != b.Out {
			return int(b.Out - a.Out)
		}
		return strings.Compare(a.Label, b.Label)
	})
	slices.SortFunc(u.Members, func(a, b MemberUsage) int {
		if a.Takes != b.Takes {
			return b.Takes - a.Takes
		}
		return strings.Compare(a.Name, b.Name)
	})
	return u
}

// holderBefore is who had a key set before e, when the period begins
// with e: a return names its holder in its context ("for HOLDER") when
// another returned it, else the one who returned it.
func holderBefore(e store.Event) string {
	for part := range strings.SplitSeq(e.Context, ";") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(part), "for "); ok {
			return h
		}
	}
	if e.Kind == keycab.EventKeyReturned {
		return e.ActorID
	}
	return ""
}

func startOfDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// What names one of a report's tables.
type What string

const (
	ByKeySet What = "key_sets"
	ByMember What = "people"
	ByDay    What = "days"
)

// WriteCSV writes one of the report's tables as CSV with a header line.
// Cells that a spreadsheet would run as a formula are defused
// (export.Cell).
func (u Usage) WriteCSV(w io.Writer, what What) error {
	cw := csv.NewWriter(w)
	hours := func(d time.Duration) string { return strconv.FormatFloat(d.Hours(), 'f', 2, 64) }
	var rows [][]string
	switch what {
	case ByKeySet:
		rows = append(rows, []string{"key_set_id", "key_set", "takes", "hours_out", "utilisation_percent", "overdue"})
		for _, k := range u.KeySets {
			rows = append(rows, []string{k.ID, export.Cell(k.Label), strconv.Itoa(k.Takes), hours(k.Out),
				strconv.FormatFloat(100*k.Utilisation, 'f', 1, 64), strconv.Itoa(k.Overdue)})
		}
	case ByMember:
		rows = append(rows, []string{"member_id", "name", "takes", "hours_held", "overdue"})
		for _, m := range u.Members {
			rows = append(rows, []string{m.ID, export.Cell(m.Name), strconv.Itoa(m.Takes), hours(m.Held), strconv.Itoa(m.Overdue)})
		}
	case ByDay:
		rows = append(rows, []string{"day", "takes", "returns", "overdue"})
		for _, d := range u.Days {
			rows = append(rows, []string{d.Day.Format("2006-01-02"), strconv.Itoa(d.Takes), strconv.Itoa(d.Returns), strconv.Itoa(d.Overdue)})
		}
	default:
		return keycab.Errorf(keycab.EINVALID, "a report table is %s, %s or %s", ByKeySet, ByMember, ByDay)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
