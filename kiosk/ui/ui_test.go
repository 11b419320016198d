package ui_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/internal/testenv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/kiosk/ui"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const wait = 10 * time.Second // bound on every wait; not a timing assertion

// The kiosk screen's size in the tests (a 10-inch 1280 x 800 touchscreen),
// and the simulator panel's width beside it.
const kioskW, kioskH, simW = 1280, 800, 360

// rig is the real controller on a simulated cabinet with a store on disk,
// shown by the UI on Fyne's test driver. The controller's clock is manual,
// so deadlines, due times and alarm times are the same on every run.
type rig struct {
	t     *testing.T
	db    *store.DB
	cab   *simulator.Cabinet
	c     *kiosk.Controller
	clock *hardwaretest.Clock
	u     *ui.UI
	w     fyne.Window
}

// testConfig is storetest.Config with PINs and a short scan cool-down.
func testConfig(t *testing.T) *keycab.Config {
	cfg := storetest.Config(1)
	pin, err := passhash.Hash("2468", passhash.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Members {
		cfg.Members[i].PINHash = pin
	}
	cfg.Policy.ScanCoolDown = 200 * time.Millisecond
	return cfg
}

// newRig runs a kiosk on cfg with the simulator's badge reader and any
// further scanners.
func newRig(t *testing.T, cfg *keycab.Config, scanners ...kiosk.Scanner) *rig {
	t.Helper()
	return newRigSized(t, cfg, fyne.Size{}, scanners...)
}

// newRigSized is newRig with a window of size and no simulator panel
// (drive the cabinet through r.cab and present badges with r.present);
// a zero size is newRig's window with the panel.
func newRigSized(t *testing.T, cfg *keycab.Config, size fyne.Size, scanners ...kiosk.Scanner) *rig {
	t.Helper()
	return newRigTuned(t, cfg, size, nil, scanners...)
}

// newRigTuned is newRigSized with tune, when not nil, applied to the
// controller's config before it starts.
func newRigTuned(t *testing.T, cfg *keycab.Config, size fyne.Size, tune func(*kiosk.Config), scanners ...kiosk.Scanner) *rig {
	t.Helper()
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// Many flows in a row, faster than a person: the locks need no rest
	// after a release (lock.Lock.Rest, on the real clock, would refuse a
	// return's release that follows its take within a second).
	so := simulator.Options{Rest: -1}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, so)
	if err != nil {
		t.Fatal(err)
	}
	clock := hardwaretest.NewClock()
	kc := kiosk.Config{
		Store: db, Locks: cab.Locks, Scanners: append([]kiosk.Scanner{cab.Badges}, scanners...),
		Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States(), Buzzer: simulator.Buzzer,
		Clock: clock, ShowDone: 200 * time.Millisecond, // the buzzer sounds for 1.5 times ShowDone
	}
	if tune != nil {
		tune(&kc)
	}
	c, err := kiosk.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(wait):
			t.Error("controller did not stop")
		}
		cab.Close()
	})
	r := &rig{t: t, db: db, cab: cab, c: c, clock: clock}
	// The first idle screen the controller publishes (Seq 1 on): the one
	// it starts with carries no config yet, so no branding.
	r.awaitThat("idle with its config", func(s kiosk.Screen) bool { return s.State == kiosk.Idle && s.Seq > 0 })

	test.NewTempApp(t)
	if size.IsZero() {
		r.u = ui.NewManual(fyne.CurrentApp(), c, ui.Options{Simulator: cab, Title: "keycab test"}, clock.Now)
		r.w = r.u.Window()
		r.w.Resize(fyne.NewSize(kioskW+simW, kioskH))
	} else {
		r.u = ui.NewManual(fyne.CurrentApp(), c, ui.Options{Title: "keycab test"}, clock.Now)
		r.w = r.u.Window()
		r.w.Resize(size)
	}
	r.u.Sync()
	return r
}

