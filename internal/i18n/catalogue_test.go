package i18n

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// message is one catalogue entry: a text, or plural forms.
type message struct {
	text  string
	forms map[string]string
}

func (m *message) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &m.text); err == nil {
		return nil
	}
	return json.Unmarshal(b, &m.forms)
}

func readCatalogue(t *testing.T, lang string) map[string]message {
	t.Helper()
	b, err := files.ReadFile("messages/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

// Ids used in code: the first argument of a Localizer's T or N (l.T("id"),
// tr.N("id", n)), and in the dashboard's templates {{t "id"}} and
// {{tn "id" n}}. Ids built at run time (the event and alarm tables, the
// weekday and month names) are checked where they are built
// (TestDescribeCovers, TestFormats).
var (
	goCall   = regexp.MustCompile(`\.(?:T|N)\(\s*"([^"]+)"`)
	tmplCall = regexp.MustCompile(`[{(]\s*tn?\s+"([^"]+)"`)
)

// usedIDs scans the module's Go files (tests left out) and the dashboard
// templates for message ids, each with the first file it is in.
func usedIDs(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..")
	used := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		var re *regexp.Regexp
		switch {
		case strings.HasSuffix(path, "_test.go"):
			return nil
		case strings.HasSuffix(path, ".go"):
			re = goCall
		case strings.HasSuffix(path, ".html") && strings.Contains(filepath.ToSlash(path), "/templates/"):
			re = tmplCall
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			if _, ok := used[string(m[1])]; !ok {
				used[string(m[1])] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

var argRe = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func args(s string) string {
	var a []string
	for _, m := range argRe.FindAllStringSubmatch(s, -1) {
		a = append(a, m[1])
	}
	sort.Strings(a)
	return strings.Join(slicesCompact(a), ",")
}

func slicesCompact(a []string) []string {
	var out []string
	for i, s := range a {
		if i == 0 || s != a[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func argsOf(m message) string {
	if m.forms == nil {
		return args(m.text)
	}
	return args(m.forms["other"])
}

// TestCatalogueComplete fails on a message id used in code or a template
// that is not in the English catalogue, on an English id without a German
// translation (or with another plural shape or other arguments), and on
// a German id that English does not have.
func TestCatalogueComplete(t *testing.T) {
	en, de := readCatalogue(t, "en"), readCatalogue(t, "de")
	if len(en) == 0 {
		t.Fatal("the English catalogue is empty")
	}
	used := usedIDs(t)
	if len(used) < 200 {
		t.Fatalf("found only %d message ids in code and templates: is the scan broken?", len(used))
	}
	for id, file := range used {
		if _, ok := en[id]; !ok {
			t.Errorf("message id %q (used in %s) is not in en.json", id, file)
		}
	}
	for id, e := range en {
		g, ok := de[id]
		switch {
		case !ok:
			t.Errorf("message id %q has no German translation in de.json", id)
			continue
		case (e.forms == nil) != (g.forms == nil):
			t.Errorf("message id %q: en and de differ in plural forms", id)
			continue
		case e.forms == nil && strings.TrimSpace(g.text) == "":
			t.Errorf("message id %q: the German text is empty", id)
		case e.forms != nil && (g.forms["one"] == "" || g.forms["other"] == ""):
			t.Errorf("message id %q: German needs the plural forms one and other", id)
		}
		if argsOf(e) != argsOf(g) {
			t.Errorf("message id %q: en has arguments {%s}, de {%s}", id, argsOf(e), argsOf(g))
		}
	}
	for id := range de {
		if _, ok := en[id]; !ok {
			t.Errorf("de.json has %q, which en.json does not", id)
		}
	}
}

// TestFormats checks the locales' dates, times and plurals, and that
// every weekday and month name comes from the catalogue.
func TestFormats(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC)
	for _, c := range []struct {
		tag, clock, day, date string
	}{
		{EnglishGB, "15:04", "Mon 7 Dec", "7 Dec 2026"},
		{EnglishUS, "3:04 PM", "Mon, Dec 7", "Dec 7, 2026"},
		{German, "15:04", "Mo., 7. Dez.", "7. Dez. 2026"},
	} {
		l := For(c.tag)
		if got := l.Clock(at); got != c.clock {
			t.Errorf("%s clock %q, want %q", c.tag, got, c.clock)
		}
		if got := l.Day(at); got != c.day {
			t.Errorf("%s day %q, want %q", c.tag, got, c.day)
		}
		if got := l.Date(at); got != c.date {
			t.Errorf("%s date %q, want %q", c.tag, got, c.date)
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if w := l.Weekday(d); strings.HasPrefix(w, "time.") {
				t.Errorf("%s: weekday %v has no name", c.tag, d)
			}
		}
		for m := time.January; m <= time.December; m++ {
			if s := l.Month(m); strings.HasPrefix(s, "time.") {
				t.Errorf("%s: month %v has no name", c.tag, m)
			}
		}
	}
	de := For("de-AT")
	for _, c := range []struct{ got, want string }{
		{de.Duration(time.Minute), "1 Minute"},
		{de.Duration(90 * time.Second), "90 Sekunden"},
		{For("en-US").Duration(2 * time.Hour), "2 hours"},
		{de.Ago(at.Add(-72*time.Hour), at), "vor 3 Tagen"},
		{de.Ago(at.Add(-61*time.Minute), at), "vor 1 Stunde"},
		{English().Ago(at.Add(5*time.Minute), at), "in 5 minutes"},
		{de.Short(at.Add(24*time.Hour), at, time.UTC), "Di., 8. Dez. 15:04"},
		{For("en-US").Short(at, at, time.UTC), "3:04 PM"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]string{
		"de-DE,de;q=0.9,en;q=0.8": German,
		"fr-FR,en-US;q=0.5":       EnglishUS,
		"en":                      EnglishGB,
		"fr":                      "",
		"":                        "",
	} {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
	if For("", "fr", "de").Tag() != German || For().Tag() != Default {
		t.Error("For does not skip empty and unknown tags")
	}
}

// FromEnv reads the POSIX locale variables in their order of precedence.
func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "de_DE.UTF-8"}, German},
		{map[string]string{"LANG": "en_US.UTF-8"}, EnglishUS},
		{map[string]string{"LANG": "en_GB.UTF-8", "LC_MESSAGES": "de_AT.UTF-8@euro"}, German},
		{map[string]string{"LANG": "de_DE.UTF-8", "LC_ALL": "C.UTF-8"}, ""},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, ""},
		{map[string]string{}, ""},
	} {
		if got := FromEnv(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
}
