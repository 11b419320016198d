package dashboard

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/export"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// historyPageSize is how many events a history page shows.
const historyPageSize = 50

// exportTTL is how long a signed export link works.
const exportTTL = 15 * time.Minute

// historyFilter is the history page's filter, from its query string:
// kind, member, key_set, site, from and to (dates, to inclusive, UTC).
type historyFilter struct {
	Kind, Member, KeySet, Site, From, To string
}

func parseHistoryFilter(l *i18n.Localizer, q url.Values) (historyFilter, store.EventFilter, error) {
	hf := historyFilter{Kind: q.Get("kind"), Member: q.Get("member"), KeySet: q.Get("key_set"), Site: q.Get("site"),
		From: q.Get("from"), To: q.Get("to")}
	f := store.EventFilter{Kind: keycab.EventKind(hf.Kind), ActorID: hf.Member, KeySetID: hf.KeySet}
	if hf.From != "" {
		t, err := time.Parse("2006-01-02", hf.From)
		if err != nil {
			return hf, f, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.history_from"))
		}
		f.Since = t
	}
	if hf.To != "" {
		t, err := time.Parse("2006-01-02", hf.To)
		if err != nil {
			return hf, f, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.history_to"))
		}
		f.Until = t.Add(24 * time.Hour)
	}
	return hf, f, nil
}

