package ui

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// Options configure the kiosk window.
type Options struct {
	// Fullscreen fills the display, as on the cabinet's touchscreen.
	Fullscreen bool
	// Simulator adds the simulator panel; nil on real hardware.
	Simulator *simulator.Cabinet
	// Title names the window; "keycab" when empty.
	Title string
	// Window is the window to show the kiosk in (the setup screen's, once
	// the kiosk is enrolled); nil for a new one.
	Window fyne.Window
}

// runtime is how the UI meets time and threads. New uses the system's;
// the tests drive a manual one so that goldens are stable and nothing
// touches widgets off the test's goroutine.
type runtime struct {
	now    func() time.Time
	loc    *time.Location // where times are shown
	manual bool           // no goroutines: Sync renders
	tick   time.Duration  // countdown and simulator refresh period
}

// UI is the kiosk's touchscreen window.
type UI struct {
	app  fyne.App
	c    *kiosk.Controller
	win  fyne.Window
	rt   runtime
	sub  <-chan kiosk.Screen
	done chan struct{}

	scr       kiosk.Screen
	step      stepKey
	stepStart time.Time

	// Chrome around every screen.
	root             *fyne.Container
	header           *fyne.Container
	org, site, clock *canvas.Text
	warn             *canvas.Text // the pre-warning's line, counting down
	who              *canvas.Text // the member in session
	mark             *canvas.Text
	markBg           *canvas.Rectangle
	logo             *canvas.Image
	brandKey         string // accent and logo shown, to redraw only on change
	banner           *fyne.Container
	body             *fyne.Container
	footer           *fyne.Container
	cancel           *tile
	action           *fyne.Container // the screen's own footer button
	timer            *countdown

	// What the person is doing within the current step.
	pad      *keypad
	reason   string
	reasons  []*tile
	fields   *fieldSet
	recip    *field
	notes    *field
	clearing *kiosk.Alarm
	note     *field
	adminTab string
	histKind keycab.EventKind
	history  []kiosk.HistoryItem // nil while reading
	histErr  error

	sim *simPanel
}

// stepKey tells a new step from the same step shown again (with fresh
// alarms, say): typing survives a re-show, not a new step.
type stepKey struct {
	state    kiosk.State
	title    string
	message  string
	deadline time.Time
	admin    *kiosk.AdminView
}

// New builds the kiosk window for controller c on app a: it applies the
// kiosk theme, subscribes to the controller's screens and renders each on
// the Fyne thread. With o.Simulator it adds the simulator panel on the
// right. Call ShowAndRun (or Window().Show) to put it on the display.
func New(a fyne.App, c *kiosk.Controller, o Options) *UI {
	return newUI(a, c, o, runtime{now: time.Now, loc: time.Local, tick: 250 * time.Millisecond})
}

func newUI(a fyne.App, c *kiosk.Controller, o Options, rt runtime) *UI {
	if o.Title == "" {
		o.Title = "keycab"
	}
	a.Settings().SetTheme(kioskTheme{})
	u := &UI{app: a, c: c, rt: rt, done: make(chan struct{})}
	u.win = o.Window
	if u.win == nil {
		u.win = a.NewWindow(o.Title)
	}
	u.win.SetPadded(false)
	if o.Simulator != nil {
		u.sim = newSimPanel(o.Simulator, rt)
	}
	if o.Window == nil {
		u.win.Resize(fyne.NewSize(designW, designH))
		if o.Simulator != nil {
			u.win.Resize(fyne.NewSize(designW+simWidth, designH))
		}
	}
	scale = fitScale(u.area())
	content := u.build()
	u.win.SetFullScreen(o.Fullscreen)
	u.win.SetOnClosed(func() { close(u.done) })

	u.sub = c.Subscribe()
	u.show(<-u.sub)
	content.Refresh() // lay the simulator panel out in its own theme
	if !rt.manual {
		go u.pump()
		go u.ticker()
	}
	return u
}

