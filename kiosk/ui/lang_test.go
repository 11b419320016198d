package ui_test

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

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
	if !r.shows("SCHLOSSAUSGÄNGE") {
		t.Error("the simulator panel does not follow Ben's German")
	}
	r.c.Do(kiosk.Cancel{})
	r.awaitThat("out of the session", func(s kiosk.Screen) bool { return s.State == kiosk.Idle || s.State == kiosk.Message })
	r.finish()
	r.u.Sync()
	if !r.shows("Scan your badge") || !r.shows("LOCK OUTPUTS") {
		t.Error("after Ben's session the idle screen (or the simulator panel) is not the site's English")
	}
}

// TestSimulatorPanelLanguage: the simulator panel beside a German site's
// kiosk speaks German (its headings, buttons, check boxes, fields, slot
// and lock states and what a touch did), as the screen does.
func TestSimulatorPanelLanguage(t *testing.T) {
	cfg := testConfig(t)
	cfg.Site.Language = "de"
	r := newRig(t, cfg)
	r.await(kiosk.Idle)
	r.u.Sync()
	for _, want := range []string{"SIMULATOR", "Die Hardware des Schranks, simuliert", "AUSWEISLESER", "KAMERA", "TÜR UND EINGÄNGE",
		"FÄCHER", "SCHLOSSAUSGÄNGE", "Fach 1", "Schlüssel drin", "verriegelt", "Bereit."} {
		if !r.shows(want) {
			t.Errorf("the German simulator panel lacks %q", want)
		}
	}
	for _, english := range []string{"BADGE READER", "Slot 1", "key in", "locked", "Ready."} {
		if r.shows(english) {
			t.Errorf("the German simulator panel shows %q", english)
		}
	}
	r.check("Tür offen")
	r.check("Gewalt (aus verriegeltem Fach reißen)")
	r.button("Nehmen", 0)
	r.button("Legen", 0)
	r.button("Zeigen", 0)
	r.entry("QR-Text")
	r.clock.Advance(time.Second)
	e := r.entry("Ausweiscode")
	test.Type(e, "BADGE-BEN")
	test.Tap(r.button("Vorhalten", 0))
	r.await(kiosk.Menu)
	r.u.Sync()
	if !r.shows("Ausweis BADGE-BEN vorgehalten.") {
		t.Error("the panel does not say in German what the touch did")
	}
}
