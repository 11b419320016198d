package hq_test

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
)

// The phone page's security headers: the camera and the manifest for
// /scan alone, every other page as strict as before; the manifest and
// icons are served by HQ.
func TestScanPageHeaders(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		w := e.web()
		w.cookies["__Host-keycab_session"] = u.access
		p := MustPage(t, w.get(t, "/scan"), 200, `data-testid="scan"`, `rel="manifest"`, "/static/jsQR.js", "/static/scan.js")
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "manifest-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("/scan: CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "*") {
			t.Errorf("/scan: weak CSP %q", csp)
		}
		if pp := p.header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=(self)") || !strings.Contains(pp, "microphone=()") {
			t.Errorf("/scan: Permissions-Policy %q", pp)
		}
		for _, path := range []string{"/", "/keys", "/history"} {
			p := MustPage(t, w.get(t, path), 200, `href="/scan"`)
			if pp := p.header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") {
				t.Errorf("%s: Permissions-Policy %q", path, pp)
			}
			if csp := p.header.Get("Content-Security-Policy"); strings.Contains(csp, "manifest-src") || strings.Contains(p.body, `rel="manifest"`) {
				t.Errorf("%s: the scan page's manifest leaks here: %q", path, csp)
			}
		}
		// Signed out, /scan sends the browser to sign in and comes back.
		if p := e.web().get(t, "/scan"); p.status != 303 || p.location() != "/login?next=%2Fscan" {
			t.Errorf("/scan signed out: %d to %q", p.status, p.location())
		}
		for path, ctype := range map[string]string{"/static/manifest.webmanifest": "application/manifest+json",
			"/static/icon-192.png": "image/png", "/static/icon-512.png": "image/png", "/static/jsQR.js": "javascript"} {
			r := e.do(t, "GET", path, "", nil)
			if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), ctype) {
				t.Errorf("%s: %d %q", path, r.status, r.header.Get("Content-Type"))
			}
			mustSecurityHeaders(t, r)
		}
	})
}

// labelVideo writes a camera stream of a printed label for Chromium's
// fake camera: the label sheet's first cut-out (qrlabel.Sheet, as
// /labels prints it), scaled into 640x480 at 30 fps for 4 s, with sensor
// noise and a little blur, as a .y4m file that Chromium loops.
func labelVideo(t *testing.T, token, title string) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg makes the fake camera's stream: apt-get install ffmpeg")
	}
	sheet, err := qrlabel.Sheet{Labels: []qrlabel.Label{{Token: token, Title: title, Caption: "Acme site · no cabinet"}}}.Image()
	MustNoErr(t, err)
	const margin, cellW, cellH = 118, (2480 - 2*118) / 3, (3508 - 2*118) / 6
	cell := sheet.SubImage(image.Rect(margin, margin, margin+cellW, margin+cellH))
	dir := t.TempDir()
	pngPath, y4m := filepath.Join(dir, "label.png"), filepath.Join(dir, "label.y4m")
	f, err := os.Create(pngPath)
	MustNoErr(t, err)
	MustNoErr(t, png.Encode(f, cell))
	MustNoErr(t, f.Close())
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1", "-i", pngPath, "-t", "4", "-r", "30",
		"-vf", "scale=600:440:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2:color=0xd8d4cc,format=yuv420p,noise=alls=12:allf=t,gblur=sigma=0.8",
		"-pix_fmt", "yuv420p", y4m).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	// The first frame, to look at beside the screenshots.
	if err := os.MkdirAll(artifacts, 0o755); err == nil {
		exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", y4m, "-frames:v", "1", filepath.Join(artifacts, "scan-00-camera-frame.png")).Run()
	}
	return y4m
}

// The phone page in a real headless Chromium at 390x844 (mobile), on
// each engine (screenshots: the last engine's): a staff member signs in and opens /scan; Chromium's fake camera
// shows a printed label (noise and blur, see labelVideo); the page
// decodes it (jsQR: Debian's Chromium on Linux has no BarcodeDetector),
// shows the key set, and takes it with a reason; scanned again within
// the policy's 3 s scan cool-down (the test clock stands still), a
// return is ignored and says so; past the cool-down the return is done.
// HQ's custody, history and HQ log agree at each step. The test clock
// starts at the real time, for the browser's cookies. Then the same
// with the label's text typed, in a browser with no camera; and an owner
// hands a key set over to the staff member with the members' select.
func TestBrowserScanPage(t *testing.T) {
	chromiumPath(t)
	for _, eng := range engines() { // one after the other: two Chromiums each
		t.Run(eng.name, func(t *testing.T) { scanPageTest(t, eng) })
	}
}

