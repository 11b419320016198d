package hq_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/store"
)

// routeRecorder is an hq.Mux that only notes the patterns registered on
// it: the dashboard's page table, as Register builds it.
type routeRecorder struct{ patterns []string }

func (r *routeRecorder) Handle(pattern string, _ http.Handler) {
	r.patterns = append(r.patterns, pattern)
}

// dashboardGETRoutes is every GET pattern the dashboard registers, sorted.
func dashboardGETRoutes(tb testing.TB, e *env) []string {
	tb.Helper()
	rec := &routeRecorder{}
	d := &dashboard.Dashboard{Store: e.st, Auth: e.auth, Key: []byte("dashboard sweep key, 32 bytes..")}
	MustNoErr(tb, d.Register(rec))
	var gets []string
	for _, p := range rec.patterns {
		if path, ok := strings.CutPrefix(p, "GET "); ok {
			gets = append(gets, path)
		}
	}
	slices.Sort(gets)
	return gets
}

// The routes the sweep does not open, each with why. Every other GET
// route of the page table is opened; a route added to the table is
// opened (or, if it needs an id the sweep does not know, fails the test)
// without anyone editing this file.
var sweepSkips = map[string]string{
	"/static/{name}":                  "a static asset (CSS, JS, icons), not a page",
	"/export/history.csv":             "a CSV download (Content-Disposition: attachment), no page to lay out",
	"/export/subject.zip":             "a zip download (the data-subject archive), no page to lay out",
	"/reports.csv":                    "a CSV download of a report table, no page to lay out",
	"/sso/start":                      "a redirect to the organisation's identity provider (its errors are the /sso page, swept)",
	"/sso/callback":                   "the identity provider's redirect back, which needs a sign-in under way (its errors are the /sso page, swept)",
	"/history/stills/{kiosk}/{index}": "a camera still (a JPEG), no page to lay out; the history row that shows it is swept",
}

// Signed-out pages: opened in a context with no session, since a
// signed-in owner is sent on from them.
var sweepSignedOut = []string{"/signup", "/login", "/login/mfa", "/reset", "/magic", "/invite", "/verify", "/sso"}

