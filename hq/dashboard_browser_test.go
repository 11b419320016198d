package hq_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/store"
)

// The browser tests drive Debian's headless Chromium (package chromium)
// against a real HQ on loopback with chromedp. They are slow and need
// the browser: -short skips them; otherwise a missing Chromium fails.
// Screenshots of every step are written to testdata/artifacts/
// (gitignored) for a person to look at.

const artifacts = "testdata/artifacts"

// chromiumPath finds Debian's Chromium.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: browser tests skipped")
	}
	for _, p := range []string{os.Getenv("KEYCAB_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	tb.Fatal("Chromium is needed for the browser tests: apt-get install chromium (or set KEYCAB_CHROMIUM; -short skips them)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile that reaches
// only loopback (every other host goes to a closed proxy port), with
// extra flags for one test (the phone page's fake camera).
func newBrowser(tb testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
		chromedp.Flag("font-render-hinting", "none"),
		// The browser asks for British English: the pages' dates and times
		// are en-GB's (a browser asking for en-US gets a 12-hour clock).
		chromedp.Flag("accept-lang", "en-GB"),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	opts = append(opts, extra...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	tb.Cleanup(cancel2)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// tab is one browser context (its own cookies) on the HQ under test.
type tab struct {
	tb   testing.TB
	ctx  context.Context
	base string
	name string
}

func (t *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.shot("failure")
		t.tb.Fatalf("%s: %v", t.name, err)
	}
}

// submit clicks sel and waits for the page it leads to.
func (t *tab) submit(sel string) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.shot("failure")
		t.tb.Fatalf("%s: click %s: %v", t.name, sel, err)
	}
}

func (t *tab) open(path string) {
	t.tb.Helper()
	t.do(chromedp.Navigate(t.base + path))
}

func (t *tab) text(sel string) string {
	t.tb.Helper()
	// A query racing the page's own scripts can lose its node: retry.
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
		var s string
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.shot("failure")
	t.tb.Fatalf("%s: text of %s: %v", t.name, sel, err)
	return ""
}

func (t *tab) attr(sel, name string) string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !a.Exists {
		t.shot("failure")
		t.tb.Fatalf("%s: %s of %s: %v", t.name, name, sel, err)
	}
	return a.Value
}

// signup fills in and sends the signup form, with a screenshot of the
// filled form when shot is set.
func (t *tab) signup(org, name, email, shot string) {
	t.tb.Helper()
	t.open("/signup")
	t.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=org_name]`), org),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), goodPassword),
	)
	if shot != "" {
		t.shot(shot)
	}
	t.submit(`button[type=submit]`)
}

// ownerTab signs up Ann Owner of Quayside Keys in the browser, verifies
// her address, and returns her tab and her store scope.
func ownerTab(t *testing.T, browser context.Context, e *env) (*tab, store.Scope) {
	t.Helper()
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}
	owner.signup("Quayside Keys", "Ann Owner", "ann@quayside.test", "")
	owner.verify(e.mail.MustToken(t, "verify", "ann@quayside.test"))
	owner.MustSee("Quayside Keys")
	p, err := e.auth.Authenticate(context.Background(), owner.session())
	MustNoErr(t, err)
	return owner, p.Scope()
}

// verify opens a verification link (the token after #token=) and sends
// its form.
func (t *tab) verify(token string) {
	t.tb.Helper()
	t.do(chromedp.Navigate("about:blank")) // from /verify, a new fragment alone would not load the page
	t.open("/verify#token=" + url.QueryEscape(token))
	t.submit(`form[action="/verify"] button[type=submit]`)
}

// value is the current value of a form control.
func (t *tab) value(sel string) string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		t.tb.Fatalf("%s: value of %s: %v", t.name, sel, err)
	}
	return v
}

func (t *tab) location() string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.tb.Fatalf("%s: location: %v", t.name, err)
	}
	return loc
}

// MustSee fails unless the page's text has every one of want.
func (t *tab) MustSee(want ...string) {
	t.tb.Helper()
	body := t.text("body")
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.shot("failure")
			t.tb.Fatalf("%s at %s: page lacks %q:\n%s", t.name, t.location(), w, body)
		}
	}
}

// shot saves a full-page screenshot as testdata/artifacts/NAME.png.
func (t *tab) shot(name string) {
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.tb.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.tb.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(artifacts, name+".png"), b, 0o644); err != nil {
		t.tb.Logf("screenshot %s: %v", name, err)
	}
}

// session is the tab's session cookie, for seeding through the store.
func (t *tab) session() string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	cs, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{t.base}})
	MustNoErr(t.tb, err)
	for _, c := range cs.Cookies {
		if c.Name == "__Host-keycab_session" {
			if !c.Secure || !c.HTTPOnly || c.Path != "/" {
				t.tb.Errorf("session cookie: secure %v, httponly %v, path %q", c.Secure, c.HTTPOnly, c.Path)
			}
			return c.Value
		}
	}
	t.tb.Fatal("no session cookie in the browser")
	return ""
}

var mailLink = regexp.MustCompile(`http://\S+/invite#token=\S+`)

