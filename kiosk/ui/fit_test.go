package ui_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/ui"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// The displays a kiosk runs on: the 10-inch 1280 x 800 panel
// (docs/HARDWARE.md) and the official Raspberry Pi 7-inch 800 x 480.
var fitSizes = []fyne.Size{{Width: 1280, Height: 800}, {Width: 800, Height: 480}}

// longLabel is a key set label longer than any of the sample config's,
// so that menus, titles and history rows carry a long line.
const longLabel = "Flat 4B, 112 Upper Richmond Road West, East Sheen"

// fitConfig is testConfig with a long label and a cabinet of twelve
// slots, so that the slot maps have rows to fit.
func fitConfig(t *testing.T) *keycab.Config {
	cfg := testConfig(t)
	cfg.KeySets[0].Label = longLabel
	cfg.Policy.DoorHeld, cfg.Policy.DoorHeldWarning = time.Minute, 15*time.Second
	for n := 4; n <= 12; n++ {
		id := fmt.Sprintf("ks-%d", n)
		cfg.KeySets = append(cfg.KeySets, keycab.KeySet{ID: id, Label: fmt.Sprintf("%d Station Rd", n)})
		cfg.Slots = append(cfg.Slots, keycab.Slot{Number: n, Lock: fmt.Sprintf("L%d", n), Sensor: fmt.Sprintf("S%d", n), KeySetID: id})
	}
	return cfg
}

// TestScreensFit renders every kiosk screen at 1280 x 800 and at 800 x
// 480, driving the real controller on a simulated cabinet through the
// flows, and fails when a visible object lies partly outside the window
// (or outside the scroll container that shows it, across its scrolling
// direction), when a text is drawn wider than the room it was given or
// sticks out of what holds it, or when the window's content needs more
// than the window (a window on a real display then grows past the
// screen). Each screen is kept as testdata/fit/WxH/name.png, and in
// German (a German site's kiosk) as testdata/fit/de/WxH/name.png.
func TestScreensFit(t *testing.T) {
	for _, size := range fitSizes {
		t.Run(fmt.Sprintf("%vx%v", size.Width, size.Height), func(t *testing.T) {
			fitFlows(t, size, "")
			fitSetup(t, size, "")
		})
		// German words are longer: every screen again in German.
		t.Run(fmt.Sprintf("de/%vx%v", size.Width, size.Height), func(t *testing.T) {
			fitFlows(t, size, i18n.German)
			fitSetup(t, size, i18n.German)
		})
	}
}