// Every page of the dashboard in Chromium at 1366×900 and 390×844, over
// an organisation with real rows on every page (sites, cabinets, key
// sets, people with long addresses, history, alarms, kiosks, groups and a
// rule, policy, a legal hold, a job, a reservation, a remote action),
// plus the import preview after a CSV is sent from the page, and the
// search with results: each fails if the page scrolls sideways, or if a
// visible element reaches past the viewport's right edge outside a
// scrolling container. A full-page screenshot of each is kept as
// testdata/artifacts/sweep-<page>-<width>.png.
func TestBrowserSweep(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	w := e.web()
	w.cookies["__Host-keycab_session"] = owner.session()
	now := time.Now()
	s := MustSeed(t, e, w, now, 120)
	ids := sweepSeed(t, e, sc, s, now)

	// The page table, with each {name} given a real id of the seeded data.
	type page struct{ name, path string }
	var pages []page
	for _, route := range dashboardGETRoutes(t, e) {
		if _, skip := sweepSkips[route]; skip {
			continue
		}
		if slices.Contains(sweepSignedOut, route) {
			continue
		}
		path := strings.ReplaceAll(route, "{$}", "")
		pages = append(pages, page{route, sweepFillIDs(t, route, path, ids)})
	}
	for _, p := range sweepSignedOut {
		if !slices.Contains(dashboardGETRoutes(t, e), p) {
			t.Errorf("signed-out page %s is no longer in the page table", p)
		}
	}
	// Pages in a second state worth its own look.
	for _, p := range []string{"/search?q=Front", "/history?kind=key.taken", "/import?kind=key_sets"} {
		pages = append(pages, page{p, p})
	}
	var names []string
	for _, p := range pages {
		names = append(names, p.name)
	}
	for _, must := range []string{"/{$}", "/reports", "/scan", "/import"} {
		if !slices.Contains(names, must) {
			t.Fatalf("the sweep lacks %s: %q", must, names)
		}
	}
	t.Logf("%d signed-in pages: %s", len(pages), strings.Join(names, " "))

	csvFile := filepath.Join(t.TempDir(), "people.csv")
	MustNoErr(t, os.WriteFile(csvFile, []byte("name,email,role,sites,badge_kind,badge_code\n"+
		"Nia Newcomer,nia.newcomer-longsurname@quayside-property-lettings.example.test,staff,12 High Street,rfid,00AA11FF22BB33CC\n"+
		"Otto Odd,otto@quayside.test,wizard,Riverside Flats,,\n"), 0o600))

	// Two-step sign-in on, so a sign-in in the signed-out context reaches
	// the code page (/login/mfa), which without one sends to /login.
	owner.open("/settings")
	owner.submit(`form[action="/settings/mfa/setup"] button`)
	secret, err := decodeKey(owner.text(`[data-testid=totp-secret]`))
	MustNoErr(t, err)
	owner.do(chromedp.SendKeys(chromedp.CSS(`form[action="/settings/mfa/enable"] input[name=code]`), auth.TOTPCode(secret, time.Now())))
	owner.submit(`form[action="/settings/mfa/enable"] button`)
	owner.MustSee("Two-step sign-in is on")

	out := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "signed out"}
	octx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	MustNoErr(t, chromedp.Do(octx, chromedp.Navigate("about:blank")))
	out.ctx = octx

	for _, size := range [][2]int64{{1366, 900}, {390, 844}} {
		width := size[0]
		owner.do(chromedp.EmulateViewport(size[0], size[1]))
		for _, p := range pages {
			owner.open(p.path)
			if got := strings.TrimPrefix(owner.location(), e.srv.URL); got != p.path {
				t.Errorf("%d px: %s went to %s", width, p.path, got)
			}
			owner.sweepCheck(p.name, width)
		}

		// The import preview, as a person gets it: the file chosen in the
		// page's form and sent.
		owner.open("/import?kind=people")
		owner.do(chromedp.SetUploadFiles(chromedp.CSS(`input[name=file]`), []string{csvFile}))
		owner.submit(`form[data-testid=import-form] button.primary`)
		owner.MustSee("1 with errors", "wizard", "Nothing was stored")
		owner.sweepCheck("import-preview-errors", width)
		fixed, err := os.ReadFile(csvFile)
		MustNoErr(t, err)
		owner.open("/import?kind=people")
		owner.do(chromedp.SetValue(chromedp.CSS(`textarea[name=csv]`), strings.Replace(string(fixed), "wizard", "contractor", 1)))
		owner.submit(`form[data-testid=import-form] button.primary`)
		owner.MustSee("Import 2 lines")
		owner.sweepCheck("import-preview", width)

		out.do(chromedp.EmulateViewport(size[0], size[1]))
		for _, path := range sweepSignedOut {
			if path == "/login/mfa" {
				out.open("/login")
				out.do(chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ann@quayside.test"),
					chromedp.SendKeys(chromedp.CSS(`input[name=password]`), goodPassword))
				out.submit(`form[action="/login"] button[type=submit]`)
				out.MustSee("authenticator app")
			} else {
				out.open(path)
			}
			if got, _, _ := strings.Cut(strings.TrimPrefix(out.location(), e.srv.URL), "?"); got != path {
				t.Errorf("%d px: signed out, %s went to %s", width, path, got)
			}
			out.sweepCheck(path, width)
		}
	}

	// Every signed-in page again in German, the owner's own language:
	// its words are longer, and must not push a page sideways either.
	MustNoErr(t, e.st.SetMemberLanguage(context.Background(), sc, s.ownerID, "de"))
	for _, size := range [][2]int64{{1366, 900}, {390, 844}} {
		width := size[0]
		owner.do(chromedp.EmulateViewport(size[0], size[1]))
		for _, p := range pages {
			owner.open(p.path)
			owner.sweepCheck("de"+p.name, width)
		}
	}
	owner.open("/")
	owner.MustSee("Übersicht", "Verlauf")

	// And the signed-out pages for a browser that asks for German.
	_, err = chromedp.Call(out.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9"}})
	MustNoErr(t, err)
	for _, size := range [][2]int64{{1366, 900}, {390, 844}} {
		out.do(chromedp.EmulateViewport(size[0], size[1]))
		for _, path := range sweepSignedOut {
			if path == "/login/mfa" {
				continue // reached only through a sign-in, swept in English above
			}
			out.open(path)
			out.sweepCheck("de"+path, size[0])
		}
	}
	out.open("/login")
	out.MustSee("Passwort vergessen?")
}

// sweepIDs are the seeded rows' ids, by the collection a route names.
type sweepIDs map[string]string

// sweepFillIDs puts a real id in each {name} of route: the segment after
// /sites/ gets a site's, and so on.
func sweepFillIDs(tb testing.TB, route, path string, ids sweepIDs) string {
	tb.Helper()
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			continue
		}
		key := segs[i-1] + "/" + seg
		id, ok := ids[key]
		if !ok {
			tb.Fatalf("route %s: the sweep has no id for %s; add one to sweepSeed", route, key)
		}
		segs[i] = id
	}
	return strings.Join(segs, "/")
}