// MustMailToken returns the link token of the dry-run mail directory's
// last message of kind to to.
func MustMailToken(tb testing.TB, dir, kind, to string) string {
	tb.Helper()
	m := linkToken.FindStringSubmatch(mustDirMail(tb, dir, kind, to))
	if m == nil {
		tb.Fatalf("no link in the %s message to %s", kind, to)
	}
	tok, err := url.QueryUnescape(m[1])
	MustNoErr(tb, err)
	return tok
}

// mustDirMail returns the dry-run mail directory's last message of kind
// to to.
func mustDirMail(tb testing.TB, dir, kind, to string) string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	MustNoErr(tb, err)
	for i := len(es) - 1; i >= 0; i-- {
		b, err := os.ReadFile(filepath.Join(dir, es[i].Name()))
		MustNoErr(tb, err)
		if strings.HasSuffix(es[i].Name(), "-"+kind+".eml") && strings.Contains(string(b), "To: "+to+"\r\n") {
			return string(b)
		}
	}
	tb.Fatalf("no %s message to %s in %s", kind, to, dir)
	return ""
}

// MustMailLink returns the invite link in the dry-run mail directory's
// message to to.
func MustMailLink(tb testing.TB, dir, to string) string {
	tb.Helper()
	m := mailLink.FindString(mustDirMail(tb, dir, "invite", to))
	if m == "" {
		tb.Fatalf("no invitation link to %s in %s", to, dir)
	}
	return m
}

