package hq_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/api"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/scim"
	"keycab.dev/keycab/hq/store"
)

// newDashEnv is a running HQ for dashboard tests: the dashboard's clock
// is the env's clock (real time when realClock), links in emails point at
// the server, and mail goes to mailer (the env's mailbox when nil).
func newDashEnv(tb testing.TB, eng engine, mailer mail.Mailer, realClock bool) *env {
	tb.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, mail: &mailbox{}, logs: &lockedBuffer{buf: &bytes.Buffer{}}}
	now := e.clock.Now
	if realClock {
		now = time.Now
	}
	key := make([]byte, 32)
	st, err := store.Open(context.Background(), eng.dsn(tb), store.Options{Now: now, NotesKey: key})
	MustNoErr(tb, err)
	tb.Cleanup(func() { st.Close() })
	e.st = st
	e.passKey = mustPassSigner(tb, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	MustNoErr(tb, err)
	cfg := auth.DefaultConfig()
	cfg.BaseURL = "http://" + ln.Addr().String()
	if mailer == nil {
		mailer = e.mail
	}
	srv := &hq.Server{Store: st, Logger: newLogger(e.logs)}
	e.auth, err = auth.New(st, mailer, srv.Logger, now, cfg)
	MustNoErr(tb, err)
	srv.API = &api.API{Store: st, Auth: e.auth, Logger: srv.Logger}
	srv.SCIM = &scim.SCIM{Store: st, Auth: e.auth, Logger: srv.Logger}
	srv.Dashboard = &dashboard.Dashboard{Store: st, Auth: e.auth, Logger: srv.Logger, Now: now,
		Key: []byte("dashboard test key, 32 bytes....")}
	h, err := srv.Handler()
	MustNoErr(tb, err)
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	e.srv.Start()
	tb.Cleanup(e.srv.Close)
	return e
}

// web is a browser-like client of the dashboard: it keeps cookies itself
// (the __Host- cookie is Secure, which Go's jar keeps off plain HTTP)
// and does not follow redirects.
type web struct {
	e       *env
	cookies map[string]string
	csrf    string
}

func (e *env) web() *web { return &web{e: e, cookies: map[string]string{}} }

// page is a dashboard response.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (w *web) do(tb testing.TB, method, path string, form url.Values, hdr ...string) page {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.e.srv.URL+path, body)
	MustNoErr(tb, err)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for name, v := range w.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// The transport, not a client: a client refuses a Location it cannot
	// parse before it asks whether to follow it, and a test wants to see
	// a bad one.
	res, err := http.DefaultTransport.RoundTrip(req)
	MustNoErr(tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	MustNoErr(tb, err)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(w.cookies, ck.Name)
		} else {
			w.cookies[ck.Name] = ck.Value
		}
	}
	p := page{status: res.StatusCode, header: res.Header, body: string(b)}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		w.csrf = m[1]
	}
	return p
}

func (w *web) get(tb testing.TB, path string) page { tb.Helper(); return w.do(tb, "GET", path, nil) }

// post submits a form, with the CSRF token of the last page seen.
func (w *web) post(tb testing.TB, path string, form url.Values) page {
	tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" && w.csrf != "" {
		form.Set("csrf", w.csrf)
	}
	return w.do(tb, "POST", path, form)
}

func MustPage(tb testing.TB, p page, status int, contains ...string) page {
	tb.Helper()
	if p.status != status {
		tb.Fatalf("status %d, want %d; body:\n%s", p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			tb.Fatalf("page lacks %q; body:\n%s", s, p.body)
		}
	}
	return p
}

// MustSignupWeb signs up through the dashboard's form.
func (w *web) MustSignupWeb(tb testing.TB, org, name, email string) {
	tb.Helper()
	p := w.post(tb, "/signup", url.Values{"org_name": {org}, "name": {name}, "email": {email}, "password": {goodPassword}})
	if p.status != http.StatusSeeOther || w.cookies["__Host-keycab_session"] == "" {
		tb.Fatalf("signup: %d %s", p.status, p.body)
	}
	w.MustVerifyWeb(tb, email)
	w.get(tb, "/settings") // for a CSRF token
}