// sweepSeed adds to MustSeed's organisation what the other pages list:
// long addresses, a badge, groups and a rule, policy at each level, a
// legal hold, a job, a reservation, a remote action.
func sweepSeed(tb testing.TB, e *env, sc store.Scope, s *seeded, now time.Time) sweepIDs {
	tb.Helper()
	ctx := context.Background()
	long, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Bartholomew Featherstonehaugh-Smythe",
		Email: "bartholomew.featherstonehaugh-smythe@quayside-property-lettings.example.test", Role: keycab.RoleSiteManager})
	MustNoErr(tb, err)
	_, err = e.st.AddBadge(ctx, sc, s.dana.ID, keycab.BadgeRFID, "04A1B2C3D4E5F60718293A4B5C6D7E8F")
	MustNoErr(tb, err)
	_, err = e.st.AddBadge(ctx, sc, s.formula.ID, keycab.BadgeRFID, "0455AA66BB77CC88")
	MustNoErr(tb, err)
	_, err = e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Flat 14b, Chamberlain Court",
		Address: "Flat 14b, Chamberlain Court, 221 Wellington Road South, Stockport SK2 6NG", TimeZone: "Europe/London"}})
	MustNoErr(tb, err)
	_, err = e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: s.siteA.ID, Label: "Plant room and roof access (north stair)", Sensitive: true})
	MustNoErr(tb, err)
	staff, err := e.st.CreateGroup(ctx, sc, keycab.Group{Kind: keycab.MemberGroup, Name: "Lettings team"})
	MustNoErr(tb, err)
	MustNoErr(tb, e.st.SetGroupEntries(ctx, sc, staff.ID, []string{s.dana.ID, long.ID}))
	_, _, err = e.auth.CreateSCIMToken(ctx, auth.Principal{OrgID: sc.OrgID(), MemberID: s.ownerID}, "Microsoft Entra ID provisioning (Quayside tenant)")
	MustNoErr(tb, err)
	// An API key with every scope and an expiry: the API keys page's table
	// (five columns, German headers) laid out at both widths.
	_, _, err = e.auth.CreateAPIKey(ctx, auth.Principal{OrgID: sc.OrgID(), MemberID: s.ownerID}, "Genetec Security Center access-control bridge (north region)",
		[]string{store.ScopeHistoryRead, store.ScopeCustodyWrite, store.ScopePeopleWrite, store.ScopeCabinetsWrite}, e.clock.Now().AddDate(1, 0, 0))
	MustNoErr(tb, err)
	keys, err := e.st.CreateGroup(ctx, sc, keycab.Group{Kind: keycab.KeySetGroup, Name: "High Street doors"})
	MustNoErr(tb, err)
	MustNoErr(tb, e.st.SetGroupEntries(ctx, sc, keys.ID, []string{s.ksFront.ID, s.ksBack.ID}))
	_, err = e.st.CreateAccessRule(ctx, sc, keycab.AccessRule{MemberGroupID: staff.ID, KeySetGroupID: keys.ID,
		Schedule: []keycab.Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, From: 8 * 60, Until: 18 * 60}}})
	MustNoErr(tb, err)
	curfew, reasons, maxOut, remote := keycab.Curfew("19:00"), []string{"viewing", "valuation", "repair", "inventory check"}, 3, true
	_, err = e.st.SetPolicy(ctx, sc, store.PolicyOrg, "", keycab.PolicyOverride{Curfew: &curfew, Reasons: &reasons, RemoteRelease: &remote})
	MustNoErr(tb, err)
	_, err = e.st.SetPolicy(ctx, sc, store.PolicySite, s.siteA.ID, keycab.PolicyOverride{MaxKeysOut: &maxOut})
	MustNoErr(tb, err)
	_, err = e.st.CreateHold(ctx, sc, store.Hold{Target: store.HoldKeySet, TargetID: s.ksBack.ID, Reason: "Insurance claim 2026/0413: door forced at 12 High Street", OwnerID: s.ownerID})
	MustNoErr(tb, err)
	job, err := e.st.CreateJob(ctx, sc, keycab.Job{MemberID: s.formula.ID, KeySetIDs: []string{s.ksFront.ID, s.ksBack.ID},
		From: now.Add(time.Hour), Until: now.Add(5 * time.Hour), Descriptor: "WO-1042 boiler service and gas safety check"})
	MustNoErr(tb, err)
	_, err = e.st.CreateReservation(ctx, sc, keycab.Reservation{KeySetID: s.ksBack.ID, MemberID: long.ID, From: now.Add(24 * time.Hour), Until: now.Add(26 * time.Hour)})
	MustNoErr(tb, err)
	_, err = e.st.CreateRemoteAction(ctx, sc, keycab.RemoteAction{KioskID: s.kioskA.ID, Kind: keycab.RemoteMarkReturned, KeySetID: s.ksBack.ID,
		Reason: "Dana handed the back gate keys in at the front desk", Expires: now.Add(time.Hour)})
	MustNoErr(tb, err)
	hook, _, err := e.st.Outbox().CreateWebhook(ctx, sc, store.Webhook{URL: "https://integrations.quayside-property-lettings.example.test/keycab/webhooks/access-control?tenant=quayside-lettings-north",
		Description: "Access control bridge (Genetec Security Center, north region)", Events: store.WebhookEventTypes, Enabled: true})
	MustNoErr(tb, err)
	for range 3 {
		_, err = e.st.Outbox().TestWebhook(ctx, sc, hook.ID)
		MustNoErr(tb, err)
	}
	sends, err := e.st.Outbox().TakeWebhookDeliveries(ctx, sc.OrgID(), time.Minute, 2)
	MustNoErr(tb, err)
	MustNoErr(tb, e.st.Outbox().FinishWebhookDelivery(ctx, sends[0], store.WebhookResult{Delivered: true, Status: 204}))
	MustNoErr(tb, e.st.Outbox().FinishWebhookDelivery(ctx, sends[1], store.WebhookResult{Error: "dial tcp 203.0.113.7:443: connect: connection refused after the receiver's load balancer dropped it", RetryAt: now.Add(time.Hour)}))
	_, err = e.st.Accounts().SetSSOConfig(ctx, sc, store.SSOConfig{Issuer: "https://login.microsoftonline.com/5f1c2b7e-9a3d-4e8f-b6c1-2d7a9e0f4b3c/v2.0",
		ClientID: "8c3e1f5a-7b2d-4c9e-a1f6-3e5d7b9c2a4f", Domains: []string{"quayside-property-lettings.example.test", "quayside.test"},
		Roles: []store.SSORoleMap{{Group: "keycab-administrators-north-region", Role: keycab.RoleAdmin},
			{Group: "lettings-negotiators-high-street", Role: keycab.RoleStaff, SiteIDs: []string{s.siteA.ID}}}}, "a client secret of the sweep")
	MustNoErr(tb, err)
	pass, _, err := e.st.IssuePass(ctx, sc, keycab.Pass{MemberID: s.formula.ID, KeySetIDs: []string{s.ksFront.ID, s.ksBack.ID},
		From: now.Add(-time.Hour), Until: now.Add(8 * time.Hour), Note: "Boiler service, work order 4471-B (Quayside Heating Ltd.)"})
	MustNoErr(tb, err)
	return sweepIDs{
		"passes/{id}":   pass.ID,
		"webhooks/{id}": hook.ID,
		"sites/{id}":    s.siteA.ID,
		"cabinets/{id}": s.cabA.ID,
		"kiosks/{id}":   s.kioskA.ID,
		"key-sets/{id}": s.ksBack.ID,
		"people/{id}":   s.formula.ID,
		"jobs/{job}":    job.ID,
	}
}