// build sets the window's content: the chrome, and the simulator panel
// when there is one.
func (u *UI) build() fyne.CanvasObject {
	content := u.chrome()
	if u.sim != nil {
		content = container.NewBorder(nil, nil, nil, u.sim.object(), content)
	}
	u.win.SetContent(content)
	return content
}

// area is the size the kiosk screen has in the window: all of it but the
// simulator panel.
func (u *UI) area() fyne.Size {
	s := u.win.Canvas().Size()
	if u.sim != nil {
		s.Width -= simWidth
	}
	return s
}

// rescale fits the kiosk to the window (a smaller display, or the window
// resized): when the scale changes it draws everything again at the new
// one.
func (u *UI) rescale() {
	f := fitScale(u.area())
	if f == scale {
		return
	}
	scale = f
	u.build()
	u.brandKey = "\x00" // draw the brand mark again
	u.showChrome(u.scr)
	u.renderBody()
	u.timer.set(u.stepStart, u.scr.Deadline, u.rt.now())
	u.root.Refresh()
}

// Window returns the kiosk window.
func (u *UI) Window() fyne.Window { return u.win }

// ShowAndRun shows the window and runs the app until it quits.
func (u *UI) ShowAndRun() { u.win.ShowAndRun() }

// pump renders every screen the controller publishes, on the Fyne thread.
func (u *UI) pump() {
	for {
		select {
		case <-u.done:
			return
		case s := <-u.sub:
			fyne.Do(func() { u.show(s) })
		}
	}
}

// ticker moves the countdown and the clock, and refreshes the simulator.
func (u *UI) ticker() {
	t := time.NewTicker(u.rt.tick)
	defer t.Stop()
	for {
		select {
		case <-u.done:
			return
		case <-t.C:
			fyne.Do(u.tick)
		}
	}
}

// sync renders the newest screen, if any is waiting, and ticks: the manual
// runtime's replacement for pump and ticker.
func (u *UI) sync() {
	for {
		select {
		case s := <-u.sub:
			u.show(s)
			continue
		default:
		}
		u.tick()
		return
	}
}

func (u *UI) tick() {
	u.rescale()
	now := u.rt.now()
	u.timer.tick(now)
	if t := u.tr().Clock(now.In(u.rt.loc)); t != u.clock.Text {
		u.clock.Text = t
		u.header.Refresh()
	}
	if u.warn != nil {
		if t := warningText(u.tr(), u.scr, now); t != u.warn.Text {
			u.warn.Text = t
			u.warn.Refresh()
		}
	}
	if u.sim != nil {
		u.sim.refresh()
	}
}

// do sends an action to the controller.
func (u *UI) do(a any) { u.c.Do(a) }

// chrome builds what surrounds every screen: the branded header, the
// alarm banner, the body, and the footer with Cancel and the countdown.
func (u *UI) chrome() fyne.CanvasObject {
	u.mark = centred("", sizeBody, colours.onAccent, true)
	u.markBg = canvas.NewRectangle(colours.accent)
	u.markBg.CornerRadius = 10
	u.logo = &canvas.Image{FillMode: canvas.ImageFillContain}
	u.logo.Hide()
	mark := sized(container.NewStack(u.markBg, container.NewCenter(u.mark), u.logo), fyne.NewSquareSize(52))
	u.org = label("", sizeLarge, colours.text, true)
	u.site = label("", sizeBody, colours.muted, false)
	u.clock = label("", sizeLarge, colours.text, true)
	u.who = label("", sizeBody, colours.muted, false)
	brand := container.NewHBox(container.NewCenter(mark), container.NewCenter(u.org), container.NewCenter(u.site))
	headerBg := canvas.NewRectangle(colours.header)
	u.header = container.NewStack(headerBg, padded(10, 10, 24, 24, container.NewBorder(nil, nil, brand, container.NewHBox(container.NewCenter(u.who), hgap(16), container.NewCenter(u.clock)))))

	u.banner = container.NewVBox()
	u.body = container.NewStack()
	u.cancel = newTile(i18n.English().T("ui.cancel"), tileQuiet, func() { u.do(kiosk.Cancel{}) })
	u.cancel.minWidth = 200
	u.timer = newCountdown()
	u.action = container.NewStack()
	footerBg := canvas.NewRectangle(colours.header)
	u.footer = container.NewStack(footerBg, padded(8, 8, 24, 24, container.NewBorder(nil, nil, u.cancel, u.action, container.NewCenter(sized(u.timer, fyne.NewSize(320, touchHeight))))))
	body := padded(16, 16, 40, 40, u.body)
	bg := canvas.NewRectangle(colours.background)
	u.root = container.NewStack(bg, container.NewBorder(container.NewVBox(u.header, u.banner), u.footer, nil, nil, body))
	return u.root
}

