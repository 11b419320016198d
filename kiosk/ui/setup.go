package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/sync/wire"
)

// SetupOptions configure the setup screen.
type SetupOptions struct {
	// Fullscreen fills the display, as on the cabinet's touchscreen.
	Fullscreen bool
	// Title names the window; "keycab" when empty.
	Title string
	// HQ fills the address field (the wiring file's, when it names one).
	HQ string
	// Language is the locale the screen speaks (internal/i18n: en-GB,
	// en-US, de); a kiosk not enrolled has no site to take one from, so
	// keycab-kiosk passes the system's (LANG). Empty or unknown: en-GB.
	Language string
	// Enrol enrols the kiosk with HQ. It runs off the Fyne thread, once
	// at a time; its error is shown to the installer as it is, so it
	// should say in plain words what went wrong.
	Enrol func(ctx context.Context, code wire.EnrolCode) error
	// Enrolled is called on the Fyne thread once Enrol has succeeded. It
	// starts the kiosk and puts its screens into the window
	// (Options.Window); its error is shown on the setup screen.
	Enrolled func(w fyne.Window) error
}

// Setup is the screen a kiosk shows on its first start, before it is
// enrolled with HQ: it has no config yet, so nobody can sign in, and the
// installer enrols it here. They hold the enrolment code HQ's cabinet page
// shows (a QR code) to the camera, which fills both fields and enrols at
// once (Scanned), or type HQ's address and the token on the keyboard.
type Setup struct {
	o   SetupOptions
	rt  runtime
	win fyne.Window
	tr  *i18n.Localizer // the screen's language (SetupOptions.Language)

	fields    *fieldSet
	hq, token *field
	enrol     *tile
	status    *widget.RichText // what the setup is doing, wrapped
	said      string
	saidColor fyne.ThemeColorName
	busy      bool // enrolling, or enrolled: no second enrolment
	handed    bool // the kiosk took the window over
	// The code that failed last, and when: the camera sees a code held
	// in view ten times a second, and one failure is enough.
	failed   wire.EnrolCode
	failedAt time.Time
}

// retryAfter is how long a scanned code that failed is ignored.
const retryAfter = 5 * time.Second

// NewSetup builds the setup window on app a. Call ShowAndRun (or
// Window().Show) to put it on the display.
func NewSetup(a fyne.App, o SetupOptions) *Setup {
	return newSetup(a, o, runtime{})
}

func newSetup(a fyne.App, o SetupOptions, rt runtime) *Setup {
	if o.Title == "" {
		o.Title = "keycab"
	}
	a.Settings().SetTheme(kioskTheme{})
	if rt.now == nil {
		rt.now = time.Now
	}
	s := &Setup{o: o, rt: rt, win: a.NewWindow(o.Title), tr: i18n.For(o.Language)}
	s.win.SetPadded(false)
	s.fields = &fieldSet{}
	s.hq = s.fields.add(s.tr.T("setup.hq_address"), "https://hq.example.com")
	s.token = s.fields.add(s.tr.T("setup.token"), s.tr.T("setup.token_hint"))
	s.hq.plain, s.token.plain = true, true
	s.hq.value = o.HQ
	focus := s.hq
	if o.HQ != "" {
		focus = s.token
	}
	s.fields.setFocus(focus)
	s.enrol = newTile(s.tr.T("setup.enrol"), tilePrimary, s.submit)
	s.enrol.minWidth = 240
	s.fields.changed = s.ready
	s.ready()
	s.saidColor = theme.ColorNamePlaceHolder
	s.win.Resize(fyne.NewSize(designW, designH))
	scale = fitScale(s.win.Canvas().Size())
	s.build()
	s.win.SetFullScreen(o.Fullscreen)
	if !rt.manual {
		go s.watch()
	}
	return s
}

// build sets the window's content at the current scale.
func (s *Setup) build() {
	kb := newKeyboard(s.fields)
	kb.tr = s.tr
	kb.symbols = ":/_@?=&%"
	// The status keeps what it says, at the new scale; it wraps, as
	// HQ's reasons can be long.
	s.status = paragraph(s.said, theme.SizeNameText, s.saidColor, fyne.TextAlignLeading)
	// The title and the status line start where the paragraph's text does.
	inset := func(o fyne.CanvasObject) fyne.CanvasObject {
		return container.New(layout.NewCustomPaddedLayout(0, 0, theme.InnerPadding(), 0), o)
	}
	top := container.NewVBox(
		inset(label(s.tr.T("setup.title"), sizeTitle, colours.text, true)),
		paragraph(s.tr.T("setup.intro"), sizeNameMessage, theme.ColorNameForeground, fyne.TextAlignLeading),
		container.NewBorder(nil, nil, nil, s.enrol, container.NewGridWithColumns(2, s.hq.tile, s.token.tile)),
		s.status,
	)
	bg := canvas.NewRectangle(colours.background)
	s.win.SetContent(container.NewStack(bg, container.NewPadded(container.NewBorder(top, nil, nil, nil, container.NewCenter(kb.object())))))
}

