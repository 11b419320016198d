package hq_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestDashboardLanguages: the dashboard answers in the browser's language
// (Accept-Language) when the member names none, in the member's own once
// set on the settings page, and in English for a language keycab does
// not have; times follow the locale; a language keycab does not have is
// refused with a clear error.
func TestDashboardLanguages(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 30)

	de := func(path string, want ...string) page {
		t.Helper()
		p := w.do(t, "GET", path, nil, "Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
		return MustPage(t, p, 200, want...)
	}
	p := de("/", `<html lang="de">`, "Übersicht", "Verlauf", "Abmelden", "Heute, ")
	if strings.Contains(p.body, ">History<") || !strings.Contains(p.header.Get("Vary"), "Accept-Language") {
		t.Errorf("German overview: English nav left, or no Vary: %q", p.header.Get("Vary"))
	}
	de("/keys", "Jetzt ausgeliehen", "Schlüsselsatz", "Überfällig seit", "2. März 2026")
	de("/history", "Schlüssel entnommen", "Art", "Seite 1")
	de("/alarms", "Alarme", "Tür gewaltsam geöffnet", "Quittieren")
	de("/kiosks", "Kioske", "In Ordnung", "Protokoll")
	de("/people", "Personen", "Einladung senden", "Inhaber")
	de("/people/"+s.dana.ID, "Sprache", "Wie das Objekt (Kiosk) und der Browser (Dashboard)")
	de("/settings", "Einstellungen", "Ihr Konto", "Sprache speichern", "API-Schlüssel verwalten", "SCIM-Tokens verwalten", "Single Sign-on einrichten")
	de("/webhooks", "<title>Webhooks", "Endpunkt hinzufügen", "Noch keine Webhooks.")
	de("/api-keys", "<title>API-Schlüssel", "Berechtigungen", "Schlüssel erstellen", "Verlauf, ausgeliehene Schlüssel")
	de("/scim-tokens", "<title>SCIM-Bereitstellung", "Den Identitätsanbieter anbinden", "Noch keine SCIM-Tokens.")
	de("/settings/sso", "<title>Single Sign-on", "Gruppen zu Rollen", "Jedes Objekt", ">Objektleiter<")
	de("/policy", "Kiosk-Regeln: Acme Lettings", "aus den Standardwerten von keycab", "PIN für Rollen", "Rollen, die nach dem Ausweis nach einer PIN gefragt werden")
	MustPage(t, w.do(t, "GET", "/", nil, "Accept-Language", "fr-FR"), 200, `<html lang="en">`, "Overview")

	// The member's own language wins over the browser's.
	w.get(t, "/settings")
	MustPage(t, w.post(t, "/settings/language", url.Values{"language": {"en-US"}}), 303)
	MustPage(t, w.do(t, "GET", "/keys", nil, "Accept-Language", "de"), 200, `<html lang="en">`, "Keys out now", "Mar 2, 2026", " AM ")
	w.get(t, "/settings")
	MustPage(t, w.post(t, "/settings/language", url.Values{"language": {"xx"}}), 400, "is not one of en-GB, en-US, de")

	// A manager sets a member's language on the member page.
	w.get(t, "/people/"+s.dana.ID)
	MustPage(t, w.post(t, "/people/"+s.dana.ID+"/language", url.Values{"language": {"de"}}), 303)
	MustPage(t, w.get(t, "/people/"+s.dana.ID), 200, `<option value="de" selected>Deutsch</option>`)
}

// TestDashboardErrorsInLanguage: the dashboard's own refusals (a form
// field that is not a number, a date it cannot read, an expired form, a
// page that is not there) and the store's (a time zone it does not know,
// an import's bad line) are in the member's language, and the form keeps
// what was typed.
func TestDashboardErrorsInLanguage(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	w.get(t, "/settings")
	MustPage(t, w.post(t, "/settings/language", url.Values{"language": {"de"}}), 303)
	site := MustCreate(t, w, "/sites/new", url.Values{"name": {"Hafenhaus"}, "time_zone": {"Europe/Berlin"}}, "/sites/")

	w.get(t, "/cabinets/new?site="+site)
	var pages []page
	pages = append(pages, MustPage(t, w.post(t, "/cabinets/new", url.Values{"site": {site}, "name": {"Empfang"}, "kind": {"slotted"}, "slots": {"viele"}}),
		400, `<html lang="de">`, "Erwartet wird eine ganze Zahl von 0 bis", `value="viele"`),
		MustPage(t, w.get(t, "/history?from=gestern"), 400, "Von: erwartet wird ein Datum wie 2026-03-01"),
		MustPage(t, w.get(t, "/history?to=morgen"), 400, "Bis: erwartet wird ein Datum wie 2026-03-31"),
		MustPage(t, w.post(t, "/sites/new", url.Values{"name": {"Gefälscht"}, "time_zone": {"UTC"}, "csrf": {"forged"}}), 403,
			"Dieses Formular ist abgelaufen"),
		MustPage(t, w.get(t, "/sites/no-such-site"), 404, "Hier gibt es nichts"),
		// The store's refusals too, from its error catalogue.
		MustPage(t, w.post(t, "/sites/new", url.Values{"name": {"Mondbasis"}, "time_zone": {"Mars/Olympus"}}), 400,
			"unbekannte Zeitzone &#34;Mars/Olympus&#34;: Verwenden Sie einen IANA-Namen", `value="Mondbasis"`),
		MustPage(t, w.post(t, "/import", url.Values{"kind": {"people"}, "csv": {"name,role\nIvy Import,wizard\n"}}), 200,
			"<h2>Personen: 1 Zeile", "unbekannte Rolle &#34;wizard&#34;"))
	for _, p := range pages {
		for _, english := range []string{"whole number", "want a date", "form has expired", "nothing here", "Error ", "unknown", "time zone"} {
			if strings.Contains(p.body, english) {
				t.Errorf("German error page still says %q", english)
			}
		}
	}
}