// MustVerifyWeb opens the last verification link mailed to email through
// the dashboard's form.
func (w *web) MustVerifyWeb(tb testing.TB, email string) {
	tb.Helper()
	p := w.post(tb, "/verify", url.Values{"token": {w.e.mail.MustToken(tb, "verify", email)}})
	if p.status != http.StatusSeeOther {
		tb.Fatalf("verify: %d %s", p.status, p.body)
	}
}

// seeded is an organisation with sites, cabinets, key sets, a kiosk and
// history, made through the store.
type seeded struct {
	orgID, ownerID             string
	siteA, siteB               store.Site
	cabA, cabB                 keycab.Cabinet
	ksFront, ksBack, ksFormula keycab.KeySet
	dana, formula              keycab.Member
	kioskA, kioskB             store.Kiosk
}

// formulaLabel is a key set label a spreadsheet would run as a formula.
const formulaLabel = `=HYPERLINK("http://evil.test","click")`

// MustSeed fills the organisation of the signed-in owner w: events at
// now - n minutes for n events in total, alternating between sites.
func MustSeed(tb testing.TB, e *env, w *web, now time.Time, n int) *seeded {
	tb.Helper()
	ctx := context.Background()
	p, err := e.auth.Authenticate(ctx, w.cookies["__Host-keycab_session"])
	MustNoErr(tb, err)
	sc := p.Scope()
	s := &seeded{orgID: p.OrgID, ownerID: p.MemberID}
	s.siteA, err = e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "12 High Street", Address: "12 High St, Leeds", TimeZone: "Europe/London"}, Notes: "Alarm code 4321"})
	MustNoErr(tb, err)
	s.siteB, err = e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Riverside Flats", Address: "3 Quay Rd, York", TimeZone: "Europe/London"}})
	MustNoErr(tb, err)
	s.cabA, err = e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: s.siteA.ID, Name: "Front office", Kind: keycab.Slotted})
	MustNoErr(tb, err)
	s.cabB, err = e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: s.siteB.ID, Name: "Porter's lodge", Kind: keycab.OpenShelf})
	MustNoErr(tb, err)
	s.ksFront, err = e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: s.siteA.ID, Label: "Front door", MaxOut: 2 * time.Hour})
	MustNoErr(tb, err)
	s.ksBack, err = e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: s.siteA.ID, Label: "Back gate", Sensitive: true})
	MustNoErr(tb, err)
	s.ksFormula, err = e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: s.siteB.ID, Label: formulaLabel})
	MustNoErr(tb, err)
	MustNoErr(tb, e.st.SetSlot(ctx, sc, keycab.Slot{CabinetID: s.cabA.ID, Number: 1, KeySetID: s.ksFront.ID}))
	s.dana, err = e.st.CreateMember(ctx, sc, keycab.Member{Name: "Dana Whitlock", Email: "dana@example.test", Role: keycab.RoleStaff})
	MustNoErr(tb, err)
	s.formula, err = e.st.CreateMember(ctx, sc, keycab.Member{Name: "+1-555-0100 @home", Email: "plus@example.test", Role: keycab.RoleContractor})
	MustNoErr(tb, err)
	s.kioskA, err = e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: s.cabA.ID, Name: "Front office kiosk"})
	MustNoErr(tb, err)
	s.kioskB, err = e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: s.cabB.ID, Name: "Lodge kiosk"})
	MustNoErr(tb, err)
	var evA, evB []store.Event
	for i := range n {
		at := now.Add(-time.Duration(n-i) * time.Minute)
		if i%2 == 0 {
			kind := keycab.EventKeyTaken
			if i%4 == 2 {
				kind = keycab.EventKeyReturned
			}
			evA = append(evA, store.Event{LogIndex: int64(len(evA)), Kind: kind, ActorID: s.dana.ID, KeySetID: s.ksFront.ID, At: at})
		} else {
			evB = append(evB, store.Event{LogIndex: int64(len(evB)), Kind: keycab.EventDoorOpened, ActorID: s.formula.ID, KeySetID: s.ksFormula.ID, At: at})
		}
	}
	// Keys out now: the back gate overdue with Dana, the formula key set
	// with the contractor, and an alarm.
	evA = append(evA, store.Event{LogIndex: int64(len(evA)), Kind: keycab.EventKeyTaken, ActorID: s.dana.ID, KeySetID: s.ksBack.ID,
		At: now.Add(-3 * time.Hour), DueAt: now.Add(-time.Hour)})
	evA = append(evA, store.Event{LogIndex: int64(len(evA)), Kind: keycab.EventAlarmRaised, At: now.Add(-30 * time.Second), Detail: keycab.AlarmDoorForced})
	evB = append(evB, store.Event{LogIndex: int64(len(evB)), Kind: keycab.EventKeyTaken, ActorID: s.formula.ID, KeySetID: s.ksFormula.ID,
		At: now.Add(-10 * time.Minute), DueAt: now.Add(2 * time.Hour)})
	MustNoErr(tb, e.st.RecordEvents(ctx, store.KioskScope(s.orgID, s.kioskA.ID), evA))
	MustNoErr(tb, e.st.RecordEvents(ctx, store.KioskScope(s.orgID, s.kioskB.ID), evB))
	return s
}