// rescale fits the setup screen to its window (a smaller display, or
// full screen on one): when the scale changes it builds it again.
func (s *Setup) rescale() {
	if s.handed {
		return // the kiosk has the window now
	}
	f := fitScale(s.win.Canvas().Size())
	if f == scale {
		return
	}
	scale = f
	s.build()
}

// watch fits the screen to the window every quarter second until the
// kiosk takes the window over.
func (s *Setup) watch() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		done := make(chan bool, 1)
		fyne.Do(func() {
			s.rescale()
			done <- s.handed
		})
		if <-done {
			return
		}
	}
}

// Window returns the setup window; after enrolment it carries the kiosk.
func (s *Setup) Window() fyne.Window { return s.win }

// ShowAndRun shows the window and runs the app until it quits.
func (s *Setup) ShowAndRun() { s.win.ShowAndRun() }

// ready enables Enrol once both fields hold something, unless busy.
func (s *Setup) ready() {
	s.enrol.disabled = s.busy || s.hq.value == "" || s.token.value == ""
	s.enrol.Refresh()
}

// Scanned offers a code one of the cabinet's scanners read. An enrolment
// code fills both fields and enrols; anything else is refused with a
// word. It may be called from any goroutine.
func (s *Setup) Scanned(code string) {
	c, err := wire.ParseEnrolCode(code)
	s.onUI(func() {
		if s.busy || (c == s.failed && s.rt.now().Sub(s.failedAt) < retryAfter) {
			return
		}
		if err != nil {
			s.say(s.tr.T("setup.not_a_code"), theme.ColorNameError)
			return
		}
		s.hq.value, s.token.value = c.HQ, c.Token
		s.hq.show()
		s.token.show()
		s.start(c)
	})
}

// submit enrols with what was typed.
func (s *Setup) submit() {
	if s.enrol.disabled { // busy, or a field is empty
		return
	}
	c := wire.EnrolCode{HQ: s.hq.value, Token: s.token.value}
	if err := wire.CheckHQURL(c.HQ); err != nil {
		s.say(err.Error()+".", theme.ColorNameError)
		return
	}
	s.start(c)
}

// start runs Enrol off the Fyne thread (on it, in the tests' manual
// runtime), then reports its outcome.
func (s *Setup) start(c wire.EnrolCode) {
	s.setBusy(true)
	s.say(s.tr.T("setup.enrolling", "HQ", c.HQ), theme.ColorNameWarning)
	run := func() {
		err := errors.New("no enrolment configured")
		if s.o.Enrol != nil {
			err = s.o.Enrol(context.Background(), c)
		}
		s.onUI(func() { s.finish(c, err) })
	}
	if s.rt.manual {
		run()
		return
	}
	go run()
}

// finish shows the outcome of enrolling with c. Once enrolled, the
// screen stays busy: it takes no second enrolment.
func (s *Setup) finish(c wire.EnrolCode, err error) {
	if err != nil {
		s.setBusy(false)
		s.failed, s.failedAt = c, s.rt.now()
		s.say(s.tr.T("setup.not_enrolled", "Error", err.Error()), theme.ColorNameError)
		return
	}
	s.say(s.tr.T("setup.starting"), theme.ColorNameSuccess)
	if s.o.Enrolled == nil {
		return
	}
	if err := s.o.Enrolled(s.win); err != nil {
		s.say(s.tr.T("setup.start_failed", "Error", err.Error()), theme.ColorNameError)
		return
	}
	s.handed = true
}

// say shows a line of status under the fields, in colour c (a theme
// colour's name: the kiosk palette's).
func (s *Setup) say(text string, c fyne.ThemeColorName) {
	s.said, s.saidColor = text, c
	seg := s.status.Segments[0].(*widget.TextSegment)
	seg.Text, seg.Style.ColorName = text, c
	s.status.Refresh()
}

// setBusy marks an enrolment under way (or done), which nothing else may
// start.
func (s *Setup) setBusy(b bool) {
	s.busy = b
	s.ready()
}

// onUI runs fn on the Fyne thread (at once in the manual runtime).
func (s *Setup) onUI(fn func()) {
	if s.rt.manual {
		fn()
		return
	}
	fyne.Do(fn)
}
