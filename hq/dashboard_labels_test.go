package hq_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The labels page prints what the API prints: a PDF of fresh tokens for a
// cabinet's slots or chosen key sets, read back off the page; a request
// with nothing chosen, or another organisation's key set, gets the page
// again with why, and no sheet; staff are refused the page.
func TestDashboardLabels(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.web()
		w.MustSignupWeb(t, "Quayside Keys", "Ann Owner", "ann@quayside.test")
		p, err := e.auth.Authenticate(ctx, w.cookies["__Host-keycab_session"])
		MustNoErr(t, err)
		sc := p.Scope()
		owner := &user{orgID: p.OrgID, memberID: p.MemberID}
		site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour Flats"}})
		MustNoErr(t, err)
		var ids []string
		for _, l := range []string{"Flat 1", "Flat 2", "Boiler room"} {
			k, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: l})
			MustNoErr(t, err)
			ids = append(ids, k.ID)
		}
		other := e.MustWorld(t, "Other")

		MustPage(t, w.get(t, "/labels"), 200, "Print QR labels", "Flat 1", "Boiler room", "stop working")
		r := w.post(t, "/labels", url.Values{"key_set_ids": {ids[0], ids[2]}})
		if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("print: %d %v", r.status, r.header)
		}
		first := e.MustLabelTokens(t, owner, qrTexts(t, pdfPages(t, []byte(r.body))[0]), []string{ids[0], ids[2]})

		r = w.post(t, "/labels", url.Values{"site_id": {site.ID}})
		second := e.MustLabelTokens(t, owner, qrTexts(t, pdfPages(t, []byte(r.body))[0]), ids)
		if second[ids[0]] == first[ids[0]] {
			t.Fatal("printing again kept the old token")
		}

		MustPage(t, w.post(t, "/labels", url.Values{}), 400, "give one of")
		MustPage(t, w.post(t, "/labels", url.Values{"key_set_ids": {other.ks[0].ID}}), 404)
		MustPage(t, w.get(t, "/labels"), 200) // a fresh CSRF token

		staff := e.web()
		staff.get(t, "/login")
		MustPage(t, staff.post(t, "/login", url.Values{"email": {other.staff.email}, "password": {other.staff.password}}), 303)
		MustPage(t, staff.get(t, "/labels"), 403)
		staff.get(t, "/settings") // a CSRF token
		MustPage(t, staff.post(t, "/labels", url.Values{"key_set_ids": {other.ks[0].ID}}), 403)
	})
}

// The labels page fits 1366 and 390 px.
func TestBrowserLabels(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour Flats"}})
	MustNoErr(t, err)
	_, err = e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front desk", Kind: keycab.Slotted})
	MustNoErr(t, err)
	for _, l := range []string{"Flat 1, front door and the long-named back gate", "Flat 2", "Boiler room"} {
		_, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: l})
		MustNoErr(t, err)
	}
	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/key-sets")
		owner.do(chromedp.Click(chromedp.CSS(`[data-testid=print-labels]`)))
		owner.MustSee("Print QR labels", "Front desk", "Boiler room")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the labels page is %d px wider than the screen", w, overflow)
		}
		owner.shot("53-labels-" + w)
	}
}
