package hq_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

var pageSecret = regexp.MustCompile(`data-testid="webhook-secret-text">(whsec_[^<]+)<`)

// The webhooks pages over HTTP, on both engines: an owner adds an
// endpoint and sees its secret once (never on the page again); another
// organisation's owner gets 404 for its page and every form; staff get
// 403; a bad URL is refused on the form with its reason.
func TestDashboardWebhooks(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			a, b := e.web(), e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
			staff := e.MustJoinWeb(t, a, "staff@acme.test", keycab.RoleStaff)

			MustPage(t, a.get(t, "/webhooks"), 200, "No webhooks yet", `value="custody.changed" checked`)
			p := MustPage(t, a.post(t, "/webhooks", url.Values{"url": {"https://hooks.acme.test/in"}, "description": {"Genetec bridge"},
				"event": {"custody.changed", "alarm.raised"}, "enabled": {"1"}}), 200, "Webhook added", "Genetec bridge", "Nothing sent yet")
			m := pageSecret.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no secret on the page:\n%s", p.body)
			}
			secret := html.UnescapeString(m[1])
			ws, err := e.st.Outbox().ListWebhooks(context.Background(), ownerScope(t, e, a))
			MustNoErr(t, err)
			if len(ws) != 1 {
				t.Fatalf("webhooks %+v", ws)
			}
			id := ws[0].ID
			page := MustPage(t, a.get(t, "/webhooks/"+id), 200, "Genetec bridge", `value="alarm.raised" checked`)
			if strings.Contains(page.body, secret) || strings.Contains(a.get(t, "/webhooks").body, secret) {
				t.Fatal("the secret is shown again")
			}
			MustPage(t, a.post(t, "/webhooks", url.Values{"url": {"ftp://x.test/"}, "event": {"alarm.raised"}}), 400, "https://")
			MustPage(t, a.post(t, "/webhooks", url.Values{"url": {"https://x.test/"}}), 400, "at least one event type")

			for _, path := range []string{"/webhooks/" + id} {
				MustPage(t, b.get(t, path), 404, "Not found")
				MustPage(t, staff.get(t, path), 403)
			}
			MustPage(t, staff.get(t, "/webhooks"), 403)
			if strings.Contains(staff.get(t, "/").body, `href="/webhooks"`) {
				t.Error("staff offered the webhooks page")
			}
			for _, path := range []string{"/webhooks/" + id, "/webhooks/" + id + "/rotate", "/webhooks/" + id + "/test", "/webhooks/" + id + "/delete"} {
				MustPage(t, b.post(t, path, url.Values{"url": {"https://evil.test/"}, "event": {"alarm.raised"}}), 404)
			}
			if g, err := e.st.Outbox().GetWebhook(context.Background(), ownerScope(t, e, a), id); err != nil || g.URL != "https://hooks.acme.test/in" {
				t.Fatalf("after B's attempts: %+v %v", g, err)
			}
			// Disable through the form; the test button is then off.
			MustPage(t, a.post(t, "/webhooks/"+id, url.Values{"url": {"https://hooks.acme.test/in2"}, "description": {"Genetec bridge"}, "event": {"alarm.raised"}}), http.StatusSeeOther)
			MustPage(t, a.get(t, "/webhooks/"+id), 200, "Disabled", `data-testid="webhook-test" disabled`)
			MustPage(t, a.post(t, "/webhooks/"+id+"/test", nil), 409, "enable it")
			MustPage(t, a.post(t, "/webhooks/"+id+"/delete", nil), http.StatusSeeOther)
			MustPage(t, a.get(t, "/webhooks?notice=deleted"), 200, "No webhooks yet", "Deleted.")
		})
	}
}

// ownerScope is the store scope of a dashboard client's session.
func ownerScope(tb testing.TB, e *env, w *web) store.Scope {
	tb.Helper()
	p, err := e.auth.Authenticate(context.Background(), w.cookies["__Host-keycab_session"])
	MustNoErr(tb, err)
	return p.Scope()
}