// values is the filter as query parameters, empty ones left out.
func (hf historyFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"kind": hf.Kind, "member": hf.Member, "key_set": hf.KeySet, "site": hf.Site, "from": hf.From, "to": hf.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

func (hf historyFilter) Any() bool { return len(hf.values()) > 0 }

// eventPage reads up to n events matching f (at site, when it is set),
// after the cursor in f.Before: one query, filtered, scoped and paged by
// the store. more reports whether events follow; last is the last event
// read, the cursor of the next page.
func (d *Dashboard) eventPage(ctx context.Context, sc store.Scope, f store.EventFilter, site string, n int) (out []store.Event, last *store.Event, more bool, err error) {
	f.SiteID, f.Limit = site, n+1
	es, err := d.Store.ListEvents(ctx, sc, f)
	if err != nil {
		return nil, nil, false, err
	}
	if len(es) > n {
		es, more = es[:n], true
	}
	if len(es) > 0 {
		last = &es[len(es)-1]
	}
	return es, last, more, nil
}

// historyRow is a row of the history table.
type historyRow struct {
	store.Event
	Member, KeySet, Cabinet, Site string
	Class                         string
	// Time is when the event happened by HQ's clock as well as the
	// kiosk's; Zone is its site's time zone, in which times show.
	Time store.EventTime
	Zone string
}

type historyData struct {
	Filter    historyFilter
	Rows      []historyRow
	Dir       *directory
	Kinds     []keycab.EventKind
	Next      string
	Prev      string
	First     string
	Page      int
	ExportURL string
	Ranges    []quickRange
}

// Zones names the rows' time zones once.
func (h historyData) Zones() string {
	return zoneList(h.Rows, func(r historyRow) string { return r.Zone })
}

// quickRange is a link to the history of a span of days (UTC), keeping
// the rest of the filter.
type quickRange struct {
	Name, URL string
	Current   bool
}

// quickRanges are today, yesterday, the last 7 and the last 30 days
// ending today (UTC), for hf's other fields.
func quickRanges(l *i18n.Localizer, hf historyFilter, now time.Time) []quickRange {
	today := now.UTC().Truncate(24 * time.Hour)
	day := func(back int) string { return today.AddDate(0, 0, -back).Format("2006-01-02") }
	var out []quickRange
	for _, r := range []struct {
		name     string
		from, to int
	}{{l.T("dash.range.today"), 0, 0}, {l.T("dash.range.yesterday"), 1, 1}, {l.T("dash.range.7"), 6, 0}, {l.T("dash.range.30"), 29, 0}} {
		f := hf
		f.From, f.To = day(r.from), day(r.to)
		out = append(out, quickRange{Name: r.name, URL: "/history?" + f.values().Encode(), Current: hf.From == f.From && hf.To == f.To})
	}
	return out
}

var eventKinds = []keycab.EventKind{keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventIdentified, keycab.EventIdentifyFail,
	keycab.EventLockedOut, keycab.EventDoorOpened, keycab.EventDoorClosed, keycab.EventAlarmRaised, keycab.EventAlarmCleared,
	keycab.EventEmergency, keycab.EventEmergencyOff, keycab.EventAdminChange, keycab.EventBoot, keycab.EventShutdown,
	keycab.EventConfigApplied, keycab.EventKeyRotate, keycab.EventMemberErased, keycab.EventLogEpoch, keycab.EventCosigned,
	keycab.EventClockAnchored, keycab.EventLockPulsed,
	keycab.EventKeyLost, keycab.EventKeyHandedOver, keycab.EventRemoteRelease, keycab.EventRemoteRefused, keycab.EventRemoteDone,
	keycab.EventTextsExpired, keycab.EventCustodyFromHQ, keycab.EventPassUsed, keycab.EventPassRefused}

// history is the history page, keyset-paginated: the query's c values
// are the cursors of the pages walked so far (the last is this page's),
// so Next appends one and Prev drops one.
func (d *Dashboard) history(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	hf, f, err := parseHistoryFilter(v.L, q)
	if err != nil {
		return err
	}
	trail := q["c"]
	if len(trail) > 200 {
		trail = trail[len(trail)-200:]
	}
	if len(trail) > 0 {
		if f.Before, err = store.ParseEventCursor(trail[len(trail)-1]); err != nil {
			return err
		}
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	es, last, more, err := d.eventPage(r.Context(), v.P.Scope(), f, hf.Site, historyPageSize)
	if err != nil {
		return err
	}
	times, err := d.Store.KioskLogs().EventTimes(r.Context(), v.P.Scope(), es)
	if err != nil {
		return err
	}
	data := historyData{Filter: hf, Dir: dir, Kinds: eventKinds, Page: len(trail) + 1, Ranges: quickRanges(v.L, hf, d.now())}
	for i, e := range es {
		row := historyRow{Event: e, Member: dir.MemberName(e.ActorID), KeySet: dir.KeySetLabel(e.KeySetID),
			Cabinet: dir.CabinetName(e.CabinetID), Site: dir.SiteName(dir.CabinetSite(e.CabinetID)),
			Time: times[i], Zone: dir.CabinetZone(e.CabinetID)}
		if e.Kind == keycab.EventAlarmRaised && e.Detail != "" {
			// The alarm's name, said in the shared words the kiosk's
			// screen uses ("Door held open too long", not door_held).
			row.Detail = keycab.AlarmTitleIn(v.L, e.Detail)
		}
		switch e.Kind {
		case keycab.EventAlarmRaised, keycab.EventIdentifyFail, keycab.EventLockedOut, keycab.EventEmergency:
			row.Class = "bad"
		case keycab.EventKeyTaken:
			row.Class = "out"
		case keycab.EventKeyReturned:
			row.Class = "in"
		case keycab.EventKeyLost, keycab.EventRemoteRefused, keycab.EventPassRefused:
			row.Class = "bad"
		}
		data.Rows = append(data.Rows, row)
	}
	base := hf.values()
	link := func(cs []string) string {
		u := url.Values{}
		for k, x := range base {
			u[k] = x
		}
		for _, c := range cs {
			u.Add("c", c)
		}
		if len(u) == 0 {
			return "/history"
		}
		return "/history?" + u.Encode()
	}
	if more && last != nil {
		data.Next = link(append(trail[:len(trail):len(trail)], store.EventCursor(*last)))
	}
	if len(trail) > 0 {
		data.Prev = link(trail[:len(trail)-1])
	}
	if len(trail) > 1 {
		data.First = link(nil)
	}
	if v.CanExport() {
		data.ExportURL = "/history/export"
		if len(base) > 0 {
			data.ExportURL += "?" + base.Encode()
		}
	}
	d.render(w, r, http.StatusOK, "history", view{Title: "History", Nav: "history", V: v, Data: data})
	return nil
}

// Export links. A signed link names the filter, the organisation, the
// member it was made for and its expiry, signed with HMAC-SHA256 under
// the dashboard key:
//
//	/export/history.csv?<filter>&org=ORG&by=MEMBER&exp=UNIX&sig=BASE64URL
//
// It works without a session (so it can be opened by a download
// manager), but only until exp, and the export still runs as that
// member, in the store, with the member's role checked afresh. A link
// with any parameter changed is 403; an expired one is 410.
func (d *Dashboard) signExport(q url.Values) string {
	return d.sign("history export", q.Encode())
}

// exportLink makes a signed export link for the viewer's filter.
func (d *Dashboard) exportLink(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if !v.CanExport() {
		return keycab.Errorf(keycab.EFORBIDDEN, "%s", v.T("dash.err.exports_roles"))
	}
	hf, _, err := parseHistoryFilter(v.L, r.URL.Query())
	if err != nil {
		return err
	}
	q := hf.values()
	exp := d.now().Add(exportTTL)
	q.Set("org", v.P.OrgID)
	q.Set("by", v.P.MemberID)
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", d.signExport(q))
	d.Logger.Info("history export link", "org", v.P.OrgID, "member", v.P.MemberID)
	d.render(w, r, http.StatusOK, "export", view{Title: "Export history", Nav: "history", V: v, Data: struct {
		URL     string
		Expires time.Time
		Filter  historyFilter
	}{"/export/history.csv?" + q.Encode(), exp, hf}})
	return nil
}

// exportCSV serves a signed export link.
// historyStill serves the camera still of a history entry, to a reader
// who may see it (store.EventStill; anyone else gets 404), never cached.
func (d *Dashboard) historyStill(w http.ResponseWriter, r *http.Request, v *viewer) error {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		return keycab.Errorf(keycab.ENOTFOUND, "no such camera still")
	}
	jpeg, err := d.Store.EventStill(r.Context(), v.P.Scope(), r.PathValue("kiosk"), index)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(jpeg)
	return err
}

func (d *Dashboard) exportCSV(w http.ResponseWriter, r *http.Request) {
	q, ok := d.openLink(w, r, d.signExport, localizer(r, "").T("dash.err.link_again_history"))
	if !ok {
		return
	}
	sc := store.MemberScope(q.Get("org"), q.Get("by"))
	m, err := d.Store.GetMember(r.Context(), sc, q.Get("by"))
	if err != nil {
		d.renderError(w, r, nil, err)
		return
	}
	if !canExport(m.Role) {
		d.renderError(w, r, nil, keycab.Errorf(keycab.EFORBIDDEN, "%s", localizer(r, m.Language).T("dash.err.exports_roles")))
		return
	}
	hf, f, err := parseHistoryFilter(localizer(r, m.Language), q)
	if err != nil {
		d.renderError(w, r, nil, err)
		return
	}
	if err := d.writeCSV(w, r, sc, m, hf, f); err != nil {
		d.Logger.Error("history export", "org", sc.OrgID(), "err", err)
	}
}

// writeCSV streams the history export. Cells are made safe for
// spreadsheets (csvCell).
func (d *Dashboard) writeCSV(w http.ResponseWriter, r *http.Request, sc store.Scope, m keycab.Member, hf historyFilter, f store.EventFilter) error {
	ctx := r.Context()
	dir, err := d.directory(ctx, &viewer{P: auth.Principal{OrgID: sc.OrgID(), MemberID: m.ID}})
	if err != nil {
		d.renderError(w, r, nil, err)
		return nil
	}
	// Read the first batch before committing to a 200.
	batch := 1000
	first, last, more, err := d.eventPage(ctx, sc, f, hf.Site, batch)
	if err != nil {
		d.renderError(w, r, nil, err)
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="keycab-history-`+d.now().UTC().Format("2006-01-02")+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"time_utc", "kind", "member_id", "member", "key_set_id", "key_set", "site", "cabinet", "kiosk_id", "log_index", "due_utc", "detail",
		"reason", "second_id", "second", "third_id", "third", "slot", "via", "context", "home_slot", "recipient", "notes"})
	es := first
	for {
		for _, e := range es {
			due := ""
			if !e.DueAt.IsZero() {
				due = e.DueAt.UTC().Format(time.RFC3339)
			}
			row := []string{e.At.UTC().Format(time.RFC3339), string(e.Kind), e.ActorID, dir.MemberName(e.ActorID), e.KeySetID,
				dir.KeySetLabel(e.KeySetID), dir.SiteName(dir.CabinetSite(e.CabinetID)), dir.CabinetName(e.CabinetID), e.KioskID,
				strconv.FormatInt(e.LogIndex, 10), due, e.Detail,
				e.Reason, e.SecondID, dir.MemberName(e.SecondID), e.ThirdID, dir.MemberName(e.ThirdID), slotText(e.Slot), e.Via, e.Context,
				slotText(e.HomeSlot), e.Recipient, e.Notes}
			for i := range row {
				row[i] = export.Cell(row[i])
			}
			cw.Write(row)
		}
		if !more || last == nil {
			break
		}
		f.Before = last
		if es, last, more, err = d.eventPage(ctx, sc, f, hf.Site, batch); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// slotText is a slot number for the CSV: empty for none.
func slotText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
