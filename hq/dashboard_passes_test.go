package hq_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"keycab.dev/keycab"
	"keycab.dev/keycab/sync/wire"
)

var passQR = regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"[^>]*data-testid="pass-qr"`)

// mustQRText decodes a QR code image (PNG bytes) as a camera would.
func mustQRText(tb testing.TB, b []byte) string {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	MustNoErr(tb, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	MustNoErr(tb, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	MustNoErr(tb, err)
	return res.GetText()
}

// The passes pages over HTTP, on both engines: an owner issues a
// contractor a pass on the form, its page shows a QR code that reads as a
// pass HQ signed for those key sets and that window, mails it to the
// contractor with the code attached, and revokes it; staff may not see
// the page, another organisation finds no such pass, a form without key
// sets is refused saying so, and the admin log has both actions.
func TestDashboardPasses(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newDashEnv(t, eng, nil, false)
			a, b := e.web(), e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
			s := MustSeed(t, e, a, e.clock.Now(), 4)
			staff := e.MustJoinWeb(t, a, "staff@acme.test", keycab.RoleStaff)

			MustPage(t, a.get(t, "/"), 200, `href="/passes"`)
			MustPage(t, a.get(t, "/passes"), 200, "Issue a pass", "No passes yet", `value="`+s.formula.ID+`"`)
			MustPage(t, a.post(t, "/passes", url.Values{"member_id": {s.formula.ID}, "from": {"2026-03-02T08:00"}, "until": {"2026-03-02T17:00"}}),
				400, "Choose at least one key set.")
			p := MustPage(t, a.post(t, "/passes", url.Values{"member_id": {s.formula.ID}, "key_set": {s.ksFront.ID, s.ksBack.ID},
				"from": {"2026-03-02T08:00"}, "until": {"2026-03-02T17:00"}, "note": {"WO-77 boiler"}}), http.StatusSeeOther)
			loc := p.location()
			id := strings.TrimSuffix(strings.TrimPrefix(loc, "/passes/"), "?notice=pass-issued")
			if !strings.HasPrefix(id, "ps_") {
				t.Fatalf("issued to %q", loc)
			}
			page := MustPage(t, a.get(t, loc), 200, "Pass issued", "Front door", "Back gate", "WO-77 boiler", "Print", "Email it to plus@example.test")
			if cc := page.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("the pass's page is cacheable: %q", cc)
			}
			m := passQR.FindStringSubmatch(page.body)
			if m == nil {
				t.Fatalf("no QR code on the page:\n%s", page.body)
			}
			img, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
			MustNoErr(t, err)
			code := mustQRText(t, img)
			pass, err := wire.OpenPass(code, e.passKey)
			MustNoErr(t, err)
			if pass.ID != id || pass.OrgID != s.orgID || pass.MemberID != s.formula.ID || strings.Join(pass.KeySetIDs, ",") != s.ksFront.ID+","+s.ksBack.ID {
				t.Fatalf("the printed pass %+v", pass)
			}
			// 08:00 to 17:00 in Europe/London, which is UTC in March.
			if pass.NotAfter-pass.NotBefore != 9*3600 || pass.NotBefore != e.clock.Now().Unix()-3600 {
				t.Fatalf("window %d..%d, now %d", pass.NotBefore, pass.NotAfter, e.clock.Now().Unix())
			}
			MustPage(t, a.get(t, "/passes"), 200, "1-555-0100 @home", "Front door, Back gate", `data-pass="`+id+`"`, "Valid")

			// Mailed to the contractor with its QR code attached.
			MustPage(t, a.post(t, "/passes/"+id+"/mail", nil), http.StatusSeeOther)
			var sent bool
			for _, msg := range e.mail.all() {
				if msg.Kind != "pass" {
					continue
				}
				sent = true
				if msg.To != "plus@example.test" || msg.Subject != "Your key pass for Acme" || !strings.Contains(msg.Body, "Front door, Back gate") ||
					len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "image/png" || mustQRText(t, msg.Attachments[0].Data) != code {
					t.Fatalf("pass mail %+v", msg)
				}
			}
			if !sent {
				t.Fatal("no pass mail")
			}

			MustPage(t, staff.get(t, "/passes"), 403)
			MustPage(t, staff.post(t, "/passes/"+id+"/revoke", nil), 403)
			MustPage(t, b.get(t, "/passes/"+id), 404)
			MustPage(t, b.post(t, "/passes/"+id+"/revoke", nil), 404)

			MustPage(t, a.post(t, "/passes/"+id+"/revoke", nil), http.StatusSeeOther)
			MustPage(t, a.get(t, "/passes?notice=pass-revoked"), 200, "Pass revoked", "Revoked")
			after := MustPage(t, a.get(t, "/passes/"+id), 200, "This pass was revoked")
			if strings.Contains(after.body, `data-testid="pass-qr"`) {
				t.Fatal("a revoked pass still shows its code")
			}
			MustPage(t, a.post(t, "/passes/"+id+"/mail", nil), 409)

			p2, err := e.auth.Authenticate(ctx, a.cookies["__Host-keycab_session"])
			MustNoErr(t, err)
			log, err := e.st.ListAdminLog(ctx, p2.Scope(), 20)
			MustNoErr(t, err)
			var seen []string
			for _, l := range log {
				if l.Target == id {
					seen = append(seen, l.Action+": "+l.Detail)
				}
			}
			slices.Sort(seen) // issued and revoked in the same instant: no order between them
			if len(seen) != 2 || !strings.HasPrefix(seen[1], "pass.revoke: before: pass for "+s.formula.ID) || !strings.Contains(seen[1], ", revoked ") ||
				!strings.HasPrefix(seen[0], "pass.issue: before: none; after: pass for "+s.formula.ID) {
				t.Fatalf("admin log: %q", seen)
			}
		})
	}
}

