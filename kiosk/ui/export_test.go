package ui

import (
	"time"

	"fyne.io/fyne/v2"

	"keycab.dev/keycab/kiosk"
)

// NewManual is New for tests: the UI starts no goroutines and renders only
// on Sync, reading the time from now and showing times in UTC, so that
// what it draws is the same on every run and every widget is touched on
// the test's goroutine only.
func NewManual(a fyne.App, c *kiosk.Controller, o Options, now func() time.Time) *UI {
	return newUI(a, c, o, runtime{now: now, loc: time.UTC, manual: true})
}

// Sync renders the newest screen, if one is waiting, and refreshes the
// countdown and the simulator panel.
func (u *UI) Sync() { u.sync() }

// Shown returns the screen last rendered.
func (u *UI) Shown() kiosk.Screen { return u.scr }

// BrandMark reports what the header's brand mark shows: the initials (or
// "" when a logo replaces them) and whether the logo is visible.
func (u *UI) BrandMark() (initials string, logo bool) {
	if u.logo.Visible() {
		return "", true
	}
	return u.mark.Text, false
}

// NewManualSetup is NewSetup for tests: Enrol runs on the test's
// goroutine, when Enrol is touched or a code scanned, and the time is
// now's.
func NewManualSetup(a fyne.App, o SetupOptions, now func() time.Time) *Setup {
	return newSetup(a, o, runtime{now: now, manual: true})
}

// Status returns the setup screen's status line.
func (s *Setup) Status() string { return s.said }

// Sync fits the setup screen to its window, as its ticker does.
func (s *Setup) Sync() { s.rescale() }

// TileTitle returns the title of a kiosk tile, and whether o is one.
func TileTitle(o fyne.CanvasObject) (string, bool) {
	if t, ok := o.(*tile); ok {
		return t.title, true
	}
	return "", false
}