// MustJoinWeb invites email as role (as inviter) and accepts it as a new
// account in a fresh client, signed in.
func (e *env) MustJoinWeb(tb testing.TB, inviter *web, email string, role keycab.Role) *web {
	tb.Helper()
	inviter.get(tb, "/people")
	MustPage(tb, inviter.post(tb, "/people/invite", url.Values{"email": {email}, "role": {string(role)}}), http.StatusSeeOther)
	tok := e.mail.MustToken(tb, "invite", email)
	w := e.web()
	p := w.post(tb, "/invite", url.Values{"token": {tok}, "name": {"Joiner " + string(role)}, "password": {goodPassword}})
	if p.status != http.StatusSeeOther {
		tb.Fatalf("accept: %d %s", p.status, p.body)
	}
	w.get(tb, "/settings")
	return w
}

// Every page needs a session: a browser without one is sent to sign in,
// with the page to come back to.
func TestDashboardRedirectsToLogin(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	for _, path := range []string{"/", "/overdue", "/history?kind=key.taken", "/alarms", "/kiosks", "/people", "/key-sets", "/sites", "/cabinets", "/settings", "/history/export", "/sites/site_x", "/cabinets/cab_x"} {
		p := w.get(t, path)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
			t.Errorf("GET %s: %d to %q", path, p.status, p.location())
		}
	}
	if p := w.get(t, "/history?kind=key.taken"); p.location() != "/login?next="+url.QueryEscape("/history?kind=key.taken") {
		t.Errorf("next: %q", p.location())
	}
	// A forged cookie is no session either.
	w.cookies["__Host-keycab_session"] = "kca_forged"
	if p := w.get(t, "/"); p.status != http.StatusSeeOther {
		t.Errorf("forged cookie: %d", p.status)
	}
	// POSTs too.
	MustPage(t, w.post(t, "/logout", nil), http.StatusSeeOther)
	// The signed-out pages render, with the security headers.
	for _, path := range []string{"/login", "/signup", "/reset", "/invite"} {
		p := MustPage(t, w.get(t, path), 200, "<form")
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "style=") || strings.Contains(p.body, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(p.body) {
			t.Errorf("%s: inline script or style", path)
		}
	}
	// An open redirect through next is refused.
	p := w.post(t, "/signup", url.Values{"org_name": {"Acme"}, "name": {"Ann"}, "email": {"ann@acme.test"}, "password": {goodPassword}})
	MustPage(t, p, http.StatusSeeOther)
	w2 := e.web()
	p = w2.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}, "next": {"//evil.test/x"}})
	if p.status != http.StatusSeeOther || p.location() != "/" {
		t.Errorf("next=//evil.test: %d to %q", p.status, p.location())
	}
}

