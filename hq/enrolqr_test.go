package hq_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/sync/wire"
)

var (
	enrolQRTag   = regexp.MustCompile(`<img src="(data:image/png;base64,[^"]+)"[^>]*width="(\d+)" height="(\d+)" data-testid="enrol-qr">`)
	enrolTokenAt = regexp.MustCompile(`data-testid="enrol-token-text">([^<]+)<`)
	enrolCodeAt  = regexp.MustCompile(`data-testid="enrol-code">([^<]+)<`)
)

// MustEnrolQR reads the enrolment QR code's PNG off a page: it is shown
// at its own size, with modules of 6 pixels or more and a white quiet
// zone of 4 modules.
func MustEnrolQR(tb testing.TB, body, code string) image.Image {
	tb.Helper()
	m := enrolQRTag.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("no enrolment QR code on the page:\n%s", body)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(html.UnescapeString(m[1]), "data:image/png;base64,"))
	MustNoErr(tb, err)
	img, err := png.Decode(bytes.NewReader(b))
	MustNoErr(tb, err)
	side := img.Bounds().Dx()
	if img.Bounds().Dy() != side || m[2] != strconv.Itoa(side) || m[3] != strconv.Itoa(side) {
		tb.Fatalf("QR PNG %v shown as %sx%s", img.Bounds(), m[2], m[3])
	}
	modules, err := qrlabel.Matrix(code)
	MustNoErr(tb, err)
	module := side / (len(modules) + 8)
	if module < 6 || side != module*(len(modules)+8) {
		tb.Fatalf("QR PNG of %d px for %d modules plus the quiet zone: %d px a module, want 6 or more", side, len(modules), module)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		tb.Fatalf("QR PNG is a %T", img)
	}
	quiet := 4 * module
	for y := range side {
		for x := range side {
			inside := x >= quiet && x < side-quiet && y >= quiet && y < side-quiet
			if !inside && g.GrayAt(x, y).Y != 255 {
				tb.Fatalf("quiet zone dark at (%d,%d)", x, y)
			}
		}
	}
	return img
}

// MustCabinet makes a site and a slotted cabinet at it, through the store.
func (e *env) MustCabinet(tb testing.TB, sc store.Scope) keycab.Cabinet {
	tb.Helper()
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Quay"}})
	MustNoErr(tb, err)
	c, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front", Kind: keycab.Slotted})
	MustNoErr(tb, err)
	return c
}

// The cabinet page right after a token is issued shows the enrolment code
// as a QR code that decodes to HQ's address and exactly the token shown,
// and as text; it is never cached, keeps the CSP (no inline script), is
// not shown again, and neither the token nor the code reaches the logs.
func TestDashboardEnrolQR(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newDashEnv(t, eng, nil, false)
			w := e.web()
			w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
			c := e.MustCabinet(t, e.scopeOf(t, w))
			w.get(t, "/cabinets/"+c.ID)
			p := MustPage(t, w.post(t, "/cabinets/"+c.ID+"/enrol-token", url.Values{"ttl_hours": {"1"}}), http.StatusOK,
				"Hold this to the kiosk", "camera on its setup screen, or type the address and token there", `data-testid="enrol-hq">`+e.srv.URL+"<")
			tm, cm := enrolTokenAt.FindStringSubmatch(p.body), enrolCodeAt.FindStringSubmatch(p.body)
			if tm == nil || cm == nil {
				t.Fatalf("no token or code on the page:\n%s", p.body)
			}
			tok, code := tm[1], html.UnescapeString(cm[1])
			if !strings.Contains(p.body, "--token "+tok+" ") {
				t.Errorf("the command carries another token than %q", tok)
			}
			want := wire.EnrolCode{HQ: e.srv.URL, Token: tok}.String()
			if code != want {
				t.Errorf("code text %q, want %q", code, want)
			}
			texts := qrTexts(t, MustEnrolQR(t, p.body, want))
			if len(texts) != 1 || texts[0] != want {
				t.Fatalf("QR code reads %q, want %q", texts, want)
			}
			got, err := wire.ParseEnrolCode(texts[0])
			MustNoErr(t, err)
			if got.HQ != e.srv.URL || got.Token != tok {
				t.Fatalf("QR code parses as %+v, want HQ %s and token %s", got, e.srv.URL, tok)
			}

			if cc := p.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("token page Cache-Control %q", cc)
			}
			csp := p.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "img-src 'self' data:;") || strings.Contains(csp, "unsafe-") {
				t.Errorf("token page CSP %q", csp)
			}
			if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(p.body) {
				t.Error("token page has inline script or style")
			}

			// The code is the token's: it enrols the kiosk, once.
			MustNoErr(t, enrolWith(e, got.Token))
			again := MustPage(t, w.get(t, "/cabinets/"+c.ID), http.StatusOK)
			if strings.Contains(again.body, tok) || strings.Contains(again.body, "enrol-qr") || strings.Contains(again.body, "data:image/png") {
				t.Fatal("the token or its QR code is shown again")
			}
			if logs := e.logText(); strings.Contains(logs, tok) || strings.Contains(logs, url.QueryEscape(tok)) {
				t.Fatalf("the token reached the logs:\n%s", logs)
			}

			// Members who may not enrol kiosks get no token and no QR code;
			// nor does another organisation.
			staff := e.MustJoinWeb(t, w, "sam@acme.test", keycab.RoleStaff)
			auditor := e.MustJoinWeb(t, w, "aud@acme.test", keycab.RoleAuditor)
			other := e.web()
			other.MustSignupWeb(t, "Other", "Olly Other", "olly@other.test")
			for _, m := range []struct {
				name   string
				w      *web
				status int
			}{{"staff", staff, http.StatusForbidden}, {"auditor", auditor, http.StatusForbidden}, {"other org", other, http.StatusNotFound}} {
				p := m.w.post(t, "/cabinets/"+c.ID+"/enrol-token", nil)
				if p.status != m.status || strings.Contains(p.body, `data-testid="enrol-token"`) || strings.Contains(p.body, "enrol-qr") ||
					strings.Contains(p.body, "data:image/png") || strings.Contains(p.body, wire.EnrolScheme) {
					t.Errorf("%s: %d, or a token or QR code shown:\n%s", m.name, p.status, p.body)
				}
			}
		})
	}
}

