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

// Search finds people by name or email, key sets by label or site, sites
// and cabinets, every word of the query; another organisation's never;
// a site manager only what their sites show them.
func TestDashboardSearch(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	other := e.MustWorld(t, "Other")
	ctx := context.Background()
	_, err := e.st.CreateMember(ctx, store.MemberScope(other.owner.orgID, other.owner.memberID), keycab.Member{Name: "Dana Stranger", Role: keycab.RoleStaff})
	MustNoErr(t, err)

	get := func(q string) string { return MustPage(t, w.get(t, "/search?q="+url.QueryEscape(q)), 200).body }
	if b := get("dana"); !strings.Contains(b, "Dana Whitlock") || strings.Contains(b, "Dana Stranger") || !strings.Contains(b, `href="/history?member=`) {
		t.Fatalf("dana: %s", b)
	}
	if b := get("BACK gate"); !strings.Contains(b, "Back gate") || !strings.Contains(b, `href="/history?key_set=`+s.ksBack.ID+`"`) {
		t.Fatalf("back gate: %s", b)
	}
	if b := get("high street"); !strings.Contains(b, `data-testid="found-sites"`) || !strings.Contains(b, "12 High Street") {
		t.Fatalf("high street: %s", b)
	}
	if b := get("dana nobody"); !strings.Contains(b, "Nothing matches") {
		t.Fatalf("every word must match: %s", b)
	}
	if b := get(""); strings.Contains(b, "found for") {
		t.Fatalf("an empty search found something: %s", b)
	}
	MustPage(t, w.get(t, "/search?q="+strings.Repeat("x", 101)), 400, "at most 100")
	MustPage(t, w.get(t, "/search?q=%00"), 400)
	// The top bar's box is on every page.
	MustPage(t, w.get(t, "/keys"), 200, `action="/search"`)
}

// The search page and the top bar's box fit 1366 and 390 px.
func TestBrowserSearch(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	_, err := e.st.CreateMember(context.Background(), sc, keycab.Member{Name: "Dana Whitlock", Email: "dana@quayside.test", Role: keycab.RoleStaff})
	MustNoErr(t, err)
	for _, width := range []int64{1366, 390} {
		name := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		if width == 1366 {
			owner.open("/")
			owner.do(chromedp.SendKeys(chromedp.CSS(`.topsearch input[name=q]`), "dana\n"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=search-summary]`)))
		} else { // the top bar has no room: the nav's Search
			owner.open("/search")
			owner.do(chromedp.SendKeys(chromedp.CSS(`.search-form input[name=q]`), "dana\n"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=search-summary]`)))
		}
		owner.MustSee("found for", "Dana Whitlock")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the search page is %d px wider than the screen", name, overflow)
		}
		owner.shot("55-search-" + name)
	}
}