// Every page renders for an owner over a seeded organisation, with the
// org name, the nav and the security headers; assets are cacheable.
func TestDashboardPages(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 30)
	for path, want := range map[string][]string{
		"/":                      {"Acme Lettings", "Overview", `data-testid="tile-overdue"`, "open alarm", "Today, "},
		"/keys":                  {"Acme Lettings", "Keys out now", "Back gate", "Dana Whitlock", `class="overdue"`, "Overdue 1 h", "GMT (Europe/London)"},
		"/overdue":               {"Back gate", "GMT (Europe/London)"},
		"/history":               {"Key taken", "Front door", "12 High Street", "Porter&#39;s lodge"},
		"/alarms":                {"Door forced", "Clear", "GMT (Europe/London)"},
		"/kiosks":                {"Front office kiosk", "Lodge kiosk", "online", "HQ heard from it within 10 min"},
		"/people":                {"Dana Whitlock", "Send invitation", `<option value="owner"`},
		"/key-sets":              {"Front door", "Back gate"},
		"/sites":                 {"12 High Street", "Riverside Flats"},
		"/sites/" + s.siteA.ID:   {"Alarm code 4321", "Front office"},
		"/cabinets":              {"Front office", "Porter&#39;s lodge"},
		"/cabinets/" + s.cabA.ID: {"Front door"},
		"/settings":              {"Set up two-step sign-in", "ann@acme.test"},
	} {
		p := MustPage(t, w.get(t, path), 200, append(want, "Acme Lettings", `aria-current="page"`, "Sign out")...)
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: security headers missing", path)
		}
		if strings.Contains(p.body, "ZgotmplZ") {
			t.Errorf("%s: html/template refused a value", path)
		}
	}
	if strings.Contains(w.get(t, "/overdue").body, "Front door") {
		t.Error("overdue lists a key set that is not overdue")
	}
	// Static assets carry cache headers; the HTML does not get cached.
	p := w.get(t, "/")
	v := regexp.MustCompile(`/static/app.css\?v=([0-9a-f]+)`).FindStringSubmatch(p.body)
	if v == nil {
		t.Fatal("no stylesheet link")
	}
	css := MustPage(t, w.get(t, "/static/app.css?v="+v[1]), 200)
	if cc := css.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || css.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("css: %q %q", cc, css.header.Get("Content-Type"))
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	MustPage(t, w.get(t, "/static/nope.js"), 404)
	// Unknown paths: an HTML page for browsers, JSON for others.
	MustPage(t, w.get(t, "/no/such/page"), 404, "Not found")
	r := e.do(t, "GET", "/no/such/page", "", nil)
	if r.status != 404 || r.code() != keycab.ENOTFOUND {
		t.Errorf("JSON 404: %d %s", r.status, r.raw)
	}
}

// Another organisation's ids are 404 on every page that takes one, and
// its alarms cannot be cleared.
func TestDashboardOtherTenant404(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	a, b := e.web(), e.web()
	a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
	sa := MustSeed(t, e, a, e.clock.Now(), 4)
	MustSeed(t, e, b, e.clock.Now(), 4)
	MustPage(t, a.get(t, "/sites/"+sa.siteA.ID), 200)
	for _, path := range []string{"/sites/" + sa.siteA.ID, "/cabinets/" + sa.cabA.ID, "/sites/site_missing"} {
		MustPage(t, b.get(t, path), 404, "Not found", "not yours to see")
	}
	as, err := e.st.ListAlarms(context.Background(), store.MemberScope(sa.orgID, sa.ownerID), true)
	MustNoErr(t, err)
	MustPage(t, b.post(t, "/alarms/"+as[0].ID+"/clear", url.Values{"note": {"not mine"}}), 404)
	// B's history filtered by A's key set shows nothing of A's.
	p := MustPage(t, b.get(t, "/history?key_set="+sa.ksFront.ID), 200, "No events")
	if strings.Contains(p.body, "Dana") && strings.Contains(p.body, "Front door</td>") {
		t.Error("B sees A's history")
	}
}