// The webhooks pages in Chromium, as an owner uses them: add an endpoint
// (a receiver on loopback), copy the secret shown once, send a test that
// fails (the receiver answers 500) and read the delivery log, then one
// that arrives, resend it, rotate the secret; each verified by the
// receiver with the Standard Webhooks library. Screenshots:
// webhooks-*.png.
func TestBrowserWebhooks(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, _ := ownerTab(t, browser, e)
	rc := newReceiver(t)
	sender := newSenderAt(t, e, time.Now, loopback) // the store's clock here
	ctx := context.Background()

	owner.open("/webhooks")
	owner.MustSee("No webhooks yet", "kiosk.config_applied")
	owner.do(chromedp.SendKeys(chromedp.CSS(`form[data-testid=webhook-form] input[name=url]`), rc.srv.URL+"/keycab"),
		chromedp.SendKeys(chromedp.CSS(`form[data-testid=webhook-form] input[name=description]`), "Access control bridge"),
		chromedp.Click(chromedp.CSS(`form[data-testid=webhook-form] input[value="kiosk.config_behind"]`)))
	owner.shot("webhooks-add")
	owner.submit(`form[data-testid=webhook-form] button.primary`)
	owner.MustSee("Webhook added", "Signing secret", "Nothing sent yet")
	secret := owner.text(`[data-testid=webhook-secret-text]`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	owner.shot("webhooks-secret")
	hookPage := strings.TrimPrefix(owner.location(), e.srv.URL)
	if hookPage == "/webhooks" {
		// The page answered the form's POST; its own address is the
		// endpoint's link on the list.
		owner.open("/webhooks")
		hookPage = owner.attr(`[data-testid=webhooks] a`, "href")
	}

	rc.set(http.StatusInternalServerError, secret)
	owner.open(hookPage)
	owner.submit(`[data-testid=webhook-test]`)
	owner.MustSee("Test event queued")
	MustNoErr(t, sender.Round(ctx))
	owner.open(hookPage)
	owner.MustSee("Pending", "HTTP 500", "webhook.test")
	owner.shot("webhooks-log-failed")

	rc.set(http.StatusOK, secret)
	owner.submit(`[data-testid=webhook-test]`)
	MustNoErr(t, sender.Round(ctx))
	owner.open(hookPage)
	owner.MustSee("Delivered", "HTTP 200")
	owner.submit(`[data-testid=webhook-resend]`)
	owner.MustSee("Delivery queued again")
	MustNoErr(t, sender.Round(ctx))
	got := rc.received()
	if len(got) != 3 || got[1].id != got[2].id || got[0].id == got[1].id {
		t.Fatalf("received %+v", got)
	}

	// The form asks to confirm (window.confirm): say yes.
	_, err := chromedp.Run(owner.ctx, chromedp.Evaluate[bool](`window.confirm = () => true, true`))
	MustNoErr(t, err)
	owner.submit(`[data-testid=webhook-rotate]`)
	owner.MustSee("New signing secret made", "previous secret also signs until")
	next := owner.text(`[data-testid=webhook-secret-text]`)
	if next == secret || !strings.HasPrefix(next, "whsec_") {
		t.Fatalf("rotated secret %q", next)
	}
	owner.shot("webhooks-rotated")
	rc.set(http.StatusOK, next, secret)
	owner.open(hookPage)
	owner.submit(`[data-testid=webhook-test]`)
	MustNoErr(t, sender.Round(ctx))
	if got := rc.received(); got[len(got)-1].sigs != 2 {
		t.Fatalf("after rotation: %+v", got[len(got)-1])
	}
	owner.open(hookPage)
	owner.MustSee("Delivered")
	owner.shot("webhooks-log")
	owner.open("/webhooks")
	owner.MustSee("Access control bridge", "Enabled")
	owner.shot("webhooks-list")
}
