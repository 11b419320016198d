package ui

import (
	"errors"
	"image/color"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/kiosk/simulator"
)

// simWidth is the width of the simulator panel beside the kiosk screen.
const simWidth = 360

// maxProbedSlot bounds the search for a simulator's slots; see simSlots.
const maxProbedSlot = 64

// Text sizes of the simulator panel.
const simText, simSmall float32 = 15, 13

// simPanel is the simulator's control panel: the hands and eyes of the
// person at a simulated cabinet. It is a developer's tool, drawn apart
// from the kiosk screen in a neutral grey.
type simPanel struct {
	cab    *simulator.Cabinet
	rt     runtime
	slots  []int
	status *canvas.Text

	slotState map[int]*canvas.Text
	slotDot   map[int]*canvas.Circle
	lockState map[string]*canvas.Text
	lockDot   map[string]*canvas.Circle
	force     *widget.Check

	// l is the language the panel speaks: the screen's (setLang);
	// relabel says each of its fixed texts again in it.
	l        *i18n.Localizer
	relabel  []func()
	reported bool // the status line says what a touch did, not "Ready."
}

func newSimPanel(cab *simulator.Cabinet, rt runtime) *simPanel {
	return &simPanel{cab: cab, rt: rt, slots: simSlots(cab), l: i18n.English(),
		slotState: map[int]*canvas.Text{}, slotDot: map[int]*canvas.Circle{},
		lockState: map[string]*canvas.Text{}, lockDot: map[string]*canvas.Circle{}}
}

// simSlots lists the simulated cabinet's slots that have a key sensor.
// The simulator does not list its slots yet, so until it has a Slots
// method they are found as the slots whose key is in: simulator.New puts
// every key home, and the panel is built right after it.
func simSlots(cab *simulator.Cabinet) []int {
	if l, ok := any(cab).(interface{ Slots() []keycab.Slot }); ok {
		var ns []int
		for _, s := range l.Slots() {
			if s.Sensor != "" {
				ns = append(ns, s.Number)
			}
		}
		sort.Ints(ns)
		return ns
	}
	var ns []int
	for n := 1; n <= maxProbedSlot; n++ {
		if keyIn(cab, n) {
			ns = append(ns, n)
		}
	}
	return ns
}

// keyIn is cab.KeyIn, false for a slot without a sensor (open shelf),
// on which the simulator's KeyIn panics.
func keyIn(cab *simulator.Cabinet, n int) (in bool) {
	defer func() {
		if recover() != nil {
			in = false
		}
	}()
	return cab.KeyIn(n)
}

// setLang makes the panel speak l, the language of the screen beside
// it.
func (p *simPanel) setLang(l *i18n.Localizer) {
	if l == p.l {
		return
	}
	p.l = l
	for _, f := range p.relabel {
		f()
	}
	p.refresh()
}

// text is a label of the panel saying message id in its language.
func (p *simPanel) text(id string, size float32, col color.Color, bold bool, kv ...any) *canvas.Text {
	t := label(p.l.T(id, kv...), size, col, bold)
	p.relabel = append(p.relabel, func() { t.Text = p.l.T(id, kv...); t.Refresh() })
	return t
}

// button is a button of the panel saying message id.
func (p *simPanel) button(id string, tapped func()) *widget.Button {
	b := widget.NewButton(p.l.T(id), tapped)
	p.relabel = append(p.relabel, func() { b.SetText(p.l.T(id)) })
	return b
}

// check is a check box of the panel saying message id.
func (p *simPanel) check(id string, changed func(bool)) *widget.Check {
	c := widget.NewCheck(p.l.T(id), changed)
	p.relabel = append(p.relabel, func() { c.Text = p.l.T(id); c.Refresh() })
	return c
}

// entry is a text field of the panel whose placeholder says message id.
func (p *simPanel) entry(id string) *widget.Entry {
	e := widget.NewEntry()
	e.SetPlaceHolder(p.l.T(id))
	p.relabel = append(p.relabel, func() { e.SetPlaceHolder(p.l.T(id)) })
	return e
}

// report shows what the last touch did, or why it failed.
func (p *simPanel) report(what string, err error) {
	p.reported = true
	p.status.Text, p.status.Color = what, colours.muted
	if err != nil {
		p.status.Text, p.status.Color = err.Error(), colours.danger
	}
	p.status.Refresh()
	p.refresh()
}