// Roles: an auditor sees the export and no invite form; staff see
// neither, and get 403 for the export, alarms and kiosks.
func TestDashboardRoles(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	owner := e.web()
	owner.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	MustSeed(t, e, owner, e.clock.Now(), 6)
	auditor := e.MustJoinWeb(t, owner, "audit@acme.test", keycab.RoleAuditor)
	staff := e.MustJoinWeb(t, owner, "staff@acme.test", keycab.RoleStaff)

	MustPage(t, owner.get(t, "/history"), 200, `data-testid="export"`)
	p := MustPage(t, auditor.get(t, "/history"), 200, `data-testid="export"`)
	if strings.Contains(auditor.get(t, "/people").body, "Send invitation") {
		t.Error("auditor offered the invite form")
	}
	if strings.Contains(auditor.get(t, "/alarms").body, ">Clear<") {
		t.Error("auditor offered to clear alarms")
	}
	_ = p
	MustPage(t, auditor.get(t, "/history/export"), 200, "Download CSV")

	sp := MustPage(t, staff.get(t, "/history"), 200)
	if strings.Contains(sp.body, `data-testid="export"`) {
		t.Error("staff offered the export")
	}
	if strings.Contains(sp.body, `href="/alarms"`) || strings.Contains(sp.body, `href="/kiosks"`) {
		t.Error("staff offered alarms or kiosks")
	}
	MustPage(t, staff.get(t, "/history/export"), 403, "Not allowed")
	MustPage(t, staff.get(t, "/alarms"), 403)
	MustPage(t, staff.get(t, "/kiosks"), 403)
	if strings.Contains(staff.get(t, "/people").body, "Send invitation") {
		t.Error("staff offered the invite form")
	}
	// An admin is offered roles up to admin, never owner.
	admin := e.MustJoinWeb(t, owner, "admin@acme.test", keycab.RoleAdmin)
	ap := MustPage(t, admin.get(t, "/people"), 200, `<option value="admin"`)
	if strings.Contains(ap.body, `<option value="owner"`) {
		t.Error("admin offered the owner role")
	}
	// And a forged form asking for owner is refused by auth, as a page.
	MustPage(t, admin.post(t, "/people/invite", url.Values{"email": {"x@acme.test"}, "role": {"owner"}}), 403, "cannot invite")
}

// Forms: a POST without the page's CSRF token, or from another origin,
// is refused; the alarm clear works with both, and needs a note.
func TestDashboardCSRF(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	as, err := e.st.ListAlarms(context.Background(), store.MemberScope(s.orgID, s.ownerID), true)
	MustNoErr(t, err)
	path := "/alarms/" + as[0].ID + "/clear"
	MustPage(t, w.post(t, path, url.Values{"note": {"x"}, "csrf": {"forged"}}), 403, "form has expired")
	MustPage(t, w.do(t, "POST", path, url.Values{"note": {"x"}, "csrf": {w.csrf}}, "Origin", "http://evil.test", "Sec-Fetch-Site", "cross-site"), 403)
	MustPage(t, w.post(t, path, url.Values{"note": {" "}}), 400, "needs a note")
	p := MustPage(t, w.post(t, path, url.Values{"note": {"Checked: the door was propped by a cleaner"}}), 303)
	MustPage(t, w.get(t, p.location()), 200, "Alarm cleared.", "propped by a cleaner")
	// Another session's token does not work.
	other := e.web()
	p = other.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}})
	MustPage(t, p, 303)
	MustPage(t, other.post(t, "/logout", url.Values{"csrf": {w.csrf}}), 403)
	// Logout ends the session.
	MustPage(t, w.post(t, "/logout", nil), 303)
	if p := w.get(t, "/"); p.status != 303 {
		t.Errorf("after logout: %d", p.status)
	}
}

// Sign-in with MFA through the pages: setup shows a secret, an otpauth
// link and a QR image; then login asks for the code; a wrong code is
// refused; a replayed code is refused.
func TestDashboardMFA(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	p := MustPage(t, w.post(t, "/settings/mfa/setup", nil), 200, "otpauth://totp/", `src="data:image/png;base64,`)
	secret, err := decodeKey(regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(p.body)[1])
	MustNoErr(t, err)
	MustPage(t, w.post(t, "/settings/mfa/enable", url.Values{"code": {"000000"}}), 400, "wrong code")
	MustPage(t, w.post(t, "/settings/mfa/enable", url.Values{"code": {auth.TOTPCode(secret, e.clock.Now())}}), 200, `data-testid="recovery-codes"`)
	MustPage(t, w.get(t, "/settings?notice=mfa"), 200, "Two-step sign-in is on")
	e.clock.Advance(30 * time.Second)

	v := e.web()
	p = v.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}, "next": {"/history"}})
	if p.status != 303 || !strings.HasPrefix(p.location(), "/login/mfa") || v.cookies["__Host-keycab_session"] != "" {
		t.Fatalf("login with MFA: %d %q", p.status, p.location())
	}
	MustPage(t, v.get(t, p.location()), 200, "authenticator app")
	MustPage(t, v.post(t, "/login/mfa", url.Values{"code": {"123456"}, "next": {"/history"}}), 401, "wrong code")
	code := auth.TOTPCode(secret, e.clock.Now())
	p = MustPage(t, v.post(t, "/login/mfa", url.Values{"code": {code}, "next": {"/history"}}), 303)
	if p.location() != "/history" || v.cookies["__Host-keycab_session"] == "" || v.cookies["__Host-keycab_mfa"] != "" {
		t.Fatalf("mfa: to %q, cookies %v", p.location(), v.cookies)
	}
	// The same code again, in a new login: replay refused.
	x := e.web()
	x.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}})
	MustPage(t, x.post(t, "/login/mfa", url.Values{"code": {code}}), 401)
	// Without the MFA step's cookie, back to the start.
	y := e.web()
	if p := y.get(t, "/login/mfa"); p.status != 303 {
		t.Errorf("mfa page without step: %d", p.status)
	}
}