// The API answers the enrolment code next to the token; it parses to
// HQ's base URL and the token, which enrols the kiosk. Refused callers
// get no code.
func TestEnrolCodeAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		sid := MustStatus(t, e.do(t, "POST", "/v1/sites", owner.access, map[string]any{"name": "Depot"}), 201).str("id")
		cab := MustStatus(t, e.do(t, "POST", "/v1/cabinets", owner.access, map[string]any{"site_id": sid, "name": "front", "kind": "slotted"}), 201).str("id")

		r := MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", owner.access, nil), 201)
		tok := r.str("token")
		if tok == "" || r.str("cabinet_id") != cab || r.str("expires_at") == "" {
			t.Fatalf("token answer %s", r.raw)
		}
		code, err := wire.ParseEnrolCode(r.str("enrol_code"))
		MustNoErr(t, err)
		if code.HQ != e.auth.BaseURL() || code.Token != tok || r.str("enrol_code") != (wire.EnrolCode{HQ: e.auth.BaseURL(), Token: tok}).String() {
			t.Fatalf("enrol_code %q, want HQ %s and token %s", r.str("enrol_code"), e.auth.BaseURL(), tok)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("token answer Cache-Control %q", cc)
		}
		MustNoErr(t, enrolWith(e, code.Token))

		staff := e.MustJoin(t, owner, "staff@acme.test", "staff")
		if r := MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", staff.access, nil), 403); strings.Contains(r.raw, wire.EnrolScheme) {
			t.Fatalf("staff got a code: %s", r.raw)
		}
	})
}

// In Chromium, under the dashboard's real CSP, the enrolment QR code is
// displayed: the data: image loads at its full size.
func TestBrowserEnrolQR(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}
	owner.signup("Quayside Keys", "Ann Owner", "ann@quayside.test", "")
	owner.verify(e.mail.MustToken(t, "verify", "ann@quayside.test"))
	owner.MustSee("Quayside Keys")
	c := e.MustCabinet(t, e.scopeOf(t, &web{cookies: map[string]string{"__Host-keycab_session": owner.session()}}))

	owner.open("/cabinets/" + c.ID)
	owner.submit(`form[data-testid=enrol-form] button[type=submit]`)
	owner.MustSee("Hold this to the kiosk's camera")
	wait, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	n, err := chromedp.Run(wait, chromedp.Poll[int](`(() => { const i = document.querySelector('img[data-testid=enrol-qr]'); return i && i.complete ? i.naturalWidth : 0 })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		owner.shot("failure")
		t.Fatalf("the enrolment QR code is not displayed: %v", err)
	}
	if want := owner.attr(`img[data-testid=enrol-qr]`, "width"); strconv.Itoa(n) != want {
		t.Errorf("QR code's natural width %d, shown %s wide", n, want)
	}
	owner.shot("17-enrol-qr")
}
