package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/report"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// Reports (/reports): usage by key set and by person over a period,
// utilisation, and takes and overdue keys by day as a server-rendered
// chart, each table also as CSV (/reports.csv). The figures come from
// hq/report, which reads the history as the viewer may (staff and
// contractors: their own); the nav offers it to viewer.Manager.

type reportsPage struct {
	Filter reportFilter
	Sites  []store.Site
	Ranges []quickRange
	U      report.Usage
	Chart  []dayBar
	Width  int // the chart's viewBox width
	Max    int
	CSV    map[string]string // by report.What
	// Mail is the viewer's report mails.
	Mail []store.ReportSubscription
}

// dayBar is one day's column of the chart, in viewBox units (bars up to
// 45 high on a baseline at 50, 10 wide a day).
type dayBar struct {
	X, TakeY, TakeH, LateY, LateH float64
	Title                         string
	Label                         string // the day, under every seventh bar
}

// reportFilter is the report's form: UTC dates, inclusive, and a site.
type reportFilter struct {
	From, To, Site string
}

func (rf reportFilter) values() url.Values {
	v := url.Values{"from": {rf.From}, "to": {rf.To}}
	if rf.Site != "" {
		v.Set("site", rf.Site)
	}
	return v
}

// parseReportFilter reads the form; the default is the last 30 days
// ending today (UTC).
func parseReportFilter(l *i18n.Localizer, q url.Values, now time.Time) (reportFilter, report.Filter, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	rf := reportFilter{From: q.Get("from"), To: q.Get("to"), Site: q.Get("site")}
	if rf.From == "" {
		rf.From = today.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	if rf.To == "" {
		rf.To = today.Format(time.DateOnly)
	}
	from, err1 := time.Parse(time.DateOnly, rf.From)
	to, err2 := time.Parse(time.DateOnly, rf.To)
	if err1 != nil || err2 != nil {
		return rf, report.Filter{}, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.report_dates"))
	}
	f := report.Filter{Since: from, Until: to.AddDate(0, 0, 1), SiteID: rf.Site}
	return rf, f, f.Validate()
}

func (d *Dashboard) reports(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	rf, f, err := parseReportFilter(v.L, r.URL.Query(), d.now())
	if err != nil {
		return err
	}
	p := reportsPage{Filter: rf, CSV: map[string]string{}}
	if p.Sites, err = d.Store.ListSites(ctx, v.P.Scope()); err != nil {
		return err
	}
	if p.U, err = report.Load(ctx, d.Store, v.P.Scope(), f, d.now()); err != nil {
		return err
	}
	if p.Mail, err = d.Store.Outbox().ListReportSubscriptions(ctx, v.P.Scope()); err != nil {
		return err
	}
	for _, what := range []report.What{report.ByKeySet, report.ByMember, report.ByDay} {
		q := rf.values()
		q.Set("table", string(what))
		p.CSV[string(what)] = "/reports.csv?" + q.Encode()
	}
	today := d.now().UTC().Truncate(24 * time.Hour)
	for _, r := range []struct {
		name string
		days int
	}{{v.T("dash.range.7"), 7}, {v.T("dash.range.30"), 30}, {v.T("dash.range.90"), 90}} {
		q := reportFilter{From: today.AddDate(0, 0, 1-r.days).Format(time.DateOnly), To: today.Format(time.DateOnly), Site: rf.Site}
		p.Ranges = append(p.Ranges, quickRange{Name: r.name, URL: "/reports?" + q.values().Encode(), Current: q.From == rf.From && q.To == rf.To})
	}
	for _, day := range p.U.Days {
		p.Max = max(p.Max, day.Takes, day.Overdue)
	}
	scale := 45.0 / float64(max(p.Max, 1))
	for i, day := range p.U.Days {
		b := dayBar{X: float64(i) * 10, TakeH: float64(day.Takes) * scale, LateH: float64(day.Overdue) * scale,
			Title: v.T("dash.reports.bar", "Day", v.L.Day(day.Day), "Takes", day.Takes, "Returns", day.Returns, "Overdue", day.Overdue)}
		b.TakeY, b.LateY = 50-b.TakeH, 50-b.LateH
		if i%7 == 0 {
			b.Label = day.Day.Format("2 Jan")
		}
		p.Chart = append(p.Chart, b)
	}
	p.Width = max(70, 10*len(p.Chart))
	d.render(w, r, http.StatusOK, "reports", view{Title: "Reports", Nav: "reports", V: v, Data: p})
	return nil
}

// reportsCSV answers one table of the report as a CSV download.
func (d *Dashboard) reportsCSV(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rf, f, err := parseReportFilter(v.L, r.URL.Query(), d.now())
	if err != nil {
		return err
	}
	what := report.What(r.URL.Query().Get("table"))
	switch what {
	case report.ByKeySet, report.ByMember, report.ByDay:
	default:
		return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.report_table", "A", report.ByKeySet, "B", report.ByMember, "C", report.ByDay))
	}
	u, err := report.Load(r.Context(), d.Store, v.P.Scope(), f, d.now())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="keycab-%s-%s-to-%s.csv"`, what, rf.From, rf.To))
	w.Header().Set("Cache-Control", "no-store")
	return u.WriteCSV(w, what)
}

// hoursText says a span in hours ("3.5 h"), in days and hours from two
// days on ("4 d 2 h").
func hoursText(d time.Duration) string {
	h := d.Hours()
	if h < 48 {
		return strconv.FormatFloat(h, 'f', 1, 64) + " h"
	}
	return fmt.Sprintf("%d d %d h", int(h)/24, int(h)%24)
}

// subscribeReport sets up a report mail for the viewer.
func (d *Dashboard) subscribeReport(w http.ResponseWriter, r *http.Request, v *viewer) error {
	at, err := time.Parse("15:04", r.PostFormValue("at"))
	if err != nil {
		return keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.err.report_time"))
	}
	_, err = d.Store.Outbox().SubscribeReport(r.Context(), v.P.Scope(), store.ReportSubscription{Kind: store.ReportKind(r.PostFormValue("kind")),
		SiteID: r.PostFormValue("site"), MinuteOfDay: at.Hour()*60 + at.Minute()})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/reports?notice=subscribed", http.StatusSeeOther)
	return nil
}

// unsubscribeReport stops one of the viewer's report mails.
func (d *Dashboard) unsubscribeReport(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.Outbox().UnsubscribeReport(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/reports?notice=unsubscribed", http.StatusSeeOther)
	return nil
}

// unsubscribePage is a report mail's unsubscribe link: no sign-in, the
// link's MAC vouches for it (report.CheckUnsubscribe). It asks before it
// acts, since mail scanners open links.
func (d *Dashboard) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	org, id, ok := report.CheckUnsubscribe(d.Key, r.URL.Query())
	if !ok {
		d.renderError(w, r, nil, keycab.Errorf(keycab.ENOTFOUND, "%s", localizer(r, "").T("dash.err.unsubscribe_link")))
		return
	}
	d.render(w, r, http.StatusOK, "unsubscribe", view{Title: "Stop a report mail", Data: map[string]string{"o": org, "s": id, "t": r.URL.Query().Get("t")}})
}

func (d *Dashboard) unsubscribePost(w http.ResponseWriter, r *http.Request) {
	q := url.Values{"o": {r.PostFormValue("o")}, "s": {r.PostFormValue("s")}, "t": {r.PostFormValue("t")}}
	org, id, ok := report.CheckUnsubscribe(d.Key, q)
	if !ok {
		d.renderError(w, r, nil, keycab.Errorf(keycab.ENOTFOUND, "%s", localizer(r, "").T("dash.err.unsubscribe_link")))
		return
	}
	if err := d.Store.Outbox().UnsubscribeReportByLink(r.Context(), org, id); err != nil {
		d.renderError(w, r, nil, err)
		return
	}
	d.render(w, r, http.StatusOK, "unsubscribe", view{Title: "Report mail stopped", Data: map[string]string{"done": "1"}})
}
