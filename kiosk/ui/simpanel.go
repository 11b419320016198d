package ui

import (
	"fmt"
	"image/color"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab"
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
}

func newSimPanel(cab *simulator.Cabinet, rt runtime) *simPanel {
	return &simPanel{cab: cab, rt: rt, slots: simSlots(cab),
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

// report shows what the last touch did, or why it failed.
func (p *simPanel) report(what string, err error) {
	p.status.Text, p.status.Color = what, colours.muted
	if err != nil {
		p.status.Text, p.status.Color = err.Error(), colours.danger
	}
	p.status.Refresh()
	p.refresh()
}

func (p *simPanel) object() fyne.CanvasObject {
	p.status = label("Ready.", simSmall, colours.muted, false)
	heading := func(s string) fyne.CanvasObject {
		return container.NewVBox(gap(4), label(s, simSmall, colours.accent, true))
	}

	badge := widget.NewEntry()
	badge.SetPlaceHolder("badge code")
	present := widget.NewButton("Present", func() {
		if badge.Text == "" {
			p.report("", fmt.Errorf("type a badge code first"))
			return
		}
		p.cab.Badge(badge.Text)
		p.report("Presented badge "+badge.Text+".", nil)
	})
	qr := widget.NewEntry()
	qr.SetPlaceHolder("QR text")
	show := widget.NewButton("Show", func() {
		if qr.Text == "" {
			p.report("", fmt.Errorf("type the QR code's text first"))
			return
		}
		p.cab.ShowQR(qr.Text)
		p.report("Showed QR "+qr.Text+" to the camera.", nil)
	})

	door := widget.NewCheck("Door open", func(open bool) {
		err := p.cab.Door(open)
		p.report(map[bool]string{true: "Door opened.", false: "Door closed."}[open], err)
	})
	tamper := widget.NewCheck("Tamper", func(on bool) { p.report("Tamper input set.", p.cab.Tamper(on)) })
	emergency := widget.NewCheck("Emergency", func(on bool) { p.report("Emergency input set.", p.cab.Emergency(on)) })
	p.force = widget.NewCheck("Force (yank from a locked slot)", nil)

	var slotRows []fyne.CanvasObject
	for _, n := range p.slots {
		state := label("", simSmall, colours.muted, false)
		dot := canvas.NewCircle(colours.muted)
		p.slotState[n], p.slotDot[n] = state, dot
		take := widget.NewButton("Take", func() {
			p.report(fmt.Sprintf("Took the key from slot %d.", n), p.cab.TakeKey(n, p.force.Checked))
		})
		put := widget.NewButton("Put", func() {
			p.report(fmt.Sprintf("Put a key in slot %d.", n), p.cab.PutKey(n))
		})
		name := container.NewHBox(statusDot(dot), label(fmt.Sprintf("Slot %d", n), simText, colours.text, true), state)
		slotRows = append(slotRows, container.NewBorder(nil, nil, nil, container.NewHBox(take, put), name))
	}

	var lockRows []fyne.CanvasObject
	for _, name := range p.cab.Locks.Names() {
		state := label("", simSmall, colours.muted, false)
		dot := canvas.NewCircle(colours.muted)
		p.lockState[name], p.lockDot[name] = state, dot
		lockRows = append(lockRows, container.NewHBox(statusDot(dot), label(name, simText, colours.text, false), layout.NewSpacer(), state))
	}

	title := label("SIMULATOR", 20, colours.text, true)
	sub := label("The cabinet's hardware, simulated", simSmall, colours.muted, false)
	content := container.NewVBox(
		title, sub,
		heading("BADGE READER"), container.NewBorder(nil, nil, nil, present, badge),
		heading("CAMERA"), container.NewBorder(nil, nil, nil, show, qr),
		heading("DOOR AND INPUTS"), container.NewGridWithColumns(2, door, tamper, emergency),
		heading("SLOTS"), container.NewVBox(slotRows...), p.force,
		heading("LOCK OUTPUTS"), container.NewVBox(lockRows...),
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
		text, col := "empty", colours.danger
		if keyIn(p.cab, n) {
			text, col = "key in", colours.success
		}
		setState(p.slotState[n], p.slotDot[n], text, col)
	}
	for name, t := range p.lockState {
		text, col := "locked", colours.muted
		if p.cab.Released(name) {
			text, col = "RELEASED", colours.accent
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