func fitFlows(t *testing.T, size fyne.Size, lang string) {
	cfg := fitConfig(t)
	cfg.Site.Language = lang
	tr := i18n.For(lang)
	r := newRigSized(t, cfg, size)
	dir := fmt.Sprintf("fit/%vx%v", size.Width, size.Height)
	if lang != "" {
		dir = fmt.Sprintf("fit/%s/%vx%v", lang, size.Width, size.Height)
	}
	fit := func(name string, whole ...string) {
		t.Helper()
		r.u.Sync()
		checkFit(t, name, r.w, size, whole...)
		if !strings.HasPrefix(name, "admin-history") { // its times are the store's wall clock: no golden
			fitGolden(t, filepath.Join(dir, name), r.w)
		}
	}
	badge := func(code string) {
		t.Helper()
		r.clock.Advance(time.Second) // past the scan cool-down
		r.cab.Badge(code)
	}
	admin := func() {
		t.Helper()
		badge("BADGE-ANA")
		r.await(kiosk.EnterPIN)
		r.c.Do(kiosk.PIN{Digits: "2468"})
		r.await(kiosk.Menu)
		r.c.Do(kiosk.OpenAdmin{})
		r.await(kiosk.Admin)
	}
	exit := func() {
		t.Helper()
		r.c.Do(kiosk.Cancel{})
		r.awaitThat("out of the session", func(s kiosk.Screen) bool { return s.State == kiosk.Idle || s.State == kiosk.Message })
		r.finish()
	}

	fit("idle")

	// A take, step by step.
	badge("BADGE-BEN")
	r.await(kiosk.Menu)
	fit("menu")
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	fit("reason", tr.T("ui.cancel"), tr.T("ui.continue"), tr.T("ui.key_space"), tr.T("ui.key_delete"))
	r.c.Do(kiosk.GiveReason{Reason: "viewing"})
	if s := r.await(kiosk.Unlocking); len(s.SlotMap) != 12 || s.SlotMap[0].Number != 1 || !s.SlotMap[0].Present || s.Slot != 1 {
		t.Fatalf("the take's slot map %+v, slot %d", s.SlotMap, s.Slot)
	}
	fit("unlock", tr.T("ui.cancel"))
	if err := r.cab.TakeKey(1, false); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.Done)
	fit("taken")
	r.finish()

	// Ben takes a second key, then returns the first.
	badge("BADGE-BEN")
	r.take("ks-2", "inspection", 2)
	badge("BADGE-BEN")
	r.await(kiosk.Menu)
	fit("menu-return")
	r.c.Do(kiosk.ChooseReturn{KeySetID: "ks-2"})
	if s := r.await(kiosk.Unlocking); len(s.SlotMap) != 12 || s.SlotMap[0].Present || s.SlotMap[1].Present || !s.SlotMap[2].Present || s.Slot != 2 {
		t.Fatalf("the return's slot map %+v, slot %d", s.SlotMap, s.Slot)
	}
	fit("return", tr.T("ui.cancel"))
	if err := r.cab.PutKey(2); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.Done)
	fit("returned")
	r.finish()

	// A second person for the plant room.
	badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-3"})
	r.await(kiosk.Second)
	fit("second")
	exit()

	// A badge the kiosk does not know: a notice.
	badge("BADGE-NOBODY")
	r.await(kiosk.Message)
	fit("message")
	r.finish()

	// A pass this kiosk cannot check (it pinned no HQ key): its refusal.
	badge("keycab-pass:e30.AAAA")
	r.await(kiosk.Message)
	fit("message-pass")
	r.finish()

	// The PIN pad an admin gives their PIN on.
	badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	fit("pin", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
	exit()

	// Admin with no alarm: every tab.
	admin()
	fit("admin-0", tr.T("ui.exit_admin"), tr.T("ui.cabinet"), tr.T("ui.people"), tr.T("ui.history"))
	r.tap(tr.T("ui.people"))
	fit("admin-people")
	r.tap(tr.T("ui.history"))
	fit("admin-history")
	exit()

	// One alarm.
	if err := r.cab.Tamper(true); err != nil {
		t.Fatal(err)
	}
	r.awaitThat("the tamper alarm", func(s kiosk.Screen) bool { return len(s.Alarms) == 1 })
	fit("idle-alarm")
	admin()
	fit("admin-1", tr.T("ui.exit_admin"), tr.T("ui.clear_dots"))
	r.tap(tr.T("ui.clear_dots"))
	fit("admin-clear", tr.T("ui.exit_admin"), tr.T("ui.clear_alarm"), tr.T("ui.back"))
	r.tap(tr.T("ui.back"))
	exit()

	// A wrong-slot return: the first key into the second's empty slot.
	badge("BADGE-BEN")
	r.take("ks-2", "viewing", 2)
	badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	r.await(kiosk.Unlocking)
	if err := r.cab.PutKey(2); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.WrongSlot)
	fit("wrong-slot")
	r.finish()

	// Three alarms: tamper, wrong slot, and a key pulled from a locked slot.
	if err := r.cab.TakeKey(5, true); err != nil {
		t.Fatal(err)
	}
	r.awaitThat("three alarms", func(s kiosk.Screen) bool { return len(s.Alarms) == 3 })
	admin()
	fit("admin-3", tr.T("ui.exit_admin"), tr.T("ui.clear_dots"), tr.T("ui.clear_dots"), tr.T("ui.clear_dots"))
	r.tap(tr.T("ui.history"))
	fit("admin-history-3")
	exit()

	if err := r.cab.Emergency(true); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.Emergency)
	fit("emergency")
	if err := r.cab.Emergency(false); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.Idle)

	// The door held open: the countdown before its alarm, over the
	// alarms already raised.
	opened := len(r.events(keycab.EventDoorOpened))
	if err := r.cab.Door(true); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, "the door open at the controller", func() bool { return len(r.events(keycab.EventDoorOpened)) > opened })
	// It opened while locked: its alarm is raised before the clock moves,
	// so its time is the same in every run.
	r.awaitThat("the door-forced alarm", func(s kiosk.Screen) bool {
		for _, a := range s.Alarms {
			if a.Kind == keycab.AlarmDoorForced {
				return true
			}
		}
		return false
	})
	r.clock.Advance(cfg.Policy.DoorHeld - cfg.Policy.DoorHeldWarning + time.Second)
	r.awaitThat("the door-held countdown", func(s kiosk.Screen) bool { return s.Warning != "" })
	fit("door-warning")
	if err := r.cab.Door(false); err != nil {
		t.Fatal(err)
	}
	r.awaitThat("the countdown gone", func(s kiosk.Screen) bool { return s.Warning == "" })

	fitShelf(t, size, lang, dir)
	fitOutOfService(t, size, lang, dir)
}