func scanPageTest(t *testing.T, eng engine) {
	e := newEnv(t, eng, nil)
	// The browser keeps cookies by its own clock: the test clock starts
	// now (and still moves only when told to).
	e.clock.mu.Lock()
	e.clock.t = time.Now().UTC().Truncate(time.Second)
	e.clock.mu.Unlock()
	w := e.mustCustodyWorld(t, "Acme")
	ctx := context.Background()
	own := store.MemberScope(w.owner.orgID, w.owner.memberID)
	drawer, err := e.st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: w.site.ID, Label: "Drawer 3"})
	MustNoErr(t, err)
	drawerToken := MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+drawer.ID+"/tokens", w.owner.access, nil), 201).str("token")

	t.Cleanup(func() {
		if t.Failed() {
			e.logs.mu.Lock()
			t.Logf("HQ's log:\n%s", e.logs.buf)
			e.logs.mu.Unlock()
		}
	})
	video := labelVideo(t, w.token, "Lockbox 7")
	camera := newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video))
	staff := &tab{tb: t, ctx: camera, base: e.srv.URL, name: "staff (camera)"}
	staff.watchCSP()
	staff.signIn(w.staff)
	staff.open("/scan")
	staff.mustInstallable()
	staff.waitFor(`document.querySelector("[data-testid=scan]").dataset.camera === "on"`, "the camera")
	staff.shot("scan-camera-01-camera") // most often before the first frame is read
	staff.waitFor(`document.querySelector("[data-testid=scan]").dataset.lookups === "1"`, "the camera to read the label")
	if got := staff.eval(`document.querySelector("[data-testid=scan]").dataset.camera`); got != "on" {
		t.Errorf("camera state %q", got)
	}
	decoder := staff.eval(`document.querySelector("[data-testid=scan]").dataset.decoder`)
	t.Logf("decoder: %s (BarcodeDetector in window: %s)", decoder, staff.eval(`String("BarcodeDetector" in window)`))
	scanFlow(t, e, w, staff, w.lockbox, "scan-camera", func(n int) {
		staff.do(chromedp.Click(chromedp.CSS("[data-testid=scan-again]")))
		staff.waitFor(`document.querySelector("[data-testid=scan]").dataset.lookups === "`+strconv.Itoa(n)+`"`, "the camera to read the label again")
	})
	if v := staff.cspViolations(); v != "[]" {
		t.Errorf("CSP violations on /scan: %s", v)
	}
	// The camera is this page's alone: elsewhere the browser refuses it.
	staff.open("/keys")
	if got := staff.evalAsync(`navigator.mediaDevices.getUserMedia({video: true}).then(() => "granted", e => e.name)`); got != "NotAllowedError" {
		t.Errorf("the camera on /keys: %s", got)
	}
	// (The CSP watch sees a violation: an image from elsewhere.)
	staff.evalAsync(`new Promise(done => { const i = new Image(); i.onerror = () => done(""); i.src = "http://elsewhere.test/x.png"; })`)
	if v := staff.cspViolations(); !strings.Contains(v, "img-src") {
		t.Errorf("the CSP watch saw no violation on /keys: %s", v)
	}

	// No camera: the label's text typed.
	typed := &tab{tb: t, ctx: newBrowser(t), base: e.srv.URL, name: "staff (typed)"}
	typed.watchCSP()
	typed.signIn(w.staff)
	typed.open("/scan")
	typed.waitFor(`["absent", "refused"].includes(document.querySelector("[data-testid=scan]").dataset.camera)`, "the page to find no camera")
	typed.MustSee("type the label's text")
	typed.shot("scan-typed-01-no-camera")
	typeLabel := func(text string) {
		typed.eval(`(document.getElementById("scan-token-input").value = "", "")`)
		typed.do(chromedp.SendKeys(chromedp.CSS("#scan-token-input"), text), chromedp.Click(chromedp.CSS("[data-testid=token-form] button[type=submit]")))
	}
	lookup := func(n int) {
		typeLabel(drawerToken)
		typed.waitFor(`document.querySelector("[data-testid=scan]").dataset.lookups === "`+strconv.Itoa(n)+`"`, "the lookup")
	}
	lookup(1)
	scanFlow(t, e, w, typed, drawer, "scan-typed", lookup)

	// A label that is not the organisation's says so.
	typeLabel("kc1.aaaabbbbccccddddeeeeffffgggghhhh")
	typed.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "error"`, "the refusal")
	typed.MustSee("This label is not one of your organisation's key sets")
	typed.shot("scan-typed-07-unknown-label")
	if v := typed.cspViolations(); v != "[]" {
		t.Errorf("CSP violations on /scan without a camera: %s", v)
	}
	// On a wide screen the page stays one readable column.
	typed.do(chromedp.EmulateViewport(1366, 900))
	typed.shot("scan-typed-08-wide")
	typed.mustFit()

	// An owner lists the members, so hands over with the select: takes
	// Drawer 3 and hands it to the staff member, who holds it after.
	octx, cancel := chromedp.NewContext(typed.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	MustNoErr(t, chromedp.Do(octx, chromedp.Navigate("about:blank")))
	owner := &tab{tb: t, ctx: octx, base: e.srv.URL, name: "owner (typed)"}
	owner.signIn(w.owner)
	owner.open("/scan")
	owner.waitFor(`document.querySelector("[data-testid=scan]").dataset.camera !== undefined`, "the camera check")
	e.clock.Advance(5 * time.Second)
	owner.do(chromedp.SendKeys(chromedp.CSS("#scan-token-input"), drawerToken), chromedp.Click(chromedp.CSS("[data-testid=token-form] button[type=submit]")))
	owner.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=take-form]")), chromedp.WaitReady(chromedp.CSS(`#scan-reason option[value="inspection"]`)),
		chromedp.SetValue(chromedp.CSS("#scan-reason"), "inspection"), chromedp.Click(chromedp.CSS("[data-testid=take]")))
	owner.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "done"`, "the owner's take")
	owner.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=handover-form]")))
	e.clock.Advance(5 * time.Second)
	owner.do(chromedp.SetValue(chromedp.CSS("#scan-to"), w.staff.memberID), chromedp.Click(chromedp.CSS("[data-testid=handover]")))
	owner.waitFor(`document.querySelector("[data-testid=outcome]").textContent === "Handed over: Drawer 3"`, "the hand-over")
	owner.MustSee("With", w.staff.email) // the staff member joined with their address as their name
	owner.shot("scan-owner-07-handed-over")
	owner.mustFit()
	out, err := e.st.ListCustody(ctx, own)
	MustNoErr(t, err)
	if c := custodyOfKeySet(out, drawer.ID); c == nil || c.MemberID != w.staff.memberID {
		t.Fatalf("custody of Drawer 3 after the hand-over: %+v", c)
	}

	// A dual release on two phones: the staff member takes the plant
	// room's keys, which waits; the owner scans the same label on their
	// phone and confirms; the staff member holds them.
	plant, err := e.st.CreateKeySet(ctx, own, keycab.KeySet{SiteID: w.site.ID, Label: "Plant room", Sensitive: true})
	MustNoErr(t, err)
	plantToken := MustStatus(t, e.do(t, "POST", "/v1/key-sets/"+plant.ID+"/tokens", w.owner.access, nil), 201).str("token")
	look := func(p *tab, token string) {
		t.Helper()
		p.eval(`(document.getElementById("scan-token-input").value = "", "")`)
		p.do(chromedp.SendKeys(chromedp.CSS("#scan-token-input"), token), chromedp.Click(chromedp.CSS("[data-testid=token-form] button[type=submit]")))
		p.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=scan-result]")))
		p.waitFor(`document.querySelector("[data-testid=ks-label]").textContent === "Plant room"`, "the plant room's keys")
	}
	e.clock.Advance(5 * time.Second)
	typed.do(chromedp.EmulateViewport(390, 844))
	look(typed, plantToken)
	typed.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=take-form]")), chromedp.WaitReady(chromedp.CSS(`#scan-reason option[value="maintenance"]`)),
		chromedp.SetValue(chromedp.CSS("#scan-reason"), "maintenance"), chromedp.Click(chromedp.CSS("[data-testid=take]")))
	typed.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "pending"`, "the take to wait")
	typed.MustSee("needs 1 more member(s) to confirm")
	typed.shot("scan-dual-01-waiting")
	look(owner, plantToken)
	owner.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=confirm-form]")))
	owner.MustSee("is taking it, 0 of 1 confirmed")
	owner.shot("scan-dual-02-confirm")
	owner.mustFit()
	owner.do(chromedp.Click(chromedp.CSS("[data-testid=confirm]")))
	owner.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "done"`, "the release")
	owner.MustSee("Taken: Plant room")
	owner.shot("scan-dual-03-released")
	out, err = e.st.ListCustody(ctx, own)
	MustNoErr(t, err)
	if c := custodyOfKeySet(out, plant.ID); c == nil || c.MemberID != w.staff.memberID {
		t.Fatalf("custody of the plant room after the release: %+v", c)
	}
}

