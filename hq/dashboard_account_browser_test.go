package hq_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab/hq/auth"
)

// The account pages in a real browser at the dashboard's two widths
// (1366 and 390 px): the verify page an unverified account is sent to,
// the settings page with its sessions and the public logs control, and the recovery codes shown once
// when MFA is turned on. Screenshots: testdata/artifacts/5x-*.
func TestBrowserAccountPages(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		email := fmt.Sprintf("ann-%s@quayside.test", w)
		owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner-" + w}
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.signup("Quayside "+w, "Ann Owner", email, "")
		owner.open("/history")
		owner.MustSee("Verify your email address", email, "Send a new link")
		owner.shot("50-verify-" + w)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the verify page is %d px wider than the screen", w, overflow)
		}
		owner.verify(e.mail.MustToken(t, "verify", email))
		owner.MustSee("Email address verified")

		owner.open("/settings")
		owner.MustSee("Your sessions", "This session", "Change email address")
		owner.submit(`form[action="/settings/mfa/setup"] button`)
		secret, err := decodeKey(owner.text(`[data-testid=totp-secret]`))
		MustNoErr(t, err)
		owner.do(chromedp.SendKeys(chromedp.CSS(`form[action="/settings/mfa/enable"] input[name=code]`), auth.TOTPCode(secret, time.Now())))
		owner.submit(`form[action="/settings/mfa/enable"] button`)
		owner.MustSee("Two-step sign-in is on", "Your recovery codes")
		if codes := owner.text(`[data-testid=recovery-codes] ul`); len(strings.Fields(codes)) != 10 {
			t.Errorf("%s: recovery codes %q", w, codes)
		}
		owner.shot("51-settings-codes-" + w)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the settings page is %d px wider than the screen", w, overflow)
		}
		// Shown once: the page again has none.
		owner.open("/settings")
		owner.MustSee("10 unused recovery codes", "Public transparency logs", "Off: only signed-in")
		// Publishing the organisation's kiosk logs.
		owner.do(chromedp.Click(chromedp.CSS(`form[action="/settings/public-logs"] input[name=public_logs]`)))
		owner.submit(`form[action="/settings/public-logs"] button`)
		owner.MustSee("Published:", "/v1/kiosks/KIOSK/log/")
		owner.shot("52-settings-public-logs-" + w)
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the settings page with public logs is %d px wider than the screen", w, overflow)
		}
		owner.submit(`form[action="/logout"] button`)
	}
}