// Password reset and invitations through the pages; the token is posted
// in the form (the emailed link carries it in the fragment).
func TestDashboardResetAndInvite(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	MustPage(t, e.web().post(t, "/reset", url.Values{"email": {"nobody@acme.test"}}), 303)
	r := e.web()
	p := MustPage(t, r.post(t, "/reset", url.Values{"email": {"ann@acme.test"}}), 303)
	MustPage(t, r.get(t, p.location()), 200, "reset link is on its way")
	tok := e.mail.MustToken(t, "reset", "ann@acme.test")
	MustPage(t, r.post(t, "/reset/confirm", url.Values{"token": {tok}, "password": {"password"}}), 400)
	MustPage(t, r.post(t, "/reset/confirm", url.Values{"token": {tok}, "password": {"a brand new passphrase"}}), 303)
	MustPage(t, r.post(t, "/reset/confirm", url.Values{"token": {tok}, "password": {"another new passphrase"}}), 404)
	MustPage(t, r.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {"a brand new passphrase"}}), 303)

	// An invitation is used once.
	MustPage(t, r.post(t, "/people/invite", url.Values{"email": {"sam@acme.test"}, "role": {"staff"}, "csrf": {csrfOf(t, r)}}), 303)
	tok = e.mail.MustToken(t, "invite", "sam@acme.test")
	if msg := e.mail.msgs[len(e.mail.msgs)-1]; !strings.Contains(msg.Body, e.srv.URL+"/invite#token=") {
		t.Errorf("invite link: %s", msg.Body)
	}
	MustPage(t, r.get(t, "/people"), 200, "sam@acme.test", "Withdraw")
	s := e.web()
	MustPage(t, s.post(t, "/invite", url.Values{"token": {tok}, "name": {"Sam"}, "password": {goodPassword}}), 303)
	MustPage(t, s.get(t, "/"), 200, "Acme", "Sam")
	MustPage(t, e.web().post(t, "/invite", url.Values{"token": {tok}, "name": {"Sam"}, "password": {goodPassword}}), 404, "not valid")
}

// Sign-in links through the pages.
func TestDashboardMagicLink(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	e.web().MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	w := e.web()
	MustPage(t, w.get(t, "/magic"), 200, "Email me a link")
	p := MustPage(t, w.post(t, "/magic", url.Values{"email": {"ann@acme.test"}}), 303)
	MustPage(t, w.get(t, p.location()), 200, "sign-in link is on its way")
	tok := e.mail.MustToken(t, "magic", "ann@acme.test")
	MustPage(t, w.post(t, "/magic/confirm", url.Values{"token": {"kcm_forged"}}), 404, "not valid")
	p = MustPage(t, w.post(t, "/magic/confirm", url.Values{"token": {tok}}), 303)
	if p.location() != "/" || w.cookies["__Host-keycab_session"] == "" {
		t.Fatalf("magic: to %q", p.location())
	}
	MustPage(t, w.get(t, "/keys"), 200, "Acme", "Keys out now")
	MustPage(t, e.web().post(t, "/magic/confirm", url.Values{"token": {tok}}), 404, "not valid")
}

func csrfOf(tb testing.TB, w *web) string {
	tb.Helper()
	w.get(tb, "/settings")
	return w.csrf
}