// fullLog is the kiosk's store whose disk fills up: once full is set,
// every append, take and return fails.
type fullLog struct {
	*store.DB
	full *atomic.Bool
}

var errFull = errors.New("database or disk is full")

func (l fullLog) Append(ctx context.Context, recs ...store.Record) ([]store.Appended, error) {
	if l.full.Load() {
		return nil, errFull
	}
	return l.DB.Append(ctx, recs...)
}

func (l fullLog) Take(ctx context.Context, c *keycab.Checkout) error {
	if l.full.Load() {
		return errFull
	}
	return l.DB.Take(ctx, c)
}

func (l fullLog) ReturnKey(ctx context.Context, r store.Returned) (int64, error) {
	if l.full.Load() {
		return 0, errFull
	}
	return l.DB.ReturnKey(ctx, r)
}

// fitOutOfService checks the screen of a kiosk whose log refuses appends.
func fitOutOfService(t *testing.T, size fyne.Size, lang, dir string) {
	cfg := fitConfig(t)
	cfg.Site.Language = lang
	full := new(atomic.Bool)
	r := newRigTuned(t, cfg, size, func(kc *kiosk.Config) { kc.Log = fullLog{DB: kc.Store, full: full} })
	full.Store(true)
	r.clock.Advance(time.Second)
	r.cab.Badge("BADGE-BEN")
	r.await(kiosk.OutOfService)
	r.u.Sync()
	checkFit(t, "out-of-service", r.w, size)
	fitGolden(t, filepath.Join(dir, "out-of-service"), r.w)
}

// fitShelf checks the open-shelf cabinet's confirming step: the fob's QR
// code to the camera, or its text typed.
func fitShelf(t *testing.T, size fyne.Size, lang, dir string) {
	cfg := fitConfig(t)
	cfg.Site.Language = lang
	cfg.Cabinet.Kind, cfg.Cabinet.DoorLock, cfg.Cabinet.DoorSensor = keycab.OpenShelf, "", ""
	for i := range cfg.Slots {
		cfg.Slots[i].Lock, cfg.Slots[i].Sensor = "", ""
	}
	r := newRigSized(t, cfg, size)
	r.clock.Advance(time.Second)
	r.cab.Badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-2"})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: "inspection"})
	r.await(kiosk.Confirming)
	r.u.Sync()
	checkFit(t, "confirming", r.w, size, i18n.For(lang).T("ui.cancel"))
	fitGolden(t, filepath.Join(dir, "confirming"), r.w)
}

// fitSetup checks the setup screen of a kiosk not enrolled yet, in
// language lang (the system's), after HQ refused an enrolment with a
// long reason.
func fitSetup(t *testing.T, size fyne.Size, lang string) {
	r := newSetupRigIn(t, "https://hq.example.com", lang)
	r.w.Resize(size)
	r.s.Sync()
	checkFit(t, "setup", r.w, size)
	r.answer = fmt.Errorf("HQ at https://hq.example.org:8443 cannot be reached (connection refused). Check the address and the network")
	r.s.Scanned(wire.EnrolCode{HQ: "https://hq.example.org:8443", Token: "org_a.b"}.String())
	r.s.Sync()
	checkFit(t, "setup-failed", r.w, size)
	dir := fmt.Sprintf("fit/%vx%v", size.Width, size.Height)
	if lang != "" {
		dir = fmt.Sprintf("fit/%s/%vx%v", lang, size.Width, size.Height)
	}
	fitGolden(t, filepath.Join(dir, "setup"), r.w)
}

// fitGolden compares the window with testdata/name.png; -update
// rewrites it.
func fitGolden(t *testing.T, name string, w fyne.Window) {
	t.Helper()
	img := w.Canvas().Capture()
	if *update {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join("testdata", name+".png"), buf.Bytes())
		return
	}
	test.AssertImageMatches(t, name+".png", img)
}

// box is a rectangle in window coordinates.
type box struct{ x0, y0, x1, y1 float32 }

func (b box) String() string {
	return fmt.Sprintf("at (%.0f,%.0f) size %.0fx%.0f", b.x0, b.y0, b.x1-b.x0, b.y1-b.y0)
}

// slack absorbs rounding in layouts.
const slack = 0.5

