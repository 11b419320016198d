package hq_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The reports page in a real browser at 1366 and 390 px: a week of use
// by key set and by person, the chart by day, the CSV of each table
// (formula cells defused), and the API's report agreeing with it; no
// sideways scrolling. Screenshots: testdata/artifacts/6x-reports-*.
func TestBrowserReports(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour"}})
	MustNoErr(t, err)
	cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "front", Kind: keycab.Slotted})
	MustNoErr(t, err)
	flat, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Flat 3, 12 Quay Road"})
	MustNoErr(t, err)
	evil, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: formulaLabel})
	MustNoErr(t, err)
	ben, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Ben Okafor", Email: "ben@quayside.test", Role: keycab.RoleStaff})
	MustNoErr(t, err)
	k, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: cab.ID, Name: "kiosk"})
	MustNoErr(t, err)
	now := time.Now().UTC()
	day := now.Truncate(24*time.Hour).AddDate(0, 0, -3)
	var evs []store.Event
	add := func(h float64, kind keycab.EventKind, ks keycab.KeySet, due float64) {
		e := store.Event{LogIndex: int64(len(evs)), Kind: kind, ActorID: ben.ID, KeySetID: ks.ID, CabinetID: cab.ID, At: day.Add(time.Duration(h * float64(time.Hour)))}
		if due > 0 {
			e.DueAt = day.Add(time.Duration(due * float64(time.Hour)))
		}
		evs = append(evs, e)
	}
	add(9, keycab.EventKeyTaken, flat, 11)
	add(13, keycab.EventKeyReturned, flat, 0) // 4 h, 2 h late
	add(33, keycab.EventKeyTaken, evil, 0)
	add(34.5, keycab.EventKeyReturned, evil, 0)
	add(57, keycab.EventKeyTaken, flat, 0)
	add(59, keycab.EventKeyReturned, flat, 0)
	MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(sc.OrgID(), k.ID), evs))

	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/reports")
		owner.MustSee("Reports", "By day", "By key set", "By person", "Flat 3, 12 Quay Road", "Ben Okafor", "6.0 h", formulaLabel)
		if n := owner.text(`[data-testid=report-keysets] tbody tr:first-child td:nth-child(2)`); n != "2" {
			t.Errorf("%s: takes of the busiest key set: %q", w, n)
		}
		if late := owner.text(`[data-testid=report-people] tbody tr:first-child td:nth-child(4)`); strings.TrimSpace(late) != "1" {
			t.Errorf("%s: Ben's overdue: %q", w, late)
		}
		owner.shot("60-reports-" + w)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the reports page is %d px wider than the screen", w, overflow)
		}
	}
	owner.do(chromedp.EmulateViewport(1366, 900))
	owner.open("/reports")
	owner.do(chromedp.Click(chromedp.CSS(`[data-testid=ranges] a:first-child`)))
	if got := owner.value(`input[name=from]`); got != now.AddDate(0, 0, -6).Format(time.DateOnly) {
		t.Errorf("last 7 days starts %s", got)
	}

	// The CSV of each table, as the dashboard's link gives it.
	cookie := hq.SessionCookie + "=" + owner.session()
	link := owner.attr(`[data-testid=csv-keysets]`, "href")
	r := e.do(t, "GET", link, "", nil, "Cookie", cookie)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	MustNoErr(t, err)
	if len(rows) != 3 || rows[1][1] != "Flat 3, 12 Quay Road" || rows[1][2] != "2" || rows[1][3] != "6.00" || rows[1][5] != "1" || rows[2][1] != "'"+formulaLabel {
		t.Fatalf("key sets CSV: %q", rows)
	}
	for _, sel := range []string{"csv-people", "csv-days"} {
		if r := e.do(t, "GET", owner.attr(`[data-testid=`+sel+`]`, "href"), "", nil, "Cookie", cookie); r.status != 200 || !strings.Contains(r.raw, "takes") {
			t.Errorf("%s: %d %s", sel, r.status, r.raw)
		}
	}
	if r := e.do(t, "GET", "/reports.csv?table=nope", "", nil, "Cookie", cookie); r.status != 400 {
		t.Errorf("an unknown table: %d", r.status)
	}
	if r := e.do(t, "GET", "/reports?from=2026-01-01&to=2028-01-01", "", nil, "Cookie", cookie); r.status != 400 {
		t.Errorf("a two-year report: %d", r.status)
	}

	// The API's report of the same period agrees.
	since, until := day.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)
	api := MustStatus(t, e.do(t, "GET", "/v1/reports/usage?since="+since+"&until="+until, owner.session(), nil), 200)
	ks, _ := api.body["key_sets"].([]any)
	first, _ := ks[0].(map[string]any)
	if len(ks) != 2 || first["key_set_id"] != flat.ID || first["hours_out"] != float64(6) || first["overdue"] != float64(1) {
		t.Fatalf("API report: %s", api.raw)
	}
}