// History filters and keyset pagination: pages do not overlap, Older
// and Newer walk back and forth, and every filter narrows.
func TestDashboardHistory(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 130)
	rowRe := regexp.MustCompile(`<tr><td class="nowrap">`)
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	prev := regexp.MustCompile(`href="([^"]+)" rel="prev"`)
	total := 0
	p := MustPage(t, w.get(t, "/history"), 200, "Page 1")
	var pages []string
	for {
		pages = append(pages, p.body)
		total += len(rowRe.FindAllString(p.body, -1))
		m := next.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		p = MustPage(t, w.get(t, htmlUnescape(m[1])), 200)
	}
	if want := 130 + 3; total != want || len(pages) != 3 {
		t.Fatalf("walked %d events in %d pages, want %d in 3", total, len(pages), want)
	}
	m := prev.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no Newer link on the last page")
	}
	back := MustPage(t, w.get(t, htmlUnescape(m[1])), 200, "Page 2")
	if back.body != pages[1] {
		t.Error("Newer does not give back page 2")
	}
	count := func(q string) int {
		return len(rowRe.FindAllString(MustPage(t, w.get(t, "/history?"+q), 200).body, -1))
	}
	if n := count("site=" + s.siteB.ID); n != 50 {
		t.Errorf("site B: %d rows", n)
	}
	if n := count("kind=key.returned"); n != 32 {
		t.Errorf("returns: %d rows", n)
	}
	if n := count("member=" + s.formula.ID + "&kind=key.taken"); n != 1 {
		t.Errorf("contractor's takes: %d", n)
	}
	if n := count("key_set=" + s.ksBack.ID); n != 1 {
		t.Errorf("back gate: %d", n)
	}
	day := e.clock.Now().Format("2006-01-02")
	if n := count("from=" + day + "&to=" + day + "&site=" + s.siteA.ID + "&kind=alarm.raised"); n != 1 {
		t.Errorf("today's alarms at A: %d", n)
	}
	// The quick ranges keep the rest of the filter and mark the one in use.
	ranges := regexp.MustCompile(`href="(/history\?[^"]+)"[^>]*>(Today|Yesterday|Last 7 days|Last 30 days)<`)
	page := MustPage(t, w.get(t, "/history?kind=alarm.raised&site="+s.siteA.ID), 200).body
	links := map[string]string{}
	for _, m := range ranges.FindAllStringSubmatch(page, -1) {
		links[m[2]] = htmlUnescape(m[1])
	}
	yesterday := e.clock.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	if len(links) != 4 || !strings.Contains(links["Today"], "from="+day+"&") || !strings.Contains(links["Yesterday"], "from="+yesterday) ||
		!strings.Contains(links["Last 7 days"], "kind=alarm.raised") {
		t.Fatalf("quick ranges %v", links)
	}
	if n := len(rowRe.FindAllString(MustPage(t, w.get(t, links["Today"]), 200, `aria-current="true" class="current">Today<`).body, -1)); n != 1 {
		t.Errorf("today's alarms at A through the quick range: %d", n)
	}
	if n := count("to=2026-01-01"); n != 0 {
		t.Errorf("before January: %d", n)
	}
	MustPage(t, w.get(t, "/history?from=yesterday"), 400, "want a date")
	MustPage(t, w.get(t, "/history?c=!!!"), 400, "malformed cursor")
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// The CSV export: a signed link that works without a session, until it
// expires (410); any change to it is 403; cells that a spreadsheet would
// run as formulas are defused. On SQLite and PostgreSQL.
func TestDashboardExportCSV(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			w := e.web()
			w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			s := MustSeed(t, e, w, e.clock.Now(), 20)
			p := MustPage(t, w.get(t, "/history/export?site="+s.siteB.ID), 200, "Download CSV")
			link := htmlUnescape(regexp.MustCompile(`href="(/export/history.csv\?[^"]+)"`).FindStringSubmatch(p.body)[1])

			anon := e.web() // no session: the signature is the authority
			res := anon.get(t, link)
			MustPage(t, res, 200)
			if ct := res.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
				t.Errorf("headers: %q %q", ct, res.header.Get("Content-Disposition"))
			}
			rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
			MustNoErr(t, err)
			if len(rows) != 1+10+1 {
				t.Fatalf("%d rows:\n%s", len(rows), res.body)
			}
			if rows[0][0] != "time_utc" || rows[0][5] != "key_set" {
				t.Errorf("header %v", rows[0])
			}
			for _, row := range rows[1:] {
				if row[6] != "Riverside Flats" {
					t.Errorf("site filter: %v", row)
				}
				if row[5] != "'"+formulaLabel || row[3] != "'+1-555-0100 @home" {
					t.Errorf("not defused: %q %q", row[5], row[3])
				}
				for _, c := range row {
					if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
						t.Errorf("cell %q starts a formula", c)
					}
				}
			}
			// Tampering: any parameter changed, or the signature.
			u, err := url.Parse(link)
			MustNoErr(t, err)
			for _, change := range []func(q url.Values){
				func(q url.Values) { q.Set("site", s.siteA.ID) },
				func(q url.Values) { q.Del("site") },
				func(q url.Values) { q.Set("exp", "9999999999") },
				func(q url.Values) { q.Set("by", s.dana.ID) },
				func(q url.Values) { q.Set("sig", strings.Repeat("A", 43)) },
				func(q url.Values) { q.Del("sig") },
			} {
				q := u.Query()
				change(q)
				MustPage(t, anon.get(t, u.Path+"?"+q.Encode()), 403, "not valid")
			}
			// Expiry.
			e.clock.Advance(16 * time.Minute)
			MustPage(t, anon.get(t, link), 410, "expired")
		})
	}
}