// await waits until the controller shows state, then renders it.
func (r *rig) await(state kiosk.State) kiosk.Screen {
	r.t.Helper()
	return r.awaitThat(string(state), func(s kiosk.Screen) bool { return s.State == state })
}

// awaitThat waits until the controller's screen satisfies cond, then
// renders it.
func (r *rig) awaitThat(what string, cond func(kiosk.Screen) bool) kiosk.Screen {
	r.t.Helper()
	var s kiosk.Screen
	testenv.Eventually(r.t, wait, "screen "+what, func() bool {
		s = r.c.Screen()
		return cond(s)
	})
	if r.u != nil {
		r.u.Sync()
		if got := r.u.Shown(); got.Seq != s.Seq && !cond(got) {
			r.t.Fatalf("UI shows %s (seq %d), controller %s (seq %d)", got.State, got.Seq, s.State, s.Seq)
		}
	}
	return s
}

// objects lists everything drawn in the window, outermost first.
func (r *rig) objects() []fyne.CanvasObject {
	return test.LaidOutObjects(r.w.Canvas().Content())
}

// tap touches the kiosk's touch target showing text.
func (r *rig) tap(text string) {
	r.t.Helper()
	test.Tap(r.find(text))
}

func (r *rig) find(text string) fyne.Tappable {
	r.t.Helper()
	all := r.findAll(text)
	if len(all) == 0 {
		r.t.Fatalf("nothing to touch shows %q", text)
	}
	return all[len(all)-1]
}

// tapNth touches the nth (from 0) of the touch targets showing text, in
// reading order.
func (r *rig) tapNth(text string, n int) {
	r.t.Helper()
	all := r.findAll(text)
	if n >= len(all) {
		r.t.Fatalf("%d touch targets show %q, want a %dth", len(all), text, n+1)
	}
	test.Tap(all[n])
}

// findAll returns the kiosk's touch targets showing text, innermost ones
// only.
func (r *rig) findAll(text string) []fyne.Tappable {
	var found []fyne.Tappable
	for _, o := range r.objects() {
		switch o.(type) {
		case *widget.Button, *widget.Check, *widget.Entry:
			continue // the simulator panel's; see button, check and entry
		}
		tp, ok := o.(fyne.Tappable)
		if !ok || !o.Visible() {
			continue
		}
		for _, in := range test.LaidOutObjects(o) {
			if txt, ok := in.(*canvas.Text); ok && txt.Text == text {
				found = append(found, tp)
				break
			}
		}
	}
	return found
}

// shows reports whether any text on the window contains s.
func (r *rig) shows(s string) bool {
	for _, o := range r.objects() {
		if txt, ok := o.(*canvas.Text); ok && strings.Contains(txt.Text, s) {
			return true
		}
		if rt, ok := o.(*widget.RichText); ok && strings.Contains(rt.String(), s) {
			return true
		}
	}
	return false
}

// button returns the simulator panel's nth (from 0) button labelled text.
func (r *rig) button(text string, nth int) *widget.Button {
	r.t.Helper()
	for _, o := range r.objects() {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			if nth == 0 {
				return b
			}
			nth--
		}
	}
	r.t.Fatalf("no button %q", text)
	return nil
}

func (r *rig) check(text string) *widget.Check {
	r.t.Helper()
	for _, o := range r.objects() {
		if c, ok := o.(*widget.Check); ok && c.Text == text {
			return c
		}
	}
	r.t.Fatalf("no check box %q", text)
	return nil
}

func (r *rig) entry(placeholder string) *widget.Entry {
	r.t.Helper()
	for _, o := range r.objects() {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder == placeholder {
			return e
		}
	}
	r.t.Fatalf("no entry %q", placeholder)
	return nil
}

