package hq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The policy and groups pages in a real browser, at the dashboard's two
// widths (1366 and 390 px): a curfew and reason presets set at the
// organisation and a limit at the site, the effective values read back
// at the cabinet; a bad duration refused with what was typed kept; a
// member group and a key-set group made and joined by a rule. The
// screenshots (testdata/artifacts/3x-*) are for a person to look at.
func TestBrowserPolicyAndGroups(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour House", TimeZone: "Europe/London"}})
	MustNoErr(t, err)
	cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front desk", Kind: keycab.Slotted})
	MustNoErr(t, err)
	_, err = e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Boiler room"})
	MustNoErr(t, err)

	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/settings")
		owner.submit(`a[data-testid=org-policy]`)
		owner.MustSee("Kiosk policy: Quayside Keys", "In effect")
		if width == 1366 {
			owner.do(
				chromedp.Click(chromedp.CSS(`input[name=set_curfew]`)),
				chromedp.SetValue(chromedp.CSS(`input[name=curfew]`), "18:00"),
				chromedp.Click(chromedp.CSS(`input[name=set_reasons]`)),
				chromedp.SetValue(chromedp.CSS(`textarea[name=reasons]`), "viewing\nvaluation\nrepair"),
				chromedp.Click(chromedp.CSS(`input[name=set_door_held_seconds]`)),
				chromedp.SetValue(chromedp.CSS(`input[name=door_held_seconds]`), "-3m"),
			)
			owner.submit(`form[data-testid=policy-form] button.primary`)
			owner.MustSee("Door-held alarm after")
			if got := owner.attr(`input[name=door_held_seconds]`, "value"); got != "-3m" {
				t.Errorf("the bad duration came back as %q", got)
			}
			owner.shot("30-policy-error-" + w)
			owner.do(chromedp.SetValue(chromedp.CSS(`input[name=door_held_seconds]`), "2m"))
			owner.submit(`form[data-testid=policy-form] button.primary`)
			owner.MustSee("Saved.")
		}
		if got := owner.text(`[data-testid=effective-curfew]`); got != "18:00" {
			t.Errorf("%s: effective curfew %q", w, got)
		}
		owner.shot("31-policy-org-" + w)

		owner.open("/sites/" + site.ID)
		owner.submit(`a[data-testid=site-policy]`)
		if width == 1366 {
			owner.do(
				chromedp.Click(chromedp.CSS(`input[name=set_max_keys_out]`)),
				chromedp.SetValue(chromedp.CSS(`input[name=max_keys_out]`), "2"),
			)
			owner.submit(`form[data-testid=policy-form] button.primary`)
			owner.MustSee("Saved.")
		}
		owner.open("/cabinets/" + cab.ID)
		owner.submit(`a[data-testid=cabinet-policy]`)
		if got := owner.text(`[data-testid=effective-max_keys_out]`); got != "2" {
			t.Errorf("%s: the cabinet's effective limit %q", w, got)
		}
		if got := owner.text(`[data-testid=effective-reasons]`); got != "viewing, valuation, repair" {
			t.Errorf("%s: the cabinet's effective reasons %q", w, got)
		}
		owner.shot("32-policy-cabinet-" + w)
		overflow := owner.scrollOverflow()
		if overflow > 0 {
			t.Errorf("%s: the cabinet's policy page is %d px wider than the screen", w, overflow)
		}

		owner.open("/groups")
		if width == 1366 {
			owner.do(
				chromedp.SetValue(chromedp.CSS(`form[data-testid=group-form] select[name=kind]`), "key_sets"),
				chromedp.SendKeys(chromedp.CSS(`form[data-testid=group-form] input[name=name]`), "Plant rooms"),
			)
			owner.submit(`form[data-testid=group-form] button`)
			owner.MustSee("Created.", "Plant rooms")
			owner.do(chromedp.SendKeys(chromedp.CSS(`form[data-testid=group-form] input[name=name]`), "Engineers"))
			owner.submit(`form[data-testid=group-form] button`)
			owner.MustSee("Engineers")
			owner.submit(`form[data-testid=rule-form] button`)
			owner.MustSee("Created.", "any time")
		}
		owner.do(chromedp.Click(chromedp.CSS(`[data-testid=key-set-groups] details summary`)))
		owner.shot("33-groups-" + w)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the groups page is %d px wider than the screen", w, overflow)
		}
	}
	rules, err := e.st.ListAccessRules(ctx, sc)
	MustNoErr(t, err)
	if len(rules) != 1 {
		t.Fatalf("rules %+v", rules)
	}
	ps, err := e.st.GetPolicy(ctx, sc, store.PolicyCabinet, cab.ID)
	MustNoErr(t, err)
	if ps.Policy.Curfew != "18:00" || ps.Policy.MaxKeysOut != 2 || strings.Join(ps.Policy.Reasons, ",") != "viewing,valuation,repair" || ps.Policy.DoorHeld.Minutes() != 2 {
		t.Fatalf("the cabinet's policy after the forms: %+v", ps.Policy)
	}
}

// scrollOverflow is how many pixels the page is wider than the viewport.
func (t *tab) scrollOverflow() int {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil {
		t.tb.Fatalf("%s: page width: %v", t.name, err)
	}
	return n
}
