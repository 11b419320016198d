// Package i18n is keycab's message catalogue, shared by the kiosk's
// screens, its console and HQ's dashboard: every staff-facing text is a
// message id looked up in a Localizer for one language, with plural forms
// (CLDR rules) and the locale's date and time formats.
//
// The messages are JSON files, one per language (messages/en.json,
// messages/de.json at the module's root, embedded as keycab.Messages), in go-i18n's format: "id": "text", or for a plural
// "id": {"one": "...", "other": "..."}; arguments are named
// ({{.Label}}, {{.Count}}). TestCatalogueComplete fails when an id used in
// code or in a template is missing from en.json, when an English id has no
// German translation, or when a German id has no English one.
//
// A locale is a catalogue language plus its formats: en-GB (24-hour, "Mon
// 7 Dec"), en-US (12-hour, "Mon, Dec 7") and de (24-hour, "Mo., 7. Dez.").
// An empty or unknown locale is en-GB, keycab's default.
package i18n

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"keycab.dev/keycab"
)

// files is the catalogue, keycab.Messages (messages/ at the module's root).
var files = keycab.Messages

// Locales keycab supports, as stored for a site or a member.
const (
	EnglishGB = "en-GB"
	EnglishUS = "en-US"
	German    = "de"
	// Default is the locale of a site or member that names none.
	Default = EnglishGB
)

// Locale is one supported locale with its name in its own language, for
// a language picker.
type Locale struct {
	Tag  string // en-GB, en-US, de
	Name string // "English (UK)", "Deutsch"
}

// Locales lists the supported locales in the order a picker offers them.
func Locales() []Locale {
	return []Locale{{EnglishGB, "English (UK)"}, {EnglishUS, "English (US)"}, {German, "Deutsch"}}
}

// Valid reports whether tag is a supported locale or empty (a member's
// "as the site" or "as the browser").
func Valid(tag string) bool {
	switch tag {
	case "", EnglishGB, EnglishUS, German:
		return true
	}
	return false
}

// locale is what a Localizer formats dates and times by.
type locale struct {
	tag     string
	lang    string // the catalogue language: en, de
	clock24 bool
	// day lays out a weekday, day of month and month abbreviation.
	day func(wd, d, mon string) string
	// date lays out a day of month, month abbreviation and year.
	date func(d, mon, y string) string
}

var locales = map[string]locale{
	EnglishGB: {tag: EnglishGB, lang: "en", clock24: true,
		day:  func(wd, d, mon string) string { return wd + " " + d + " " + mon },
		date: func(d, mon, y string) string { return d + " " + mon + " " + y }},
	EnglishUS: {tag: EnglishUS, lang: "en", clock24: false,
		day:  func(wd, d, mon string) string { return wd + ", " + mon + " " + d },
		date: func(d, mon, y string) string { return mon + " " + d + ", " + y }},
	German: {tag: German, lang: "de", clock24: true,
		day:  func(wd, d, mon string) string { return wd + ", " + d + ". " + mon },
		date: func(d, mon, y string) string { return d + ". " + mon + " " + y }},
}

var (
	loadOnce sync.Once
	bundle   *goi18n.Bundle
	cache    sync.Map // tag -> *Localizer
)

func load() {
	bundle = goi18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, name := range []string{"messages/en.json", "messages/de.json"} {
		if _, err := bundle.LoadMessageFileFS(files, name); err != nil {
			panic("i18n: " + name + ": " + err.Error()) // embedded: a test catches it first
		}
	}
}

// Normalise maps a language tag as people and browsers write it to a
// supported locale: "de-AT" and "de" to de, "en-US" to en-US, "en",
// "en-GB", "en-IE" and anything unknown to en-GB; ok is false for a tag
// of no supported language.
func Normalise(tag string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	t = strings.ReplaceAll(t, "_", "-")
	switch {
	case t == "de" || strings.HasPrefix(t, "de-"):
		return German, true
	case t == "en-us":
		return EnglishUS, true
	case t == "en" || strings.HasPrefix(t, "en-"):
		return EnglishGB, true
	}
	return Default, false
}

// FromEnv returns the supported locale the POSIX locale environment
// names (LC_ALL, then LC_MESSAGES, then LANG: "de_DE.UTF-8" is de), or ""
// when it names none: what a kiosk not enrolled yet, which has no site
// language, speaks.
func FromEnv(getenv func(string) string) string {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		v, _, _ = strings.Cut(v, ".") // the codeset
		v, _, _ = strings.Cut(v, "@") // the modifier
		if l, ok := Normalise(v); ok {
			return l
		}
		return "" // the first one set decides, as for the C library
	}
	return ""
}

// Match picks the supported locale an Accept-Language header prefers, or
// "" when it names none of them.
func Match(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		return ""
	}
	for _, t := range tags { // sorted by weight
		if l, ok := Normalise(t.String()); ok {
			return l
		}
	}
	return ""
}

// Localizer says messages and times in one locale. It is safe for
// concurrent use.
type Localizer struct {
	loc locale
	l   *goi18n.Localizer
}

