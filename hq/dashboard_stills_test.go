package hq_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/kiosk"
	kstore "keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

// stillJPEG is a still as a kiosk's camera keeps it (kiosk.EncodeStill):
// a 640 x 480 grey frame with a bright panel, a key cabinet's door.
func stillJPEG(tb testing.TB) []byte {
	tb.Helper()
	f := camera.Frame{Width: 640, Height: 480, Stride: 640, Y: make([]byte, 640*480)}
	for y := range 480 {
		for x := range 640 {
			v := byte(40 + y/4)
			if x > 200 && x < 440 && y > 80 && y < 400 {
				v = byte(200 - (x-200)/4)
			}
			f.Y[y*640+x] = v
		}
	}
	b, err := kiosk.EncodeStill(f)
	MustNoErr(tb, err)
	return b
}

// seedStill has an enrolled kiosk of a new cabinet record a take with a
// camera still by a staff member, and push it to HQ through the kiosk
// API at kioskURL (e's own when empty); it returns the JPEG.
func seedStill(tb testing.TB, e *env, sc store.Scope, kioskURL string) []byte {
	tb.Helper()
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "12 High Street", TimeZone: "Europe/London"}})
	MustNoErr(tb, err)
	cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front office", Kind: keycab.Slotted})
	MustNoErr(tb, err)
	ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Front door"})
	MustNoErr(tb, err)
	dana, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Dana Whitlock", Email: "dana@example.test", Role: keycab.RoleStaff})
	MustNoErr(tb, err)
	tok, _, err := e.st.CreateEnrolToken(ctx, sc, cab.ID, 0)
	MustNoErr(tb, err)
	if kioskURL == "" {
		kioskURL = e.srv.URL
	}
	dir := tb.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	db, err := kstore.Open(ctx, path, kstore.Options{Create: true})
	MustNoErr(tb, err)
	_, key, err := agent.Enrol(ctx, db, agent.EnrolOptions{HQ: kioskURL, Token: tok, KeyFile: filepath.Join(dir, "kiosk.key"), Name: "Front office kiosk"})
	MustNoErr(tb, err)
	MustNoErr(tb, db.Close())
	db, err = kstore.Open(ctx, path, kstore.Options{Signer: key.Signer})
	MustNoErr(tb, err)
	tb.Cleanup(func() { db.Close() })
	k := &kioskDB{db: db, key: key}
	a, err := agent.New(ctx, agent.Config{DB: k.db, Key: k.key, BatchSize: 100, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	MustNoErr(tb, err)
	jpeg := stillJPEG(tb)
	MustNoErr(tb, k.db.Take(ctx, &keycab.Checkout{KeySetID: ks.ID, MemberID: dana.ID, Slot: 1, TakenAt: time.Now(), Reason: "viewing", Still: jpeg}))
	if _, err := a.Push(ctx); err != nil {
		tb.Fatal(err)
	}
	return jpeg
}

var stillSrc = regexp.MustCompile(`<img src="(/history/stills/[^"]+)"`)

// TestHistoryStills: the history page shows a take's camera still to an
// owner and serves its JPEG (private, never cached); an auditor, who may
// not see personal text, sees the take without it and gets 404 for the
// image, as does a signed-out request.
func TestHistoryStills(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newEnv(t, eng, withKioskAPI(t, nil))
			w := e.web()
			w.MustSignupWeb(t, "Acme", "Ann Owner", "ann@acme.test")
			p, err := e.auth.Authenticate(context.Background(), w.cookies["__Host-keycab_session"])
			MustNoErr(t, err)
			jpeg := seedStill(t, e, p.Scope(), "")

			body := MustPage(t, w.get(t, "/history"), 200, `data-testid="still"`, "Front door").body
			m := stillSrc.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("the owner's history has no still image:\n%s", body)
			}
			img := w.get(t, m[1])
			if img.status != 200 || img.header.Get("Content-Type") != "image/jpeg" || !bytes.Equal([]byte(img.body), jpeg) {
				t.Fatalf("the owner's still: %d %q, %d bytes", img.status, img.header.Get("Content-Type"), len(img.body))
			}
			if cc := img.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(cc, "private") {
				t.Errorf("the still's Cache-Control is %q", cc)
			}

			owner := &user{email: "ann@acme.test", password: goodPassword}
			e.MustLogin(t, owner)
			aud := e.MustJoin(t, owner, "audra@acme.test", "auditor")
			aw := e.web()
			aw.get(t, "/login")
			MustPage(t, aw.post(t, "/login", url.Values{"email": {aud.email}, "password": {aud.password}}), 303)
			ab := MustPage(t, aw.get(t, "/history"), 200, "Front door").body
			if strings.Contains(ab, `data-testid="still"`) || strings.Contains(ab, "/history/stills/") {
				t.Fatal("an auditor's history shows the still")
			}
			if r := aw.get(t, m[1]); r.status != 404 || bytes.Contains([]byte(r.body), jpeg[:64]) {
				t.Fatalf("an auditor reads the still: %d", r.status)
			}
			// The API likewise: the owner's events say there is a still and
			// the owner reads it; the auditor's say nothing, and 404.
			kioskIdx := strings.Split(strings.TrimPrefix(m[1], "/history/stills/"), "/")
			api := "/v1/kiosks/" + kioskIdx[0] + "/stills/" + kioskIdx[1]
			if r := MustStatus(t, e.do(t, "GET", api, owner.access, nil), 200); r.raw != string(jpeg) || r.header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("the owner's still through the API: %q, %d bytes", r.header.Get("Content-Type"), len(r.raw))
			}
			if r := MustStatus(t, e.do(t, "GET", "/v1/events?kind=key.taken", owner.access, nil), 200); !strings.Contains(r.raw, `"still": true`) {
				t.Fatalf("the owner's events say no still: %s", r.raw)
			}
			if r := MustStatus(t, e.do(t, "GET", "/v1/events?kind=key.taken", aud.access, nil), 200); strings.Contains(r.raw, `"still"`) {
				t.Fatalf("the auditor's events mention the still: %s", r.raw)
			}
			MustStatus(t, e.do(t, "GET", api, aud.access, nil), 404)
			res, err := http.Get(e.srv.URL + m[1])
			MustNoErr(t, err)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if bytes.Contains(b, jpeg[:64]) || res.Header.Get("Content-Type") == "image/jpeg" {
				t.Fatalf("a signed-out request reads the still: %d", res.StatusCode)
			}
		})
	}
}