// checkFit fails naming each visible object of w that lies outside it,
// and unless a tile shows each of whole (a title given n times: n tiles)
// in full, not scrolled out of sight.
func checkFit(t *testing.T, name string, w fyne.Window, size fyne.Size, whole ...string) {
	t.Helper()
	if s := w.Canvas().Size(); s != size {
		t.Errorf("%s: the window grew to %v, want %v", name, s, size)
	}
	if m := w.Content().MinSize(); m.Width > size.Width+slack || m.Height > size.Height+slack {
		t.Errorf("%s: the content needs %.0fx%.0f, more than the %vx%v window", name, m.Width, m.Height, size.Width, size.Height)
	}
	w.Content().Refresh() // lay everything out at the window's size
	w.Canvas().Capture()  // and create every renderer
	win := box{0, 0, size.Width, size.Height}
	var bad []string
	shown := map[string]int{} // tiles seen whole, by title
	var visit func(o fyne.CanvasObject, at fyne.Position, parent, clip box, scrollX, scrollY bool)
	visit = func(o fyne.CanvasObject, at fyne.Position, parent, clip box, scrollX, scrollY bool) {
		if o == nil || !o.Visible() {
			return
		}
		p, s := o.Position(), o.Size()
		at = at.Add(p)
		b := box{at.X, at.Y, at.X + s.Width, at.Y + s.Height}
		if s.Width <= 0 || s.Height <= 0 {
			return
		}
		out := (!scrollX && (b.x0 < clip.x0-slack || b.x1 > clip.x1+slack)) ||
			(!scrollY && (b.y0 < clip.y0-slack || b.y1 > clip.y1+slack))
		if out {
			bad = append(bad, fmt.Sprintf("%s %s outside %s", describe(o), b, clip))
		}
		if title, ok := ui.TileTitle(o); ok {
			if b.x0 >= clip.x0-slack && b.x1 <= clip.x1+slack && b.y0 >= clip.y0-slack && b.y1 <= clip.y1+slack {
				shown[title]++
			}
		}
		if txt, ok := o.(*canvas.Text); ok && txt.Text != "" {
			if m := txt.MinSize(); m.Width > s.Width+slack {
				bad = append(bad, fmt.Sprintf("%s %s is cut: it needs %.0f wide", describe(o), b, m.Width))
			}
			if b.x0 < parent.x0-slack || b.x1 > parent.x1+slack || b.y0 < parent.y0-slack || b.y1 > parent.y1+slack {
				bad = append(bad, fmt.Sprintf("%s %s sticks out of what holds it (%s)", describe(o), b, parent))
			}
		}
		var children []fyne.CanvasObject
		switch c := o.(type) {
		case *fyne.Container:
			children = c.Objects
		case fyne.Widget:
			children = test.WidgetRenderer(c).Objects()
		}
		if sc, ok := o.(*container.Scroll); ok {
			clip = b
			scrollX = scrollX || sc.Direction == container.ScrollHorizontalOnly || sc.Direction == container.ScrollBoth
			scrollY = scrollY || sc.Direction == container.ScrollVerticalOnly || sc.Direction == container.ScrollBoth
		}
		for _, ch := range children {
			visit(ch, at, b, clip, scrollX, scrollY)
		}
	}
	// Objects are placed relative to their parent container or widget.
	visit(w.Content(), fyne.Position{}, win, win, false, false)
	want := map[string]int{}
	for _, title := range whole {
		want[title]++
	}
	for title, n := range want {
		if shown[title] < n {
			bad = append(bad, fmt.Sprintf("%d of %d tiles %q are whole on the screen", shown[title], n, title))
		}
	}
	if len(bad) > 10 {
		bad = append(bad[:10], fmt.Sprintf("and %d more", len(bad)-10))
	}
	for _, b := range bad {
		t.Errorf("%s at %vx%v: %s", name, size.Width, size.Height, b)
	}
}

// describe names an object for a failure: its type and its text.
func describe(o fyne.CanvasObject) string {
	text := ""
	switch v := o.(type) {
	case *canvas.Text:
		text = v.Text
	case *widget.RichText:
		text = v.String()
	case *widget.Label:
		text = v.Text
	}
	if title, ok := ui.TileTitle(o); ok {
		text = title
	}
	if text != "" {
		if r := []rune(text); len(r) > 60 {
			text = string(r[:60]) + "…"
		}
		return fmt.Sprintf("%T %q", o, strings.TrimSpace(text))
	}
	return fmt.Sprintf("%T", o)
}