var sweepSlug = regexp.MustCompile(`[^a-z0-9]+`)

// sweepCheck fails if the page scrolls sideways or a visible element
// reaches past the viewport's right edge outside a scrolling container,
// and keeps a full-page screenshot as sweep-<page>-<width>.png.
func (t *tab) sweepCheck(page string, width int64) {
	t.tb.Helper()
	slug := strings.Trim(sweepSlug.ReplaceAllString(strings.ToLower(strings.NewReplacer("{", "", "}", "").Replace(page)), "-"), "-")
	if slug == "" {
		slug = "overview"
	}
	if page == "/{$}" {
		slug = "overview"
	}
	t.shot(fmt.Sprintf("sweep-%s-%d", slug, width))
	if n := t.scrollOverflow(); n > 0 {
		t.tb.Errorf("%d px: %s is %d px wider than the screen", width, page, n)
	}
	if bad := t.eval(sweepOverflowJS); bad != "" {
		t.tb.Errorf("%d px: %s: past the right edge:\n%s", width, page, bad)
	}
}

// sweepOverflowJS names each visible element whose box ends past the
// viewport's right edge (the root's client width: the viewport less any
// scroll bar) with no ancestor below the body that scrolls sideways
// (overflow-x auto or scroll) to hold it. An element inside one that
// itself overflows is left out: its outermost overflowing ancestor is
// named.
const sweepOverflowJS = `(() => {
  const edge = document.documentElement.clientWidth + 0.5;
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== document.body && p !== document.documentElement; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  };
  const bad = new Set(), lines = [];
  for (const el of document.body.querySelectorAll("*")) {
    const st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right <= edge || scrolls(el)) continue;
    bad.add(el);
    let p = el.parentElement;
    while (p && !bad.has(p)) p = p.parentElement;
    if (p) continue;
    const text = (el.innerText || el.value || "").replace(/\s+/g, " ").trim().slice(0, 40);
    lines.push("  <" + el.tagName.toLowerCase() + (el.className ? " class=" + JSON.stringify(String(el.className)) : "") +
      (el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + "> right " + Math.round(r.right) +
      " of " + Math.round(edge) + ": " + JSON.stringify(text));
  }
  return lines.join("\n");
})()`
