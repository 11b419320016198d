package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/i18n"
)

// The overview is the dashboard's home: keys out, overdue, open alarms
// and kiosks needing attention, each a link to its page, and today's
// takes and returns by hour as a server-rendered chart.

type overviewPage struct {
	KeysOut, Overdue int
	// Alarms and Kiosks are for those who see them (viewer.Manager).
	OpenAlarms, Unhealthy, Kiosks int
	Today                         activity
}

// activity is a day's takes and returns by hour, as bars of a chart.
type activity struct {
	Day            string // "3 Dec 2026 (UTC)"
	Takes, Returns int
	More           bool // more events than the overview reads: the counts are at least these
	Bars           []bar
	Max            int
}

// bar is one hour's column of the chart; X and heights in the SVG's
// viewBox units (240 x 62: bars up to 45 high on a baseline at 50).
type bar struct {
	Hour                  int
	Takes, Returns        int
	X, TakeY, TakeH, RetY float64
	RetH                  float64
	Title                 string
}

// overviewPages bounds the events the overview reads for a day.
const overviewPages = 20

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	rows, err := d.holdings(ctx, v, false)
	if err != nil {
		return err
	}
	p := overviewPage{KeysOut: len(rows)}
	for _, h := range rows {
		if h.Overdue {
			p.Overdue++
		}
	}
	if v.Manager() {
		as, err := d.Store.ListAlarms(ctx, v.P.Scope(), true)
		if err != nil {
			return err
		}
		p.OpenAlarms = len(as)
		ks, _, _, err := d.kioskRows(ctx, v)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.RevokedAt.IsZero() {
				p.Kiosks++
				if !k.Healthy {
					p.Unhealthy++
				}
			}
		}
	}
	if p.Today, err = d.today(ctx, v.L, v.P.Scope()); err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", V: v, Data: p})
	return nil
}

// today counts the takes and returns the scope sees since midnight UTC,
// by hour.
func (d *Dashboard) today(ctx context.Context, l *i18n.Localizer, sc store.Scope) (activity, error) {
	now := d.now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	a := activity{Day: l.Date(midnight) + " (UTC)"}
	var takes, returns [24]int
	f := store.EventFilter{Since: midnight, Limit: 1000}
	for page := 0; ; page++ {
		if page == overviewPages {
			a.More = true
			break
		}
		evs, err := d.Store.ListEvents(ctx, sc, f)
		if err != nil {
			return a, err
		}
		for _, e := range evs {
			h := e.At.UTC().Hour()
			switch e.Kind {
			case keycab.EventKeyTaken:
				takes[h]++
				a.Takes++
			case keycab.EventKeyReturned:
				returns[h]++
				a.Returns++
			}
		}
		if len(evs) < f.Limit {
			break
		}
		f.Before = &evs[len(evs)-1]
	}
	for h := range 24 {
		a.Max = max(a.Max, takes[h], returns[h])
	}
	scale := 45.0 / float64(max(a.Max, 1))
	for h := range 24 {
		b := bar{Hour: h, Takes: takes[h], Returns: returns[h], X: float64(h) * 10,
			TakeH: float64(takes[h]) * scale, RetH: float64(returns[h]) * scale}
		b.TakeY, b.RetY = 50-b.TakeH, 50-b.RetH
		b.Title = l.T("dash.overview.bar", "Hours", fmt.Sprintf("%02d:00–%02d:00", h, h+1), "Takes", takes[h], "Returns", returns[h])
		a.Bars = append(a.Bars, b)
	}
	return a, nil
}