// TestBrowserHistoryStill: the history row with its still at 1366 and
// 390 px, the image loaded under the dashboard's CSP, nothing wider than
// the screen.
func TestBrowserHistoryStill(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	// The kiosk API on a server of its own over the same store (the
	// dashboard's test HQ has none).
	h, err := kioskapi.New(kioskAPIConfig(t, &hq.Server{Store: e.st, Logger: newLogger(e.logs)}))
	MustNoErr(t, err)
	kiosks := httptest.NewServer(h)
	t.Cleanup(kiosks.Close)
	seedStill(t, e, sc, kiosks.URL)
	for _, width := range []int64{1366, 390} {
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/history")
		owner.MustSee("Front door", "Dana Whitlock")
		ctx, cancel := context.WithTimeout(owner.ctx, 20*time.Second)
		natural, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const i = document.querySelector('[data-testid=still] img'); return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0 })()`,
			chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err != nil {
			owner.shot("failure")
			t.Fatalf("%d px: the still did not load: %v", width, err)
		}
		if natural != 640 {
			t.Errorf("%d px: the still loaded %d px wide, want 640", width, natural)
		}
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%d px: the history page is %d px wider than the screen", width, overflow)
		}
		owner.shot(fmt.Sprintf("history-still-%d", width))
	}
}
