package kiosk_test

import (
	"strings"
	"testing"

	"keycab.dev/keycab/kiosk"
)

// TestLanguages: a German site's kiosk speaks German, a member's own
// language (en-US here) overrides the site's for their session, the
// policy's refusals are in the session's language, and the idle screen
// after the session is the site's again.
func TestLanguages(t *testing.T) {
	cfg := testConfig(t)
	cfg.Site.Language = "de"
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-ana" {
			cfg.Members[i].Language = "en-US"
		}
	}
	r := newRig(t, cfg)
	idle := r.toIdle()
	if idle.Lang != "de" || idle.Title != "Ausweis scannen" {
		t.Fatalf("idle screen of a German site: %q in %q", idle.Title, idle.Lang)
	}
	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if m.Lang != "de" || m.Title != "Hallo, Ben" {
		t.Fatalf("Ben's menu: %q in %q", m.Title, m.Lang)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	r.do(kiosk.GiveReason{Reason: "viewing"})
	s := r.await(kiosk.Unlocking)
	if !strings.Contains(s.Message, "Fach 1 ist offen") {
		t.Fatalf("unlocking screen in German: %q", s.Message)
	}
	if err := r.takeKey(1, false); err != nil {
		t.Fatal(err)
	}
	if d := r.await(kiosk.Done); !strings.HasPrefix(d.Title, "Entnommen: ") || d.Lang != "de" {
		t.Fatalf("done screen: %q in %q", d.Title, d.Lang)
	}
	r.toIdle()

	r.badge("BADGE-ANA") // her own language: en-US
	if p := r.await(kiosk.EnterPIN); p.Title != "Enter your PIN" {
		t.Fatalf("Ana's PIN step: %q", p.Title)
	}
	r.do(kiosk.PIN{Digits: "2468"})
	m = r.await(kiosk.Menu)
	if m.Lang != "en-US" || m.Title != "Hello, Ana" {
		t.Fatalf("Ana's menu: %q in %q", m.Title, m.Lang)
	}
	var reason string
	for _, u := range m.Unavailable {
		if u.KeySet.ID == "ks-1" {
			reason = u.Note
		}
	}
	if !strings.Contains(reason, "is out with B. Staff since") || !strings.Contains(reason, "M") { // 12-hour clock: AM or PM
		t.Fatalf("ks-1 unavailable to Ana with %q, want the English refusal with a 12-hour time", reason)
	}
	r.do(kiosk.Cancel{})
	if idle := r.toIdle(); idle.Lang != "de" {
		t.Fatalf("idle after Ana's session in %q, want the site's de", idle.Lang)
	}
}

// TestAdminRefusalInLanguage: a refusal from the kiosk's store (a label
// that is another key set's) is said on the admin screen in the admin's
// language, from the error catalogue.
func TestAdminRefusalInLanguage(t *testing.T) {
	cfg := testConfig(t)
	for i := range cfg.Members {
		if cfg.Members[i].ID == "m-ana" {
			cfg.Members[i].Language = "de"
		}
	}
	r := newRig(t, cfg)
	r.openAdmin()
	r.do(kiosk.EnrolFob{Slot: 1})
	r.showQR("qr-token-2") // already ks-2's label: refused
	if s := r.c.Screen(); s.Lang != "de" || s.Message != "dieses Etikett gehört bereits zu Schlüsselsatz ks-2" {
		t.Fatalf("the refusal in German: %q in %q", s.Message, s.Lang)
	}
}
