package keycab

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Messages is keycab's message catalogue: one JSON file a language
// (messages/en.json, messages/de.json) mapping a message id to its text,
// or to its plural forms ({"one": ..., "other": ...}), with named
// arguments as {{.Label}}. Package internal/i18n serves it (go-i18n: the
// languages' plural rules, a Localizer a locale, dates and times by
// locale); the domain package says its texts through Texts and reads the
// English file itself, so that it keeps to the standard library.
//
//go:embed messages/*.json
var Messages embed.FS

// Texts says the catalogue's messages in one language: an
// *i18n.Localizer, or English, the domain's own reading of en.json.
type Texts interface {
	// T says message id with its arguments as name/value pairs.
	T(id string, kv ...any) string
	// N says the plural message id for count n (the argument Count).
	N(id string, n int, kv ...any) string
	// Short says t in loc as a person reads it at now: the time alone
	// on the same day, else with the weekday and date too.
	Short(t, now time.Time, loc *time.Location) string
}

// English is the domain's English (en-GB) reading of the catalogue, for
// callers that say nothing of a language.
var English Texts = english{}

type english struct{}

var (
	englishOnce sync.Once
	englishMsgs map[string]json.RawMessage
)

func englishMessage(id string) (json.RawMessage, bool) {
	englishOnce.Do(func() {
		b, err := Messages.ReadFile("messages/en.json")
		if err == nil {
			err = json.Unmarshal(b, &englishMsgs)
		}
		if err != nil {
			panic("keycab: messages/en.json: " + err.Error()) // embedded: a test catches it first
		}
	})
	m, ok := englishMsgs[id]
	return m, ok
}

// hasMessage reports whether the catalogue has id.
func hasMessage(id string) bool { _, ok := englishMessage(id); return ok }

// fill replaces each {{.Name}} in s by its value in kv.
func fill(s string, kv []any) string {
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{{."+fmt.Sprint(kv[i])+"}}", fmt.Sprint(kv[i+1]))
	}
	return s
}

func (english) T(id string, kv ...any) string {
	var s string
	if m, ok := englishMessage(id); !ok || json.Unmarshal(m, &s) != nil {
		return id
	}
	return fill(s, kv)
}

func (english) N(id string, n int, kv ...any) string {
	var forms map[string]string
	if m, ok := englishMessage(id); !ok || json.Unmarshal(m, &forms) != nil {
		return id
	}
	form := forms["other"]
	if n == 1 && forms["one"] != "" {
		form = forms["one"]
	}
	return fill(form, append(kv, "Count", n))
}

func (english) Short(t, now time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	y1, m1, d1 := t.Date()
	if y2, m2, d2 := now.In(loc).Date(); y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// DurationIn says d in l's words, to the largest whole unit that fits:
// "1 minute", "90 seconds", "2 Stunden".
func DurationIn(l Texts, d time.Duration) string {
	switch {
	case d < time.Second:
		return d.String()
	case d >= time.Hour && d%time.Hour == 0:
		return l.N("time.hours", int(d/time.Hour))
	case d >= time.Minute && d%time.Minute == 0:
		return l.N("time.minutes", int(d/time.Minute))
	}
	return l.N("time.seconds", int(d.Round(time.Second)/time.Second))
}
