package hq_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// In Chromium: the owner marks the overdue key set returned from the
// keys-out page's button, and releases a slot from the kiosk's remote
// actions page; both show on that page as waiting for the kiosk.
func TestBrowserRemoteActions(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}
	owner.signup("Quayside Keys", "Ann Owner", "ann@quayside.test", "")
	owner.verify(e.mail.MustToken(t, "verify", "ann@quayside.test"))
	owner.MustSee("Email address verified")
	s := MustSeed(t, e, &web{e: e, cookies: map[string]string{"__Host-keycab_session": owner.session()}}, e.clock.Now(), 4)

	owner.open("/keys")
	owner.MustSee("Back gate", "Mark returned", "Hand over")
	owner.shot("40-keys-out-remote")
	// The overdue row comes first: the back gate.
	owner.submit(`tbody tr:first-child td[data-testid=remote-custody] form:first-child button`)
	owner.MustSee("Sent to the kiosk")

	owner.open("/kiosks/" + s.kioskA.ID + "/actions")
	owner.do(
		chromedp.SetValue(chromedp.CSS(`form[data-testid=remote-release-slot] input[name=slot]`), "1"),
		chromedp.SendKeys(chromedp.CSS(`form[data-testid=remote-release-slot] input[name=reason]`), "courier at the door"),
	)
	owner.submit(`form[data-testid=remote-release-slot] button[type=submit]`)
	owner.MustSee("Sent to the kiosk", "courier at the door", "slot 1", "Back gate", "Pending")
	owner.shot("41-kiosk-remote-actions")
}
