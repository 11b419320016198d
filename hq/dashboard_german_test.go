package hq_test

import (
	"encoding/json"
	"html"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	tagRe    = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	argRe    = regexp.MustCompile(`\{\{[^}]*\}\}`)
	spacesRe = regexp.MustCompile(`\s+`)
	// attrRe finds the attributes people read: tooltips, placeholders,
	// what a screen reader says.
	attrRe = regexp.MustCompile(`\b(?:title|placeholder|aria-label|alt)="([^"]*)"`)
)

// englishOnly returns the phrases of messages/en.json (split at their
// arguments) of two words or more that no German message holds: words a
// German page has no business showing.
func englishOnly(t *testing.T) []string {
	t.Helper()
	read := func(lang string) []string {
		b, err := os.ReadFile("../messages/" + lang + ".json")
		MustNoErr(t, err)
		var m map[string]json.RawMessage
		MustNoErr(t, json.Unmarshal(b, &m))
		var out []string
		for _, raw := range m {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				var forms map[string]string
				MustNoErr(t, json.Unmarshal(raw, &forms))
				for _, f := range forms {
					out = append(out, f)
				}
				continue
			}
			out = append(out, s)
		}
		return out
	}
	german := strings.Join(read("de"), "\n")
	seen := map[string]bool{}
	var out []string
	for _, s := range read("en") {
		for _, part := range argRe.Split(s, -1) {
			part = strings.TrimSpace(strings.Trim(strings.TrimSpace(part), ".,:;()\"“”"))
			if strings.Count(part, " ") < 1 || len(part) < 8 || strings.Contains(german, part) || seen[part] {
				continue
			}
			seen[part] = true
			out = append(out, part)
		}
	}
	sort.Strings(out)
	return out
}

// TestDashboardGermanHasNoEnglish walks the dashboard's pages as a member
// who reads German, over a seeded organisation, and fails on any phrase
// of the English catalogue that the German one does not share, and on
// English words no German sentence uses: a text left out of the
// catalogue, or one said in English where the page is German.
func TestDashboardGermanHasNoEnglish(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 30)
	w.get(t, "/settings")
	MustPage(t, w.post(t, "/settings/language", map[string][]string{"language": {"de"}}), 303)

	phrases := englishOnly(t)
	if len(phrases) < 200 {
		t.Fatalf("%d English-only phrases: the catalogue reading is broken", len(phrases))
	}
	// Words of English sentences no German one has; the seeded data's
	// own English (names like "Front office", "Porter's lodge") has none.
	words := regexp.MustCompile(`\b(the|and|with|your|this|is not|are|has|been|were|should|cannot|must)\b`)
	paths := []string{"/", "/keys", "/overdue", "/history", "/history?range=7d", "/history/export", "/reports",
		"/alarms", "/kiosks", "/kiosks/" + s.kioskA.ID + "/actions", "/people", "/people/new", "/people/" + s.dana.ID,
		"/key-sets", "/key-sets/new", "/key-sets/" + s.ksFront.ID,
		"/sites", "/sites/new", "/sites/" + s.siteA.ID, "/sites/" + s.siteA.ID + "/edit", "/sites/" + s.siteA.ID + "/policy",
		"/cabinets", "/cabinets/new", "/cabinets/" + s.cabA.ID, "/cabinets/" + s.cabA.ID + "/edit", "/cabinets/" + s.cabA.ID + "/policy",
		"/audit", "/organisation", "/settings", "/settings/my-data", "/settings/sso", "/groups", "/labels", "/import",
		"/import?kind=key_sets", "/passes", "/api-keys", "/scim-tokens", "/webhooks", "/records", "/policy", "/search?q=front", "/scan"}
	for _, path := range paths {
		p := w.get(t, path)
		if p.status != 200 {
			t.Errorf("%s: status %d", path, p.status)
			continue
		}
		text := tagRe.ReplaceAllString(p.body, " ")
		for _, m := range attrRe.FindAllStringSubmatch(p.body, -1) {
			text += " | " + m[1]
		}
		text = spacesRe.ReplaceAllString(html.UnescapeString(text), " ")
		for _, ph := range phrases {
			if strings.Contains(text, ph) {
				t.Errorf("%s: English %q on a German page", path, ph)
			}
		}
		for _, m := range words.FindAllStringIndex(text, -1) {
			t.Errorf("%s: English word %q in %q", path, text[m[0]:m[1]], text[max(0, m[0]-40):min(len(text), m[1]+40)])
		}
	}
}