// show renders screen s: the chrome always, the body when the step changed.
func (u *UI) show(s kiosk.Screen) {
	if s.Seq != 0 && s.Seq < u.scr.Seq {
		return // stale
	}
	u.scr = s
	u.timer.hint = u.tr().T("ui.time_left")
	if u.sim != nil {
		u.sim.setLang(u.tr())
	}
	u.showChrome(s)
	key := stepKey{state: s.State, title: s.Title, message: s.Message, deadline: s.Deadline, admin: s.Admin}
	if key != u.step {
		u.step = key
		u.stepStart = u.rt.now()
		u.resetStep()
		u.renderBody()
	}
	u.timer.set(u.stepStart, s.Deadline, u.rt.now())
	u.tick()
	u.root.Refresh() // lay out again what changed size or visibility
}

// showChrome shows s's branding, member, warning and alarms.
func (u *UI) showChrome(s kiosk.Screen) {
	u.showBranding(s.Branding)
	u.who.Text = ""
	if s.Member != nil {
		u.who.Text = s.Member.Name
	}
	u.showAlarms(s)
}

func (u *UI) resetStep() {
	u.pad, u.reason, u.reasons, u.fields = nil, "", nil, nil
	u.recip, u.notes, u.clearing, u.note = nil, nil, nil, nil
	u.adminTab, u.histKind, u.history, u.histErr = tabCabinet, "", nil, nil
}

func (u *UI) showBranding(b kiosk.Branding) {
	org := b.OrgName
	if org == "" {
		org = "keycab"
	}
	u.org.Text = org
	u.site.Text = ""
	if b.Site != "" {
		u.site.Text = "·  " + b.Site
	}
	u.mark.Text = initials(org)
	if key := b.Accent + string(b.Logo); key != u.brandKey {
		u.brandKey = key
		u.markBg.FillColor = colours.accent
		if c, ok := parseHex(b.Accent); ok {
			u.markBg.FillColor = c
		}
		u.markBg.Refresh()
		u.logo.Hide()
		u.mark.Show()
		if len(b.Logo) > 0 {
			if img, err := png.Decode(bytes.NewReader(b.Logo)); err == nil {
				u.logo.Image = img
				u.logo.Show()
				u.mark.Hide()
				u.logo.Refresh()
			}
		}
	}
}

// parseHex reads a #rrggbb colour.
func parseHex(s string) (color.Color, bool) {
	var r, g, b uint8
	if len(s) != 7 || s[0] != '#' {
		return nil, false
	}
	if _, err := fmt.Sscanf(s[1:], "%02x%02x%02x", &r, &g, &b); err != nil {
		return nil, false
	}
	return color.NRGBA{R: r, G: g, B: b, A: 0xff}, true
}

// initials are the brand mark's letters: "Test Lettings" is "TL".
func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			b.WriteRune(r)
			break
		}
		if b.Len() >= 2 {
			break
		}
	}
	return strings.ToUpper(b.String())
}