// The whole dashboard in a real browser: sign up, seed a little history,
// invite a member and accept in a second browser context, turn on MFA and
// sign in with a TOTP code, filter history and page through it, export
// CSV and read it back.
func TestBrowserDashboard(t *testing.T) {
	browser := newBrowser(t)
	mailDir := t.TempDir()
	e := newDashEnv(t, engines()[0], mail.DirMailer{Dir: mailDir}, true)
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}
	start := time.Now()

	// Sign up.
	owner.open("/")
	if !strings.Contains(owner.location(), "/login") {
		t.Fatalf("signed out / went to %s", owner.location())
	}
	owner.signup("Harbour Lettings", "Ann Owner", "ann@harbour.test", "01-signup")
	owner.MustSee("Welcome to keycab", "Verify your email address")
	owner.verify(MustMailToken(t, mailDir, "verify", "ann@harbour.test"))
	owner.MustSee("Harbour Lettings", "Email address verified", "0 taken")
	owner.shot("02-empty-dashboard")

	// History to look at: through the store, as kiosks would sync it.
	w := e.web()
	w.cookies["__Host-keycab_session"] = owner.session()
	s := MustSeed(t, e, w, time.Now(), 120)
	owner.open("/")
	owner.MustSee("Overview", "key sets out now", "overdue", "open alarm", "Today, ")
	for _, width := range []int64{1366, 390} {
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%d px: the overview is %d px wider than the screen", width, overflow)
		}
		owner.shot(fmt.Sprintf("03-overview-%d", width))
	}
	owner.do(chromedp.EmulateViewport(1366, 900))
	owner.do(chromedp.Click(chromedp.CSS(`[data-testid=tile-keys]`)))
	owner.MustSee("Back gate", "Dana Whitlock", "Overdue")
	owner.shot("03-keys-out")
	owner.open("/overdue")
	owner.MustSee("Back gate")
	for _, width := range []int64{390, 1366} {
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/alarms")
		owner.MustSee("Door forced", "open ")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%d px: the alarms page is %d px wider than the screen", width, overflow)
		}
		owner.shot(fmt.Sprintf("04-alarms-%d", width))
	}
	owner.open("/kiosks")
	owner.MustSee("Front office kiosk", "online", "healthy")
	owner.shot("05-kiosks")

	// Invite an auditor; accept in a second browser context.
	owner.open("/people")
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`form[data-testid=invite-form] input[name=email]`), "audrey@harbour.test"),
		chromedp.SetValue(chromedp.CSS(`form[data-testid=invite-form] select[name=role]`), "auditor"),
	)
	owner.submit(`form[data-testid=invite-form] button[type=submit]`)
	owner.MustSee("Invitation sent.", "audrey@harbour.test")
	owner.shot("06-people-invited")
	link := MustMailLink(t, mailDir, "audrey@harbour.test")
	if !strings.HasPrefix(link, e.srv.URL+"/invite#token=") {
		t.Fatalf("invite link %q", link)
	}
	ictx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	invitee := &tab{tb: t, ctx: ictx, base: e.srv.URL, name: "invitee"}
	// The first action on a context opens its tab for the context's
	// lifetime: not under a timeout, which would close it.
	MustNoErr(t, chromedp.Do(ictx, chromedp.Navigate("about:blank")))
	invitee.do(chromedp.Navigate(link))
	// app.js took the token from the fragment, hid its field and
	// dropped the fragment from the address bar.
	invitee.MustSee("Accept your invitation")
	if loc := invitee.location(); strings.Contains(loc, "token") {
		t.Errorf("token left in the address bar: %s", loc)
	}
	if tok := invitee.attr(`input[name=token]`, "value"); tok != "" {
		t.Errorf("token in the value attribute: %q", tok)
	}
	invitee.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Audrey Auditor"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), goodPassword),
	)
	invitee.shot("07-invite-accept")
	invitee.submit(`button[type=submit]`)
	invitee.MustSee("Invitation accepted", "Harbour Lettings", "Audrey Auditor", "Auditor")
	invitee.open("/history")
	invitee.MustSee("Export CSV")
	owner.open("/people")
	owner.MustSee("Audrey Auditor")

	// MFA: enrol, sign out, sign in with a code.
	owner.open("/settings")
	owner.submit(`form[action="/settings/mfa/setup"] button`)
	owner.MustSee("Scan this code")
	owner.shot("08-mfa-setup")
	secret, err := decodeKey(owner.text(`[data-testid=totp-secret]`))
	MustNoErr(t, err)
	if uri := owner.attr(`[data-testid=otpauth]`, "href"); !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Errorf("otpauth link %q", uri)
	}
	// The code of the previous step (accepted, ±1 step), so the sign-in
	// below has a newer step to use: codes are never accepted twice.
	owner.do(chromedp.SendKeys(chromedp.CSS(`form[action="/settings/mfa/enable"] input[name=code]`), auth.TOTPCode(secret, time.Now().Add(-30*time.Second))))
	owner.submit(`form[action="/settings/mfa/enable"] button`)
	owner.MustSee("Two-step sign-in is on")
	owner.submit(`form[action="/logout"] button`)
	owner.MustSee("You are signed out")
	owner.open("/history?site=" + s.siteB.ID)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ann@harbour.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), goodPassword),
	)
	owner.shot("09-login")
	owner.submit(`button[type=submit]`)
	owner.MustSee("authenticator app")
	owner.do(chromedp.SendKeys(chromedp.CSS(`input[name=code]`), auth.TOTPCode(secret, time.Now())))
	owner.shot("10-mfa-code")
	owner.submit(`button[type=submit]`)

	// Back where sign-in started: history filtered by site.
	if loc := owner.location(); !strings.Contains(loc, "/history?site="+s.siteB.ID) {
		t.Fatalf("after MFA at %s", loc)
	}
	owner.do(chromedp.SetValue(chromedp.CSS(`select[name=kind]`), "door.opened"))
	owner.submit(`form[data-testid=filters] button[type=submit]`)
	owner.MustSee("Riverside Flats", "Door opened", "Page 1")
	rows := owner.text(`table[data-testid=history] tbody`)
	if strings.Contains(rows, "12 High Street") || strings.Contains(rows, "Key taken") {
		t.Errorf("filter leaks other rows:\n%s", rows)
	}
	owner.shot("11-history-filtered")
	owner.submit(`a[rel=next]`)
	owner.MustSee("Page 2")
	owner.submit(`a[rel=prev]`)
	owner.MustSee("Page 1")
	owner.open("/history")
	owner.shot("12-history")

	// Export the filtered history and read the CSV the link serves.
	owner.open("/history?site=" + s.siteB.ID + "&kind=door.opened")
	owner.submit(`a[data-testid=export]`)
	owner.MustSee("Your CSV export is ready")
	owner.shot("13-export")
	href := owner.attr(`a[data-testid=download]`, "href")
	u, err := url.Parse(href)
	MustNoErr(t, err)
	res, err := http.Get(e.srv.URL + u.RequestURI())
	MustNoErr(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	MustNoErr(t, err)
	if res.StatusCode != 200 {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	MustNoErr(t, err)
	if len(recs) != 1+60 {
		t.Errorf("export has %d rows, want 61", len(recs))
	}
	for _, r := range recs[1:] {
		if r[1] != "door.opened" || r[6] != "Riverside Flats" || r[5] != "'"+formulaLabel {
			t.Errorf("export row %v", r)
			break
		}
	}
	// A tampered link is refused, in the browser too.
	q := u.Query()
	q.Set("kind", "key.taken")
	owner.open(u.Path + "?" + q.Encode())
	owner.MustSee("Not allowed", "not valid")
	owner.shot("14-export-tampered")

	// The remaining pages, for the record.
	for _, p := range []string{"key-sets", "sites", "cabinets", "settings"} {
		owner.open("/" + p)
		owner.shot("15-" + p)
	}
	owner.open("/sites/" + s.siteA.ID)
	owner.MustSee("Alarm code 4321")
	owner.open("/cabinets/" + s.cabA.ID)
	owner.MustSee("Front door")
	owner.shot("16-cabinet")
	t.Logf("browser flow took %v", time.Since(start).Round(time.Millisecond))
}

// The create and edit forms in a real browser: add a site (a bad time
// zone first, which comes back with the error and what was typed), a
// slotted cabinet at it, and a key set homed in one of its slots, and
// issue the key set's QR token.
func TestBrowserManageForms(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner := &tab{tb: t, ctx: browser, base: e.srv.URL, name: "owner"}

	owner.signup("Quayside Keys", "Ann Owner", "ann@quayside.test", "")
	owner.verify(e.mail.MustToken(t, "verify", "ann@quayside.test"))
	owner.MustSee("Quayside Keys", "Email address verified")

	// A site: a zone Go does not know is refused, and nothing typed is lost.
	owner.open("/sites")
	owner.submit(`a[data-testid=new-site]`)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Harbour House"),
		chromedp.SendKeys(chromedp.CSS(`input[name=address]`), "1 Quay Street, Bristol"),
		chromedp.SetValue(chromedp.CSS(`input[name=time_zone]`), "Europe/Bristol"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=notes]`), "Key safe by the bins: 2580"),
	)
	owner.submit(`form[data-testid=site-form] button[type=submit]`)
	owner.MustSee("unknown time zone")
	if got := owner.attr(`input[name=address]`, "value"); got != "1 Quay Street, Bristol" {
		t.Errorf("the address typed came back as %q", got)
	}
	if got := owner.value(`textarea[name=notes]`); got != "Key safe by the bins: 2580" {
		t.Errorf("the notes typed came back as %q", got)
	}
	owner.shot("20-site-form-error")
	owner.do(chromedp.SetValue(chromedp.CSS(`input[name=time_zone]`), "Europe/London"))
	owner.submit(`form[data-testid=site-form] button[type=submit]`)
	owner.MustSee("Created.", "Harbour House", "Europe/London", "Key safe by the bins: 2580")
	owner.shot("21-site-created")

	// A slotted cabinet at the site, from the site page.
	owner.submit(`a[href^="/cabinets/new?site="]`)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Front desk"),
		chromedp.SetValue(chromedp.CSS(`input[name=slots]`), "4"),
	)
	owner.shot("22-cabinet-form")
	owner.submit(`form[data-testid=cabinet-form] button[type=submit]`)
	owner.MustSee("Created.", "Front desk", "Harbour House", "slotted")
	if rows := owner.text(`table.grid tbody`); strings.Count(rows, "Free") != 4 {
		t.Errorf("the new cabinet's slots:\n%s", rows)
	}
	cabinet := strings.TrimPrefix(owner.location(), e.srv.URL+"/cabinets/")
	cabinet, _, _ = strings.Cut(cabinet, "?")

	// A key set homed in slot 2, with dual release, and its QR token.
	owner.open("/key-sets")
	owner.submit(`a[data-testid=new-keyset]`)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=label]`), "Flat 3, front door"),
		chromedp.SetValue(chromedp.CSS(`select[name=site]`), owner.attr(`select[name=site] option:nth-child(2)`, "value")),
		chromedp.SetValue(chromedp.CSS(`select[name=slot]`), cabinet+"/2"),
		chromedp.Click(chromedp.CSS(`input[name=sensitive]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=max_out]`), "120"),
	)
	owner.shot("23-keyset-form")
	owner.submit(`form[data-testid=keyset-form] button[type=submit]`)
	owner.MustSee("Created.", "Flat 3, front door", "No token yet", "No reservations")
	if got := owner.value(`select[name=slot]`); got != cabinet+"/2" {
		t.Errorf("home slot %q, want %s/2", got, cabinet)
	}
	owner.submit(`form[action$="/token"] button`)
	owner.MustSee("shown only this once")
	if tok := owner.text(`[data-testid=token-text]`); !strings.HasPrefix(tok, "kc1.") {
		t.Errorf("token %q", tok)
	}
	owner.shot("24-keyset-token")
	owner.open("/cabinets/" + cabinet)
	owner.MustSee("Flat 3, front door")
	owner.shot("25-cabinet-with-keyset")

	// A kiosk-only contractor, and a job typed in the site's local time.
	owner.open("/people")
	owner.submit(`a[data-testid=new-member]`)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Dev Sparks"),
		chromedp.SetValue(chromedp.CSS(`select[name=role]`), "contractor"),
	)
	owner.submit(`form[data-testid=member-form] button[type=submit]`)
	owner.MustSee("Created.", "Dev Sparks", "Contractor", "No badges", "No jobs")
	owner.submit(`a[data-testid=new-job]`)
	owner.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=descriptor]`), "WO-1042 boiler service"),
		chromedp.Click(chromedp.CSS(`input[name=key_set]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=from]`), "2026-07-01T09:00"),
		chromedp.SetValue(chromedp.CSS(`input[name=until]`), "2026-07-01T17:30"),
	)
	owner.shot("26-job-form")
	owner.submit(`form[data-testid=job-form] button[type=submit]`)
	owner.MustSee("Saved.", "WO-1042 boiler service", "Flat 3, front door", "1 Jul 2026 09:00 BST (Europe/London)", "1 Jul 2026 17:30 BST (Europe/London)")
	owner.shot("27-member-with-job")
}
