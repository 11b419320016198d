package hq_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// A sortable table sorts by the column whose header is clicked, and a
// second click reverses it.
func TestBrowserSortableTables(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour"}})
	MustNoErr(t, err)
	for _, l := range []string{"Flat 3", "Boiler room", "Attic", "Cellar"} {
		_, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: l})
		MustNoErr(t, err)
	}
	labels := func() []string {
		out, err := chromedp.Run(owner.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=keysets] tbody tr td:first-child')].map(td => td.textContent.trim())`))
		MustNoErr(t, err)
		return out
	}
	owner.open("/key-sets")
	owner.do(chromedp.Click(chromedp.CSS(`[data-testid=keysets] thead th:first-child button.sort`)))
	if got, want := labels(), []string{"Attic", "Boiler room", "Cellar", "Flat 3"}; !slices.Equal(got, want) {
		t.Fatalf("sorted by label: %v, want %v", got, want)
	}
	owner.do(chromedp.Click(chromedp.CSS(`[data-testid=keysets] thead th:first-child button.sort`)))
	if got := labels(); got[0] != "Flat 3" || got[3] != "Attic" {
		t.Fatalf("reversed: %v", got)
	}
	sort, err := chromedp.Run(owner.ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid=keysets] thead th:first-child').getAttribute('aria-sort')`))
	MustNoErr(t, err)
	if sort != "descending" {
		t.Fatalf("aria-sort %q", sort)
	}
	owner.open("/people")
	names, err := chromedp.Run(owner.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid=members] thead button.sort')].map(b => b.textContent).join(",")`))
	MustNoErr(t, err)
	if !strings.Contains(names, "Name") {
		t.Fatalf("the people table's headers: %q", names)
	}
}