// badge presents a badge code at the simulator panel's reader, after the
// controller's scan cool-down has passed on its clock.
func (r *rig) badge(code string) {
	r.t.Helper()
	r.clock.Advance(time.Second)
	e := r.entry("badge code")
	e.SetText("")
	test.Type(e, code)
	test.Tap(r.button("Present", 0))
}

// typeKeys types text on the on-screen keyboard.
func (r *rig) typeKeys(text string) {
	r.t.Helper()
	for _, ch := range text {
		key := string(ch)
		if key == " " {
			r.tap("Space")
			continue
		}
		if !r.has(key) {
			r.tap("Shift")
		}
		r.tap(key)
	}
}

// has reports whether a touch target shows text.
func (r *rig) has(text string) bool {
	for _, o := range r.objects() {
		if _, ok := o.(fyne.Tappable); !ok {
			continue
		}
		for _, in := range test.LaidOutObjects(o) {
			if txt, ok := in.(*canvas.Text); ok && txt.Text == text {
				return true
			}
		}
	}
	return false
}

// golden compares the window with testdata/name.xml (markup of the kiosk
// screen and the simulator panel) and, with image set, the kiosk screen
// with testdata/name.png; -update rewrites them. The simulator panel shows
// live lock outputs, so golden first waits for the alarm buzzer to stop.
func (r *rig) golden(name string, withImage bool) {
	r.t.Helper()
	testenv.Eventually(r.t, wait, "buzzer off", func() bool { return !r.cab.Released(simulator.Buzzer) })
	r.u.Sync()
	c := r.w.Canvas()
	if m := r.w.Content().MinSize(); m.Width > kioskW+simW || m.Height > kioskH {
		r.t.Errorf("%s: the window needs %v, more than the %vx%v screen", name, m, kioskW+simW, kioskH)
	}
	if *update {
		write(r.t, filepath.Join("testdata", name+".xml"), []byte(test.RenderToMarkup(c)))
	} else {
		test.AssertRendersToMarkup(r.t, name+".xml", c)
	}
	if !withImage {
		return
	}
	// Only the kiosk screen: the software painter draws the simulator
	// panel's theme override with the kiosk's text sizes.
	img := image.NewNRGBA(image.Rect(0, 0, kioskW, kioskH))
	draw.Draw(img, img.Bounds(), c.Capture(), image.Point{}, draw.Src)
	if *update {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			r.t.Fatal(err)
		}
		write(r.t, filepath.Join("testdata", name+".png"), buf.Bytes())
		return
	}
	test.AssertImageMatches(r.t, name+".png", img)
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// events returns the log's entries of one kind.
func (r *rig) events(kind keycab.EventKind) []*audit.Event {
	r.t.Helper()
	var out []*audit.Event
	err := r.db.Scan(context.Background(), 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			return err
		}
		if ev.Kind == kind {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) keysOut() []keycab.Checkout { return storetest.MustKeysOut(r.t, r.db) }

func (r *rig) verify() { storetest.MustVerify(r.t, r.db) }

// finish waits out the Done or Message screen on the controller's clock.
func (r *rig) finish() {
	r.t.Helper()
	r.clock.Advance(3 * time.Second)
	r.await(kiosk.Idle)
}

func TestTake(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.golden("idle", true)

	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if m.Member == nil || m.Member.ID != "m-ben" {
		t.Fatalf("menu for %+v", m.Member)
	}
	r.golden("take/menu", true)
	if r.has("Admin") { // Ben is staff: the button is Ana's (TestAdmin taps it)
		t.Fatal("a staff member's menu offers Admin")
	}

	r.tap("1 High St")
	r.await(kiosk.Reason)
	r.tap("Viewing")
	r.typeKeys("Dana Buyer")
	r.tap("Anything to add?")
	r.typeKeys("back by 5")
	r.golden("take/reason", true)

	r.tap("Continue")
	r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") || r.cab.Released("L2") {
		t.Fatalf("after Continue: L1 %v, L2 %v", r.cab.Released("L1"), r.cab.Released("L2"))
	}
	r.u.Sync() // the simulator panel shows L1 released
	r.golden("take/unlocking", true)

	test.Tap(r.button("Take", 0)) // slot 1, from the simulator panel
	r.await(kiosk.Done)
	r.golden("take/done", true)

	out := r.keysOut()
	if len(out) != 1 || out[0].KeySetID != "ks-1" || out[0].MemberID != "m-ben" || out[0].Reason != "viewing" ||
		out[0].Recipient != "Dana Buyer" || out[0].Notes != "back by 5" || out[0].Slot != 1 {
		t.Fatalf("custody %+v", out)
	}
	taken := r.events(keycab.EventKeyTaken)
	if len(taken) != 1 || taken[0].Actor != "m-ben" || taken[0].KeySet != "ks-1" || taken[0].Reason != "viewing" {
		t.Fatalf("key.taken events %+v", taken)
	}
	testenv.Eventually(t, wait, "slot 1 secured", func() bool { return !r.cab.Released("L1") })
	r.finish()
	r.verify()
}