// scanFlow takes key set k with a reason once the page shows it, looks it
// up again (again(n): the page's nth lookup) and returns it within the
// cool-down (ignored), then past it (done), checking HQ after each.
func scanFlow(t *testing.T, e *env, w custodyWorld, p *tab, k keycab.KeySet, shot string, again func(n int)) {
	t.Helper()
	ctx := context.Background()
	sc := store.MemberScope(w.owner.orgID, w.owner.memberID)
	logSize := func() float64 {
		return MustStatus(t, e.do(t, "GET", "/v1/org/log", w.owner.access, nil), 200).body["size"].(float64)
	}
	before := logSize()
	p.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=take-form]")), chromedp.WaitReady(chromedp.CSS(`#scan-reason option[value="viewing"]`)))
	if got := p.text("[data-testid=ks-label]"); got != k.Label {
		t.Fatalf("%s: the page shows key set %q", p.name, got)
	}
	p.MustSee("No cabinet", "Nobody: it is at home", "Maintenance")
	p.shot(shot + "-02-found")
	p.mustFit()

	p.do(chromedp.SetValue(chromedp.CSS("#scan-reason"), "viewing"),
		chromedp.SendKeys(chromedp.CSS("#scan-recipient"), "Mrs Quill"),
		chromedp.SendKeys(chromedp.CSS("#scan-notes"), "lockbox code 4471"))
	p.shot(shot + "-03-take-filled")
	p.do(chromedp.Click(chromedp.CSS("[data-testid=take]")))
	p.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "done"`, "the take")
	if got := p.text("[data-testid=outcome]"); got != "Taken: "+k.Label {
		t.Errorf("%s: take outcome %q", p.name, got)
	}
	p.MustSee("You", "Return", "the other member scans this label and takes it") // staff list no other members
	p.shot(shot + "-04-taken")
	p.mustFit()
	out, err := e.st.ListCustody(ctx, sc)
	MustNoErr(t, err)
	if c := custodyOfKeySet(out, k.ID); c == nil || c.MemberID != w.staff.memberID || c.KioskID != "" {
		t.Fatalf("%s: custody after the take: %+v", p.name, out)
	}
	if got := logSize(); got != before+1 {
		t.Fatalf("%s: HQ log of %v entries after the take, was %v", p.name, got, before)
	}

	// Again within the cool-down: the return is ignored.
	again(2)
	p.do(chromedp.WaitVisible(chromedp.CSS("[data-testid=return-form]")))
	p.do(chromedp.Click(chromedp.CSS("[data-testid=return]")))
	p.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "ignored"`, "the ignored return")
	if got := p.text("[data-testid=outcome]"); !strings.HasPrefix(got, "Ignored: "+k.Label+" changed hands") || !strings.Contains(got, "within 3s is ignored") {
		t.Errorf("%s: ignored outcome %q", p.name, got)
	}
	p.shot(shot + "-05-ignored")
	p.mustFit()
	if got := logSize(); got != before+1 {
		t.Fatalf("%s: HQ log of %v entries after the ignored return", p.name, got)
	}

	// Past the cool-down: returned.
	e.clock.Advance(5 * time.Second)
	p.do(chromedp.Click(chromedp.CSS("[data-testid=return]")))
	p.waitFor(`document.querySelector("[data-testid=outcome]").dataset.kind === "done"`, "the return")
	if got := p.text("[data-testid=outcome]"); got != "Returned: "+k.Label {
		t.Errorf("%s: return outcome %q", p.name, got)
	}
	p.MustSee("Nobody: it is at home")
	p.shot(shot + "-06-returned")
	out, err = e.st.ListCustody(ctx, sc)
	MustNoErr(t, err)
	if c := custodyOfKeySet(out, k.ID); c != nil {
		t.Fatalf("%s: still out after the return: %+v", p.name, c)
	}
	if got := logSize(); got != before+2 {
		t.Fatalf("%s: HQ log of %v entries after the return", p.name, got)
	}
	h := MustStatus(t, e.do(t, "GET", "/v1/events?key_set_id="+k.ID, w.owner.access, nil), 200)
	evs, _ := h.body["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("%s: history of %s: %s", p.name, k.Label, h.raw)
	}
	ret, _ := evs[0].(map[string]any)
	take, _ := evs[1].(map[string]any)
	if take["kind"] != "key.taken" || take["via"] != "phone" || take["reason"] != "viewing" || take["recipient"] != "Mrs Quill" ||
		take["notes"] != "lockbox code 4471" || take["actor_id"] != w.staff.memberID || ret["kind"] != "key.returned" || ret["via"] != "phone" {
		t.Fatalf("%s: history %s", p.name, h.raw)
	}
}

