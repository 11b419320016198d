package hq_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// The kiosks page shows every field of a kiosk's newest heartbeat.
func TestDashboardKioskHeartbeat(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(context.Background(), store.KioskScope(s.orgID, s.kioskA.ID), store.Heartbeat{
		Door: "open", Alarms: []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}, LogSize: 1234, CosignedSize: 1200,
		ConfigVersion: 77, Software: "keycab-kiosk 0123456789ab", DiskFree: 12_345_000_000, TemperatureMC: 48_312,
		ClockOffset: 3*time.Hour + 5*time.Minute}))
	// A third kiosk, enrolled, was issued a config it has not applied,
	// 11 minutes ago; the seeded kiosks hold no log, so none was issued
	// to them.
	ctx := context.Background()
	tok, _, err := e.st.CreateEnrolToken(ctx, store.MemberScope(s.orgID, s.ownerID), s.cabA.ID, 0)
	MustNoErr(t, err)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _, err := e.st.Enrol(ctx, tok, pub, "Back office kiosk", func(id string) (string, string, error) {
		origin := "hq.test/kiosk/" + id
		vkey, err := note.NewEd25519VerifierKey(origin, pub)
		return origin, vkey, err
	})
	MustNoErr(t, err)
	kc := store.KioskScope(s.orgID, k.ID)
	issued, err := e.st.KioskLogs().IssueConfigVersion(ctx, kc, []byte("config"))
	MustNoErr(t, err)
	MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, store.KioskScope(s.orgID, s.kioskB.ID), store.Heartbeat{ClockOffset: 40 * time.Second}))
	MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, kc, store.Heartbeat{ConfigVersion: issued - 1}))
	e.clock.Advance(11 * time.Minute)
	// Kiosk B heard from again, everything cosigned: the one healthy.
	hs, err := e.st.KioskLogs().ListKioskHealth(ctx, store.MemberScope(s.orgID, s.ownerID), time.Hour)
	MustNoErr(t, err)
	for _, h := range hs {
		if h.ID == s.kioskB.ID {
			MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, store.KioskScope(s.orgID, s.kioskB.ID), store.Heartbeat{Door: "closed", LogSize: h.LogSize, CosignedSize: h.LogSize}))
		}
	}
	p := MustPage(t, w.get(t, "/kiosks"), 200, "Door open", "Door held open too long, Cabinet tampered with", ">1200<", "keycab-kiosk 0123456789ab", "12.3 GB", "48.3 °C",
		"clock 3 h 5 min behind", "config 11 min behind", "1 of 3 healthy", "2 open alarms", "offline since", "Door closed")
	if n := strings.Count(p.body, `data-testid="healthy"`); n != 1 {
		t.Fatalf("%d kiosks healthy, want kiosk B alone", n)
	}
	if n := strings.Count(p.body, `data-testid="unhealthy"`); n != 2 {
		t.Fatalf("%d kiosks need attention, want 2", n)
	}
	if n := strings.Count(p.body, `data-testid="kiosk-clock"`); n != 1 {
		t.Fatalf("%d kiosks with a clock note, want the one more than a minute off", n)
	}
	if n := strings.Count(p.body, `data-testid="config-behind"`); n != 1 {
		t.Fatalf("%d kiosks flagged behind on config, want the one", n)
	}
}

// The history shows an event of a kiosk whose clock was hours behind
// honestly: what the kiosk said, and the interval HQ's own clock allows.
func TestDashboardHistoryClockOff(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	now := e.clock.Now()
	sc := store.KioskScope(s.orgID, s.kioskB.ID)
	anchor := &audit.Event{Kind: keycab.EventClockAnchored, Detail: map[string]string{
		keycab.AnchorHQTime: strconv.FormatInt(now.Unix(), 10), keycab.AnchorSize: "3"}}
	MustNoErr(t, e.st.RecordEvents(context.Background(), sc, []store.Event{
		{LogIndex: 3, Kind: keycab.EventClockAnchored, At: now, Entry: anchor},
		{LogIndex: 4, Kind: keycab.EventDoorClosed, At: now.Add(-3 * time.Hour)},
	}))
	site, err := time.LoadLocation("Europe/London") // the lodge's site's zone
	MustNoErr(t, err)
	at := func(t time.Time) string { return t.In(site).Format("2 Jan 2006 15:04 MST") + " (Europe/London)" }
	p := MustPage(t, w.get(t, "/history"), 200, "kiosk said "+at(now.Add(-3*time.Hour)),
		"between "+at(now)+" and "+at(now)+" by HQ's clock")
	if n := strings.Count(p.body, `data-testid="clock-off"`); n != 1 {
		t.Fatalf("%d events flagged, want the one", n)
	}
}

