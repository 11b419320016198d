package ui_test

import (
	"testing"
	"time"

	"keycab.dev/keycab/kiosk"
)

// TestLanguages: an en-US site's kiosk shows a 12-hour clock; a member
// whose own language is German gets German screens for their session,
// and the site's English again afterwards.
func TestLanguages(t *testing.T) {
	cfg := testConfig(t)
	cfg.Site.Language = "en-US"
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-ben" {
			cfg.Members[i].Language = "de"
		}
	}
	r := newRig(t, cfg)
	r.await(kiosk.Idle)
	r.u.Sync()
	if !r.shows(" AM") && !r.shows(" PM") {
		t.Error("an en-US site's kiosk shows no 12-hour clock")
	}
	if !r.shows("Hold your badge or QR code to the reader") {
		t.Error("the idle screen is not in English")
	}
	r.clock.Advance(time.Second)
	r.cab.Badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.u.Sync()
	for _, want := range []string{"Hallo, Ben", "SCHLÜSSEL ENTNEHMEN"} {
		if !r.shows(want) {
			t.Errorf("Ben's menu lacks %q", want)
		}
	}
	if !r.has("Abbrechen") {
		t.Error("Ben's menu has no Abbrechen button")
	}
	r.c.Do(kiosk.Cancel{})
	r.awaitThat("out of the session", func(s kiosk.Screen) bool { return s.State == kiosk.Idle || s.State == kiosk.Message })
	r.finish()
	r.u.Sync()
	if !r.shows("Scan your badge") {
		t.Error("after Ben's session the idle screen is not the site's English")
	}
}