func (p *simPanel) object() fyne.CanvasObject {
	p.status = label(p.l.T("sim.ready"), simSmall, colours.muted, false)
	p.relabel = append(p.relabel, func() {
		if !p.reported {
			p.status.Text = p.l.T("sim.ready")
			p.status.Refresh()
		}
	})
	heading := func(id string) fyne.CanvasObject {
		return container.NewVBox(gap(4), p.text(id, simSmall, colours.accent, true))
	}

	badge := p.entry("sim.badge_code")
	present := p.button("sim.present", func() {
		if badge.Text == "" {
			p.report("", errors.New(p.l.T("sim.badge_first")))
			return
		}
		p.cab.Badge(badge.Text)
		p.report(p.l.T("sim.presented", "Code", badge.Text), nil)
	})
	qr := p.entry("sim.qr_text")
	show := p.button("sim.show", func() {
		if qr.Text == "" {
			p.report("", errors.New(p.l.T("sim.qr_first")))
			return
		}
		p.cab.ShowQR(qr.Text)
		p.report(p.l.T("sim.showed", "Text", qr.Text), nil)
	})

	door := p.check("sim.door_open", func(open bool) {
		err := p.cab.Door(open)
		if open {
			p.report(p.l.T("sim.door_opened"), err)
		} else {
			p.report(p.l.T("sim.door_closed"), err)
		}
	})
	tamper := p.check("sim.tamper", func(on bool) { p.report(p.l.T("sim.tamper_set"), p.cab.Tamper(on)) })
	emergency := p.check("sim.emergency", func(on bool) { p.report(p.l.T("sim.emergency_set"), p.cab.Emergency(on)) })
	p.force = p.check("sim.force", nil)

	var slotRows []fyne.CanvasObject
	for _, n := range p.slots {
		state := label("", simSmall, colours.muted, false)
		dot := canvas.NewCircle(colours.muted)
		p.slotState[n], p.slotDot[n] = state, dot
		take := p.button("sim.take", func() {
			p.report(p.l.T("sim.took", "Slot", n), p.cab.TakeKey(n, p.force.Checked))
		})
		put := p.button("sim.put", func() {
			p.report(p.l.T("sim.put_in", "Slot", n), p.cab.PutKey(n))
		})
		name := container.NewHBox(statusDot(dot), p.text("sim.slot", simText, colours.text, true, "Slot", n), state)
		slotRows = append(slotRows, container.NewBorder(nil, nil, nil, container.NewHBox(take, put), name))
	}

	var lockRows []fyne.CanvasObject
	for _, name := range p.cab.Locks.Names() {
		state := label("", simSmall, colours.muted, false)
		dot := canvas.NewCircle(colours.muted)
		p.lockState[name], p.lockDot[name] = state, dot
		lockRows = append(lockRows, container.NewHBox(statusDot(dot), label(name, simText, colours.text, false), layout.NewSpacer(), state))
	}

	title := p.text("sim.title", 20, colours.text, true)
	sub := p.text("sim.subtitle", simSmall, colours.muted, false)
	content := container.NewVBox(
		title, sub,
		heading("sim.badge_reader"), container.NewBorder(nil, nil, nil, present, badge),
		heading("sim.camera"), container.NewBorder(nil, nil, nil, show, qr),
		heading("sim.door_inputs"), container.NewGridWithColumns(2, door, tamper, emergency),
		heading("sim.slots"), container.NewVBox(slotRows...), p.force,
		heading("sim.lock_outputs"), container.NewVBox(lockRows...),
	)
	bg := canvas.NewRectangle(colours.sim)
	// The scroll bar, shown when a cabinet has more slots than fit, lies
	// over the content's right edge: keep that strip free of buttons.
	bar := simTheme{}.Size(theme.SizeNameScrollBar)
	scroll := container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 0, 0, bar), content))
	panel := container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), p.status), nil, nil, scroll)
	p.refresh()
	padded := container.New(layout.NewCustomPaddedLayout(12, 12, 14, 14-bar/2), panel)
	return container.NewThemeOverride(container.New(fixedWidth{simWidth}, bg, padded), simTheme{})
}

// fixedWidth stacks its objects at one width, whatever they ask for.
type fixedWidth struct{ width float32 }

func (l fixedWidth) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.Position{})
		o.Resize(s)
	}
}

func (l fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var h float32
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(l.width, h)
}

func statusDot(c *canvas.Circle) fyne.CanvasObject {
	return sized(container.NewCenter(sized(c, fyne.NewSquareSize(10))), fyne.NewSize(14, 24))
}

// refresh reads the simulated sensors and lock outputs.
func (p *simPanel) refresh() {
	for _, n := range p.slots {
		text, col := p.l.T("sim.empty"), colours.danger
		if keyIn(p.cab, n) {
			text, col = p.l.T("sim.key_in"), colours.success
		}
		setState(p.slotState[n], p.slotDot[n], text, col)
	}
	for name, t := range p.lockState {
		text, col := p.l.T("sim.locked"), colours.muted
		if p.cab.Released(name) {
			text, col = p.l.T("sim.released"), colours.accent
		}
		setState(t, p.lockDot[name], text, col)
	}
}

func setState(t *canvas.Text, dot *canvas.Circle, text string, col color.Color) {
	if t.Text == text {
		return
	}
	t.Text, t.Color = text, col
	dot.FillColor = col
	t.Refresh()
	dot.Refresh()
}
