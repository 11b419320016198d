package hq_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
)

// The records page and the erase form in a real browser at 1366 and
// 390 px: a hold placed from the form, the erase refused under it with
// the hold named, then done once the hold ends; no page wider than the
// screen.
func TestBrowserRecords(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	m, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Wendy Wipe", Role: keycab.RoleStaff})
	MustNoErr(t, err)

	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/records")
		if width == 1366 {
			owner.do(
				chromedp.SetValue(chromedp.CSS(`select[name=target]`), "member:"+m.ID),
				chromedp.SetValue(chromedp.CSS(`input[name=reason]`), "tribunal 7"),
			)
			owner.submit(`form[data-testid=hold-form] button.primary`)
			owner.MustSee("Legal hold placed.", "tribunal 7")
		}
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the records page is %d px wider than the screen", w, overflow)
		}
		owner.shot("40-records-" + w)
		owner.open("/people/" + m.ID)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the member page is %d px wider than the screen", w, overflow)
		}
		if width == 1366 {
			owner.do(chromedp.SetValue(chromedp.CSS(`form[data-testid=erase-form] input[name=confirm]`), "Wendy Wipe"))
			owner.submit(`form[data-testid=erase-form] button.danger`)
			owner.MustSee("legal hold", "tribunal 7")
			owner.shot("41-erase-refused-" + w)
		}
	}
	hs, err := e.st.ListHolds(ctx, sc)
	MustNoErr(t, err)
	_, err = e.st.EndHold(ctx, sc, hs[0].ID)
	MustNoErr(t, err)
	owner.open("/people/" + m.ID)
	owner.do(chromedp.SetValue(chromedp.CSS(`form[data-testid=erase-form] input[name=confirm]`), "Wendy Wipe"))
	owner.submit(`form[data-testid=erase-form] button.danger`)
	owner.MustSee("Erased member", "Personal data erased")
}