// take takes keySet from slot through the controller for the member
// whose badge was just presented, with reason, and ends the session.
func (r *rig) take(keySet, reason string, slot int) {
	r.t.Helper()
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseTake{KeySetID: keySet})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: reason})
	r.await(kiosk.Unlocking)
	if err := r.cab.TakeKey(slot, false); err != nil {
		r.t.Fatal(err)
	}
	r.await(kiosk.Done)
	r.finish()
}

func TestReturn(t *testing.T) {
	r := newRig(t, testConfig(t))
	// Ben takes 1 High St through the controller; the UI then returns it.
	r.badge("BADGE-BEN")
	r.take("ks-1", "inspection", 1)

	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if len(m.Return) != 1 || m.Return[0].KeySet.ID != "ks-1" {
		t.Fatalf("return list %+v", m.Return)
	}
	r.golden("return/menu", true)
	r.tap("1 High St")
	s := r.await(kiosk.Unlocking)
	if !strings.HasPrefix(s.Title, "Put back") || !r.cab.Released("L1") {
		t.Fatalf("return screen %q, L1 released %v", s.Title, r.cab.Released("L1"))
	}
	test.Tap(r.button("Put", 0))
	r.await(kiosk.Done)
	r.golden("return/done", false)
	if out := r.keysOut(); len(out) != 0 {
		t.Fatalf("custody after the return %+v", out)
	}
	ret := r.events(keycab.EventKeyReturned)
	if len(ret) != 1 || ret[0].KeySet != "ks-1" || ret[0].Actor != "m-ben" || ret[0].Detail["wrong_slot"] != "" {
		t.Fatalf("key.returned events %+v", ret)
	}
	r.finish()
	r.verify()
}