func custodyOfKeySet(out []store.Holding, id string) *store.Holding {
	for i := range out {
		if out[i].KeySetID == id {
			return &out[i]
		}
	}
	return nil
}

// signIn signs u in through the login form, on a 390x844 phone screen.
func (t *tab) signIn(u *user) {
	t.tb.Helper()
	t.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	t.open("/login")
	t.do(chromedp.SendKeys(chromedp.CSS(`input[name=email]`), u.email), chromedp.SendKeys(chromedp.CSS(`input[name=password]`), u.password))
	t.submit(`form[action="/login"] button[type=submit]`)
	t.MustSee("Acme")
}

// mustFit fails if the page scrolls sideways.
func (t *tab) mustFit() {
	t.tb.Helper()
	if n := t.scrollOverflow(); n > 0 {
		t.shot("failure")
		t.tb.Errorf("%s at %s: the page is %d px wider than the screen", t.name, t.location(), n)
	}
}

func (t *tab) eval(js string) string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.tb.Fatalf("%s: %s: %v", t.name, js, err)
	}
	return s
}

func (t *tab) evalAsync(js string) string {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.tb.Fatalf("%s: %s: %v", t.name, js, err)
	}
	return s
}

// waitFor polls js until it is true, for at most 20 s.
func (t *tab) waitFor(js, what string) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.shot("failure")
		body, _ := chromedp.Run(t.ctx, chromedp.Text(chromedp.CSS("body")))
		t.tb.Fatalf("%s: waiting for %s: %v\n%s", t.name, what, err, body)
	}
}