// An export link stops working when its maker may no longer export.
func TestDashboardExportRoleChecked(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	owner := e.web()
	owner.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	MustSeed(t, e, owner, e.clock.Now(), 4)
	aud := e.MustJoinWeb(t, owner, "audit@acme.test", keycab.RoleAuditor)
	p := MustPage(t, aud.get(t, "/history/export"), 200)
	link := htmlUnescape(regexp.MustCompile(`href="(/export/history.csv\?[^"]+)"`).FindStringSubmatch(p.body)[1])
	MustPage(t, e.web().get(t, link), 200, "time_utc")
	ap, err := e.auth.Authenticate(context.Background(), aud.cookies["__Host-keycab_session"])
	MustNoErr(t, err)
	op, err := e.auth.Authenticate(context.Background(), owner.cookies["__Host-keycab_session"])
	MustNoErr(t, err)
	MustNoErr(t, e.st.SetMemberRole(context.Background(), op.Scope(), ap.MemberID, keycab.RoleStaff))
	MustPage(t, e.web().get(t, link), 403)
	MustNoErr(t, e.st.RemoveMember(context.Background(), op.Scope(), ap.MemberID))
	if p := e.web().get(t, link); p.status == 200 {
		t.Error("a removed member's link still exports")
	}
}

// Keys out, alarms and history say their sites' zones once above the
// table; a cell says a time relative to now ("… ago") or as the site's
// local date and time, with the exact time and its zone on hover, and
// never repeats the zone in the cell's text. History says an alarm in
// the shared words, not its code.
func TestDashboardTimesZoneOnce(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	MustSeed(t, e, w, e.clock.Now(), 6)
	timeTag := regexp.MustCompile(`<time datetime="[0-9TZ:-]+" title="([^"]+)">([^<]+)</time>`)
	for _, c := range []struct {
		path string
		text *regexp.Regexp // what a cell says
	}{
		{"/keys", regexp.MustCompile(`(ago|^in |just now)`)},
		{"/alarms", regexp.MustCompile(`(ago|just now)`)},
		{"/history", regexp.MustCompile(`^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}$|^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}$`)},
	} {
		p := MustPage(t, w.get(t, c.path), 200, `data-testid="zones"`, "Europe/London")
		visible := timeTag.ReplaceAllString(p.body, "$2")
		if n := strings.Count(visible, "(Europe/London)"); n != 0 {
			t.Errorf("%s: the zone is said %d times in the cells", c.path, n)
		}
		if c.path == "/history" && (strings.Contains(visible, keycab.AlarmDoorForced) || !strings.Contains(visible, keycab.AlarmTitle(keycab.AlarmDoorForced))) {
			t.Errorf("/history names an alarm by its code, not its words")
		}
		tags := timeTag.FindAllStringSubmatch(p.body, -1)
		if len(tags) == 0 {
			t.Fatalf("%s: no times as <time>:\n%s", c.path, p.body)
		}
		for _, m := range tags {
			if !strings.Contains(m[1], "(Europe/London)") || !c.text.MatchString(m[2]) {
				t.Errorf("%s: a time says %q, with %q on hover", c.path, m[2], m[1])
			}
		}
	}
}