// The kiosks page fits 1366 px with Revoke on screen, and at 390 px each
// kiosk is a card, not a table to scroll sideways.
func TestBrowserKiosks(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, _ := ownerTab(t, browser, e)
	w := e.web()
	w.cookies["__Host-keycab_session"] = owner.session()
	s := MustSeed(t, e, w, time.Now(), 4)
	MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(context.Background(), store.KioskScope(s.orgID, s.kioskA.ID), store.Heartbeat{
		Door: "open", Alarms: []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}, LogSize: 1234, CosignedSize: 1200,
		Software: "keycab-kiosk 0123456789ab", DiskFree: 12_345_000_000, TemperatureMC: 48_312, ClockOffset: 3 * time.Hour}))
	for _, width := range []int64{1366, 390} {
		name := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/kiosks")
		owner.MustSee("Front office kiosk", "Needs attention", "2 open alarms")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the kiosks page is %d px wider than the screen", name, overflow)
		}
		past, err := chromedp.Run(owner.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('[data-testid=revoke-kiosk] button')].filter(b => b.getBoundingClientRect().right > document.documentElement.clientWidth).length`))
		MustNoErr(t, err)
		if past > 0 {
			t.Errorf("%s: %d Revoke buttons end past the screen", name, past)
		}
		owner.shot("54-kiosks-" + name)
	}
}

// oneKiosk is a dashboard with a signed-up owner (w, p) of an
// organisation with one site, cabinet, kiosk k and key set ks (label).
func oneKiosk(t *testing.T, label string) (*env, *web, auth.Principal, store.Kiosk, keycab.KeySet) {
	t.Helper()
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	ctx := context.Background()
	p, err := e.auth.Authenticate(ctx, w.cookies["__Host-keycab_session"])
	MustNoErr(t, err)
	sc := p.Scope()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour"}})
	MustNoErr(t, err)
	cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front", Kind: keycab.Slotted})
	MustNoErr(t, err)
	k, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: cab.ID, Name: "Front kiosk"})
	MustNoErr(t, err)
	ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: label})
	MustNoErr(t, err)
	return e, w, p, k, ks
}

// The overview counts today's takes and returns by hour (UTC) and links
// each tile to its page; yesterday's do not count.
func TestDashboardOverview(t *testing.T) {
	e, w, p, k, ks := oneKiosk(t, "Flat 1")
	ctx := context.Background()
	now := e.clock.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if now.Sub(midnight) < 3*time.Hour {
		t.Fatalf("the test clock starts at %v: too early in the day for this test", now)
	}
	at := []time.Time{midnight.Add(-time.Hour), midnight.Add(90 * time.Minute), midnight.Add(105 * time.Minute), midnight.Add(2*time.Hour + 10*time.Minute)}
	kinds := []keycab.EventKind{keycab.EventKeyTaken, keycab.EventKeyReturned, keycab.EventKeyTaken, keycab.EventKeyReturned}
	var evs []store.Event
	for i := range at {
		evs = append(evs, store.Event{LogIndex: int64(i), Kind: kinds[i], ActorID: p.MemberID, KeySetID: ks.ID, At: at[i]})
	}
	MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(p.OrgID, k.ID), evs))
	MustPage(t, w.get(t, "/"), 200, "1 taken", "2 returned", "01:00–02:00: 1 taken, 1 returned", "02:00–03:00: 0 taken, 1 returned",
		`href="/keys"`, `href="/overdue"`, `href="/alarms?open=1"`, `href="/kiosks"`, "of 1 kiosk needs attention")
}

// The alarms page says which key, which slot and for how long: from the
// entry that raised each alarm.
func TestDashboardAlarmContext(t *testing.T) {
	e, w, p, k, ks := oneKiosk(t, "Flat 7 spare")
	ctx := context.Background()
	sc := p.Scope()
	now := e.clock.Now()
	MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(p.OrgID, k.ID), []store.Event{
		{LogIndex: 0, Kind: keycab.EventAlarmRaised, At: now.Add(-95 * time.Minute), Detail: keycab.AlarmKeyRemoved, KeySetID: ks.ID,
			EventRecord: store.EventRecord{Slot: 4, Context: "taken from slot 4 with no one signed in"}},
		{LogIndex: 1, Kind: keycab.EventAlarmRaised, At: now.Add(-time.Minute), Detail: keycab.AlarmDoorHeld,
			EventRecord: store.EventRecord{Context: "door open longer than 1m0s"}},
	}))
	page := MustPage(t, w.get(t, "/alarms"), 200, keycab.AlarmTitle(keycab.AlarmKeyRemoved), "Flat 7 spare", "slot 4", "taken from slot 4 with no one signed in",
		"open 1 h 35 min", "door open longer than 1m0s", "open 1 min")
	if n := strings.Count(page.body, `data-testid="alarm-key"`); n != 1 {
		t.Fatalf("%d alarms name a key, want the removal alone", n)
	}
	as, err := e.st.ListAlarms(ctx, sc, true)
	MustNoErr(t, err)
	if len(as) != 2 || as[1].KeySetID != ks.ID || as[1].Slot != 4 || as[0].Context != "door open longer than 1m0s" {
		t.Fatalf("alarms %+v", as)
	}
}