func TestAdmin(t *testing.T) {
	r := newRig(t, testConfig(t))
	test.Tap(r.check("Tamper"))
	r.awaitThat("tamper alarm", func(s kiosk.Screen) bool { return len(s.Alarms) == 1 })
	r.golden("admin/alarm-banner", true)

	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN) // admins always give their PIN
	for _, d := range "1111" {
		r.tap(string(d))
	}
	r.golden("admin/pin-typed", true)
	r.tap("OK")
	r.awaitThat("wrong PIN", func(s kiosk.Screen) bool { return strings.Contains(s.Message, "Wrong PIN") })
	r.golden("admin/pin-wrong", false)
	for _, d := range "2468" {
		r.tap(string(d))
	}
	r.tap("OK")
	r.await(kiosk.Menu)
	r.tap("Admin")
	a := r.await(kiosk.Admin)
	if a.Admin == nil || len(a.Admin.Slots) != 3 {
		t.Fatalf("admin view %+v", a.Admin)
	}
	r.golden("admin/slots", true)

	r.tap("L2")
	testenv.Eventually(t, wait, "L2 pulsed", func() bool { return r.cab.Released("L2") })
	testenv.Eventually(t, wait, "L2 locked again after its pulse", func() bool { return !r.cab.Released("L2") })
	r.awaitThat("pulse reported", func(s kiosk.Screen) bool { return s.Message == "Lock L2 pulsed." })
	if p := r.events(keycab.EventLockPulsed); len(p) != 1 || p[0].Actor != "m-ana" || p[0].Detail["lock"] != "L2" {
		t.Fatalf("lock.pulsed events %+v", p)
	}

	r.tap("Clear…")
	r.typeKeys("Cover refitted")
	r.golden("admin/clear-note", true)
	r.tap("Clear alarm")
	r.awaitThat("alarm cleared", func(s kiosk.Screen) bool { return len(s.Alarms) == 0 && s.State == kiosk.Admin })
	r.golden("admin/cleared", false)
	cl := r.events(keycab.EventAlarmCleared)
	if len(cl) != 1 || cl[0].Actor != "m-ana" || cl[0].Detail["alarm"] != keycab.AlarmTamper || len(cl[0].Notes) != 32 {
		t.Fatalf("alarm.cleared events %+v", cl)
	}
	// Enrol a new QR label for slot 2's key set, shown at the simulated camera.
	r.tapNth("New label", 1)
	r.awaitThat("enrolling", func(s kiosk.Screen) bool { return strings.HasPrefix(s.Message, "Show the new label for 2 High St") })
	r.golden("admin/enrol", false)
	test.Type(r.entry("QR text"), "qr-new-label-2")
	test.Tap(r.button("Show", 0))
	r.awaitThat("enrolled", func(s kiosk.Screen) bool { return s.Message == "Label enrolled for 2 High St." })
	ch := r.events(keycab.EventAdminChange)
	if len(ch) != 1 || ch[0].Actor != "m-ana" || ch[0].KeySet != "ks-2" || ch[0].Detail["change"] != "token.enrolled" ||
		ch[0].Detail["token_hash"] != fmt.Sprintf("%x", keycab.TokenHash("qr-new-label-2")) {
		t.Fatalf("admin.change events %+v", ch)
	}

	// Link a new badge to Cara on the People tab.
	r.tap("People")
	r.tapNth("Link badge", 2) // Ana, Ben, Cara
	r.awaitThat("linking", func(s kiosk.Screen) bool { return strings.Contains(s.Message, "Cara's new badge") })
	r.badge("BADGE-CARA-NEW")
	r.awaitThat("linked", func(s kiosk.Screen) bool { return s.Message == "Badge linked to Cara Contractor." })
	if ch := r.events(keycab.EventAdminChange); len(ch) != 2 || ch[1].Detail["change"] != "badge.linked" || ch[1].Detail["member"] != "m-cara" {
		t.Fatalf("admin.change events %+v", ch)
	}

	// The local history, filtered.
	r.tap("History")
	if !r.shows("Admin change  ·  Ana Admin  ·  2 High St") || !r.shows("Lock test  ·  Ana Admin") {
		t.Fatal("history lacks the enrolment or the lock test")
	}
	r.tap("Alarms")
	if !r.shows("Alarm: "+keycab.AlarmTitle(keycab.AlarmTamper)) || r.shows("Lock test") {
		t.Fatal("the Alarms filter shows other entries, or no alarm")
	}

	r.tap("Exit admin")
	r.await(kiosk.Message)
	r.finish()
	r.verify()
}

func TestSecondPersonAndCancel(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.tap("Plant room")
	r.await(kiosk.Second)
	r.golden("second", true)
	r.tap("Cancel")
	s := r.await(kiosk.Message)
	if s.Title != "Cancelled" || r.cab.Released("L3") || len(r.keysOut()) != 0 {
		t.Fatalf("after Cancel: %q, L3 released %v, custody %+v", s.Title, r.cab.Released("L3"), r.keysOut())
	}
	r.golden("message", true)
}