// mustInstallable checks that Chromium loads the page's web app manifest
// (the CSP's manifest-src lets it) and finds nothing that keeps the app
// from being installed.
func (t *tab) mustInstallable() {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 20*time.Second)
	defer cancel()
	m, err := chromedp.Call(ctx, cdppage.GetAppManifest, cdppage.GetAppManifestParams{})
	if err != nil {
		t.tb.Fatalf("%s: the app manifest: %v", t.name, err)
	}
	if len(m.Errors) > 0 || m.Manifest == nil || m.Manifest.StartURL != t.base+"/scan" || !strings.Contains(strings.ToLower(m.Manifest.Display), "standalone") || len(m.Manifest.Icons) != 2 {
		t.tb.Fatalf("%s: the app manifest at %s: errors %v, %+v", t.name, m.URL, m.Errors, m.Manifest)
	}
	ie, err := chromedp.Call(ctx, cdppage.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.tb.Fatalf("%s: installability: %v", t.name, err)
	}
	for _, e := range ie.InstallabilityErrors {
		t.tb.Errorf("%s: not installable: %s %v", t.name, e.ErrorID, e.ErrorArguments)
	}
}

// watchCSP has every page of the tab keep its CSP violations, from its
// first script on (cspViolations reads them).
func (t *tab) watchCSP() {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.effectiveDirective + " " + e.blockedURI));`})
	MustNoErr(t.tb, err)
}

func (t *tab) cspViolations() string {
	t.tb.Helper()
	return t.eval(`JSON.stringify(window.__csp || ["no CSP watch"])`)
}
