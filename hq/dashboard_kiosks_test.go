package hq_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/store"
)

// The kiosks page shows every field of a kiosk's newest heartbeat.
func TestDashboardKioskHeartbeat(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	MustNoErr(t, e.st.RecordHeartbeat(context.Background(), store.KioskScope(s.orgID, s.kioskA.ID), store.Heartbeat{
		Door: "open", Alarms: []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}, LogSize: 1234, CosignedSize: 1200,
		ConfigVersion: 77, Software: "keycab-kiosk 0123456789ab", DiskFree: 12_345_000_000, TemperatureMC: 48_312,
		ClockOffset: 3*time.Hour + 5*time.Minute}))
	MustNoErr(t, e.st.RecordHeartbeat(context.Background(), store.KioskScope(s.orgID, s.kioskB.ID), store.Heartbeat{
		ClockOffset: 40 * time.Second}))
	p := MustPage(t, w.get(t, "/kiosks"), 200, "Open", "Door held, Tamper", ">1200<", "v77", "keycab-kiosk 0123456789ab", "12.3 GB", "48.3 °C",
		"clock 3 h 5 min behind")
	if n := strings.Count(p.body, `data-testid="kiosk-clock"`); n != 1 {
		t.Fatalf("%d kiosks with a clock note, want the one more than a minute off", n)
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