// showAlarms fills the banner with the warning, if any, in the accent
// colour, and the active alarms, newest first, in red.
func (u *UI) showAlarms(s kiosk.Screen) {
	u.banner.RemoveAll()
	u.warn = nil
	if s.Warning != "" {
		icon := canvas.NewImageFromResource(theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameForeground))
		icon.SetMinSize(fyne.NewSquareSize(px(32)))
		u.warn = label(warningText(u.tr(), s, u.rt.now()), sizeBody, colours.onAccent, true)
		line := container.NewHBox(icon, u.warn)
		bg := canvas.NewRectangle(colours.accent)
		u.banner.Add(container.NewStack(bg, padded(6, 6, 24, 24, line)))
	}
	// The alarms collapse into one line: the most urgent, and a count
	// of the others (admin's cabinet tab lists them all).
	if len(s.Alarms) > 0 {
		a := mostUrgent(s.Alarms)
		icon := canvas.NewImageFromResource(theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameForeground))
		icon.SetMinSize(fyne.NewSquareSize(px(32)))
		items := []fyne.CanvasObject{icon, label(keycab.AlarmTitleIn(u.tr(), a.Kind), sizeBody, colours.text, true)}
		if n := len(s.Alarms) - 1; n > 0 {
			items = append(items, label("· "+u.tr().N("ui.more_alarms", n), sizeBody, colours.text, false))
		}
		since := label(u.tr().T("ui.since", "Since", u.tr().Clock(a.Since.In(u.rt.loc))), sizeCaption, colours.text, false)
		u.banner.Add(bannerLine(container.NewBorder(nil, nil, nil, container.NewCenter(since), container.NewHBox(items...))))
	}
	u.banner.Refresh()
}

// urgency ranks alarm kinds, most urgent first: a break-in before a
// lapse, a lapse before housekeeping.
var urgency = []string{keycab.AlarmDoorForced, keycab.AlarmTamper, keycab.AlarmKeyRemoved, keycab.AlarmEquivocation,
	keycab.AlarmLogFailed, keycab.AlarmDoorHeld, keycab.AlarmWrongSlot, keycab.AlarmOverdue, keycab.AlarmKioskOffline}

// mostUrgent returns the most urgent of alarms (the oldest of equals).
func mostUrgent(alarms []kiosk.Alarm) kiosk.Alarm {
	rank := func(a kiosk.Alarm) int {
		if i := slices.Index(urgency, a.Kind); i >= 0 {
			return i
		}
		return len(urgency)
	}
	best := alarms[0]
	for _, a := range alarms[1:] {
		if r, b := rank(a), rank(best); r < b || (r == b && a.Since.Before(best.Since)) {
			best = a
		}
	}
	return best
}

// warningText is the pre-warning; the door-held one counts down to its
// alarm, second by second (tick).
func warningText(l *i18n.Localizer, s kiosk.Screen, now time.Time) string {
	if left, ok := s.DoorAlarmIn(now); ok {
		return l.T("ui.door_countdown", "Seconds", int(left/time.Second))
	}
	return s.Warning
}

func bannerLine(obj fyne.CanvasObject) fyne.CanvasObject {
	bg := canvas.NewRectangle(colours.danger)
	return container.NewStack(bg, padded(6, 6, 24, 24, obj))
}

// tr is the language of the screen shown (Screen.Lang: the member's,
// else the site's).
func (u *UI) tr() *i18n.Localizer { return i18n.For(u.scr.Lang) }

// setFooter shows the footer with Cancel labelled cancel (hidden when
// empty) and the screen's own action on the right (nil for none).
func (u *UI) setFooter(cancel string, action fyne.CanvasObject) {
	u.footer.Show()
	u.cancel.title = cancel
	u.cancel.Hidden = cancel == ""
	u.cancel.Refresh()
	u.action.RemoveAll()
	if action != nil {
		u.action.Add(action)
	}
	u.action.Refresh()
}

// fill sets the body.
func (u *UI) fill(obj fyne.CanvasObject, bg color.Color) {
	u.body.RemoveAll()
	if bg != nil {
		r := canvas.NewRectangle(bg)
		r.CornerRadius = 20
		u.body.Add(r)
	}
	u.body.Add(obj)
	u.body.Refresh()
}
