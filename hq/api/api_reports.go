package api

import (
	"net/http"
	"time"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/report"
)

// UsageReport answers GET /v1/reports/usage (hq/report): a period's use
// by key set, by person and by UTC day, as the reader may see the
// history (staff and contractors: their own).
type UsageReport struct {
	Since     time.Time     `json:"since"`
	Until     time.Time     `json:"until"`
	SiteID    string        `json:"site_id,omitempty"`
	Hours     float64       `json:"hours" doc:"the period up to now, in hours: what utilisation is a share of"`
	Truncated bool          `json:"truncated" doc:"more custody events than a report reads: the figures are partial"`
	KeySets   []KeySetUsage `json:"key_sets"`
	Members   []MemberUsage `json:"members"`
	Days      []DayUsage    `json:"days"`
}

// KeySetUsage is one key set's use over the period.
type KeySetUsage struct {
	KeySetID    string  `json:"key_set_id"`
	Label       string  `json:"label"`
	Takes       int     `json:"takes"`
	HoursOut    float64 `json:"hours_out"`
	Utilisation float64 `json:"utilisation" doc:"the share of the period it was out, 0 to 1"`
	Overdue     int     `json:"overdue" doc:"checkouts out past their due time"`
}

// MemberUsage is one person's use over the period.
type MemberUsage struct {
	MemberID  string  `json:"member_id"`
	Name      string  `json:"name"`
	Takes     int     `json:"takes"`
	HoursHeld float64 `json:"hours_held"`
	Overdue   int     `json:"overdue"`
}

// DayUsage is one UTC day of the period.
type DayUsage struct {
	Day     string `json:"day" doc:"YYYY-MM-DD, UTC"`
	Takes   int    `json:"takes"`
	Returns int    `json:"returns"`
	Overdue int    `json:"overdue" doc:"checkouts overdue at some time of the day"`
}

func (s *API) usageReport(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	q := r.URL.Query()
	var f report.Filter
	var err error
	if f.Since, err = parseTime(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = parseTime(q.Get("until"), "until"); err != nil {
		return err
	}
	f.SiteID = q.Get("site_id")
	u, err := report.Load(r.Context(), s.Store, p.Scope(), f, time.Now())
	if err != nil {
		return err
	}
	out := UsageReport{Since: u.Since, Until: u.Until, SiteID: u.SiteID, Hours: u.Hours, Truncated: u.Truncated,
		KeySets: []KeySetUsage{}, Members: []MemberUsage{}, Days: []DayUsage{}}
	for _, k := range u.KeySets {
		out.KeySets = append(out.KeySets, KeySetUsage{KeySetID: k.ID, Label: k.Label, Takes: k.Takes, HoursOut: k.Out.Hours(), Utilisation: k.Utilisation, Overdue: k.Overdue})
	}
	for _, m := range u.Members {
		out.Members = append(out.Members, MemberUsage{MemberID: m.ID, Name: m.Name, Takes: m.Takes, HoursHeld: m.Held.Hours(), Overdue: m.Overdue})
	}
	for _, d := range u.Days {
		out.Days = append(out.Days, DayUsage{Day: d.Day.Format(time.DateOnly), Takes: d.Takes, Returns: d.Returns, Overdue: d.Overdue})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}