func TestEmergency(t *testing.T) {
	r := newRig(t, testConfig(t))
	test.Tap(r.check("Emergency"))
	r.await(kiosk.Emergency)
	testenv.Eventually(t, wait, "every lock released", func() bool {
		return r.cab.Released("DOOR_LOCK") && r.cab.Released("L1") && r.cab.Released("L3")
	})
	r.u.Sync()
	r.golden("emergency", true)
	test.Tap(r.check("Emergency"))
	r.await(kiosk.Idle)
	if len(r.events(keycab.EventEmergency)) != 1 || len(r.events(keycab.EventEmergencyOff)) != 1 {
		t.Fatal("emergency not logged")
	}
}

func TestOpenShelfTakeByQR(t *testing.T) {
	cfg := testConfig(t)
	cfg.Cabinet.Kind = keycab.OpenShelf
	for i := range cfg.Slots {
		cfg.Slots[i].Lock, cfg.Slots[i].Sensor = "", ""
	}
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.tap("2 High St")
	r.await(kiosk.Reason)
	r.tap("Inspection")
	r.tap("Continue")
	r.await(kiosk.Confirming)
	r.golden("confirming", true)
	test.Type(r.entry("QR text"), "qr-token-2")
	test.Tap(r.button("Show", 0))
	r.await(kiosk.Done)
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-2" || out[0].Reason != "inspection" {
		t.Fatalf("custody %+v", out)
	}
}

func TestBranding(t *testing.T) {
	cfg := storetest.Config(1)
	r := newRig(t, cfg)
	if initials, logo := r.u.BrandMark(); initials != "TL" || logo {
		t.Fatalf("without branding: mark %q logo %v", initials, logo)
	}

	cfg = storetest.Config(1)
	var logoPNG bytes.Buffer
	if err := qrlabel.WritePNG(&logoPNG, "logo", 2); err != nil {
		t.Fatal(err)
	}
	cfg.Branding = keycab.Branding{Accent: "#1f7aff", Logo: logoPNG.Bytes()}
	r = newRig(t, cfg)
	if initials, logo := r.u.BrandMark(); initials != "" || !logo {
		t.Fatalf("with a logo: mark %q logo %v", initials, logo)
	}
	if r.u.Shown().Branding.Accent != "#1f7aff" {
		t.Fatalf("branding %+v", r.u.Shown().Branding)
	}
}

// TestDoorHeldWarning: the door-held pre-warning shows over the screen in
// the accent colour, and goes when the door closes.
func TestDoorHeldWarning(t *testing.T) {
	cfg := storetest.Config(1)
	cfg.Cabinet.DoorSensor = "DOOR"
	cfg.Policy.DoorHeld, cfg.Policy.DoorHeldWarning = time.Minute, 15*time.Second
	r := newRig(t, cfg)
	if err := r.cab.Door(true); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, "the door open at the controller", func() bool { return len(r.events(keycab.EventDoorOpened)) == 1 })
	r.clock.Advance(45 * time.Second)
	r.awaitThat("the pre-warning", func(s kiosk.Screen) bool { return s.Warning != "" })
	testenv.Eventually(t, wait, "the warning on screen", func() bool { return r.shows("the alarm sounds in 15 s.") })
	r.golden("door-warning", true)
	// It counts down with the clock.
	r.clock.Advance(5 * time.Second)
	testenv.Eventually(t, wait, "the countdown at 10 s", func() bool { r.u.Sync(); return r.shows("the alarm sounds in 10 s.") })
	if err := r.cab.Door(false); err != nil {
		t.Fatal(err)
	}
	r.awaitThat("the warning gone", func(s kiosk.Screen) bool { return s.Warning == "" })
	testenv.Eventually(t, wait, "the warning off the screen", func() bool { return !r.shows("the alarm sounds") })
}