// In Chromium: the owner issues a pass on the passes page and sees it to
// print, with its QR code; the German page says the same.
func TestBrowserPasses(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}
	owner.signup("Quayside Keys", "Ann Owner", "ann@quayside.test", "")
	owner.verify(e.mail.MustToken(t, "verify", "ann@quayside.test"))
	owner.MustSee("Email address verified")
	s := MustSeed(t, e, &web{e: e, cookies: map[string]string{"__Host-keycab_session": owner.session()}}, e.clock.Now(), 4)

	owner.open("/passes")
	owner.MustSee("Issue a pass", "No passes yet")
	owner.do(
		chromedp.SetValue(chromedp.CSS(`form[data-testid=pass-form] select[name=member_id]`), s.formula.ID),
		chromedp.Click(chromedp.CSS(`form[data-testid=pass-form] input[value="`+s.ksFront.ID+`"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[data-testid=pass-form] input[name=note]`), "WO-77 boiler"),
	)
	owner.shot("60-passes-issue")
	owner.submit(`form[data-testid=pass-form] button[type=submit]`)
	owner.MustSee("Pass issued", "Front door", "WO-77 boiler", "Print")
	if src := owner.attr(`img[data-testid=pass-qr]`, "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR image %q", src)
	}
	owner.shot("61-pass-print")
	owner.open("/passes")
	owner.MustSee("Front door", "Valid", "Revoke")
	owner.shot("62-passes-list")
}

// TestDashboardOldPass: a pass issued before the newest hundred (the
// list's page) still opens on its own page, to print or mail.
func TestDashboardOldPass(t *testing.T) {
	ctx := context.Background()
	e := newDashEnv(t, engines()[0], nil, false)
	a := e.web()
	a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	s := MustSeed(t, e, a, e.clock.Now(), 4)
	p, err := e.auth.Authenticate(ctx, a.cookies["__Host-keycab_session"])
	MustNoErr(t, err)
	now := e.clock.Now()
	var first string
	for i := range 101 {
		e.clock.Advance(time.Second) // newest first by issue time
		ps, _, err := e.st.IssuePass(ctx, p.Scope(), keycab.Pass{MemberID: s.formula.ID, KeySetIDs: []string{s.ksFront.ID},
			From: now, Until: now.Add(24 * time.Hour)})
		MustNoErr(t, err)
		if i == 0 {
			first = ps.ID
		}
	}
	MustPage(t, a.get(t, "/passes/"+first), 200, `data-testid="pass-qr"`)
	MustPage(t, a.get(t, "/passes/ps_nosuchpass"), 404)
}