// For returns the Localizer of the first of tags that is a supported
// locale (a member's, then the site's, say); en-GB when none is.
func For(tags ...string) *Localizer {
	tag := Default
	for _, t := range tags {
		if t == "" {
			continue
		}
		if l, ok := Normalise(t); ok {
			tag = l
			break
		}
	}
	if l, ok := cache.Load(tag); ok {
		return l.(*Localizer)
	}
	loadOnce.Do(load)
	loc := locales[tag]
	l := &Localizer{loc: loc, l: goi18n.NewLocalizer(bundle, loc.lang)}
	cache.Store(tag, l)
	return l
}

// English is the default Localizer (en-GB).
func English() *Localizer { return For(Default) }

// Tag is the Localizer's locale: en-GB, en-US or de.
func (l *Localizer) Tag() string { return l.loc.tag }

// Lang is its catalogue language, as for an HTML lang attribute: en, de.
func (l *Localizer) Lang() string { return l.loc.lang }

// Clock24 reports whether the locale writes times on a 24-hour clock.
func (l *Localizer) Clock24() bool { return l.loc.clock24 }

// data turns name/value pairs into a template's data.
func data(kv []any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2+1)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// T says message id with its arguments as name/value pairs:
// T("kiosk.take_title", "Label", "Van 3"). A missing id reads as the id
// itself (the catalogue test keeps that from happening).
func (l *Localizer) T(id string, kv ...any) string {
	s, err := l.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data(kv)})
	if err != nil && s == "" {
		return id
	}
	return s
}

// N says the plural message id for count n, in the form the language's
// plural rule picks; the count is the argument Count.
func (l *Localizer) N(id string, n int, kv ...any) string {
	d := data(kv)
	if d == nil {
		d = map[string]any{}
	}
	d["Count"] = n
	s, err := l.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: d, PluralCount: n})
	if err != nil && s == "" {
		return id
	}
	return s
}

var weekdayIDs = [7]string{"time.sun", "time.mon", "time.tue", "time.wed", "time.thu", "time.fri", "time.sat"}

var monthIDs = [12]string{"time.jan", "time.feb", "time.mar", "time.apr", "time.may", "time.jun",
	"time.jul", "time.aug", "time.sep", "time.oct", "time.nov", "time.dec"}

// Weekday is the abbreviated weekday: "Mon", "Mo.".
func (l *Localizer) Weekday(d time.Weekday) string { return l.T(weekdayIDs[d]) }

// Month is the abbreviated month: "Dec", "Dez.".
func (l *Localizer) Month(m time.Month) string { return l.T(monthIDs[m-1]) }

// Clock says t's time of day: "15:04" on a 24-hour clock, "3:04 PM" on
// a 12-hour one.
func (l *Localizer) Clock(t time.Time) string {
	if l.loc.clock24 {
		return t.Format("15:04")
	}
	return t.Format("3:04 PM")
}

// Day says t's weekday and date without the year: "Mon 7 Dec", "Mon, Dec
// 7", "Mo., 7. Dez.".
func (l *Localizer) Day(t time.Time) string {
	return l.loc.day(l.Weekday(t.Weekday()), fmt.Sprint(t.Day()), l.Month(t.Month()))
}

// Date says t's date with the year: "7 Dec 2026", "Dec 7, 2026", "7.
// Dez. 2026".
func (l *Localizer) Date(t time.Time) string {
	return l.loc.date(fmt.Sprint(t.Day()), l.Month(t.Month()), fmt.Sprint(t.Year()))
}

// DateTime says t's date, year and time: "7 Dec 2026 15:04".
func (l *Localizer) DateTime(t time.Time) string { return l.Date(t) + " " + l.Clock(t) }

// Short says t in loc as a person reads it at now: the time alone when
// it is on the same day, else with the day and date too ("Thu 4 Dec
// 09:00", "Do., 4. Dez. 09:00"), so a due time tomorrow never reads as
// today's.
func (l *Localizer) Short(t, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	y1, m1, d1 := t.Date()
	if y2, m2, d2 := now.In(loc).Date(); y1 == y2 && m1 == m2 && d1 == d2 {
		return l.Clock(t)
	}
	return l.Day(t) + " " + l.Clock(t)
}

// Duration says d in words, to the largest whole unit that fits: "1
// minute", "90 seconds", "2 Stunden".
func (l *Localizer) Duration(d time.Duration) string { return keycab.DurationIn(l, d) }

// Ago says how long before now t was, to the largest unit: "just now",
// "5 minutes ago", "vor 2 Tagen"; a time after now reads "in 5 minutes".
func (l *Localizer) Ago(t, now time.Time) string {
	d := now.Sub(t)
	dir := "time.ago_"
	if d < 0 {
		d, dir = -d, "time.in_"
	}
	switch {
	case d < time.Minute:
		return l.T("time.just_now")
	case d < time.Hour:
		return l.N(dir+"minutes", int(d/time.Minute))
	case d < 48*time.Hour:
		return l.N(dir+"hours", int(d/time.Hour))
	}
	return l.N(dir+"days", int(d/(24*time.Hour)))
}

var (
	idsOnce sync.Once
	ids     map[string]bool
)

// Has reports whether the catalogue has message id (TestCatalogueComplete
// keeps the same ids in every language).
func Has(id string) bool {
	idsOnce.Do(func() {
		var m map[string]json.RawMessage
		b, _ := files.ReadFile("messages/en.json")
		_ = json.Unmarshal(b, &m)
		ids = make(map[string]bool, len(m))
		for k := range m {
			ids[k] = true
		}
	})
	return ids[id]
}

var _ keycab.Texts = (*Localizer)(nil)
