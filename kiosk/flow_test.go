package kiosk_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

const (
	// wait bounds every wait for another goroutine (the controller's, the
	// input watcher's); a passing test never reaches it, and it is not a
	// timing assertion: time in these tests is the rig's manual clock.
	wait     = 30 * time.Second
	coolDown = 200 * time.Millisecond
	// showDone is how long Done and Message screens stay, on the rig's
	// clock: longer than the cool-down, so that presenting a badge again
	// never ends one by the way.
	showDone = time.Second
)

// rig is a controller running on a simulated cabinet and a store on disk,
// on a manual clock (hardwaretest.Clock) that it and the locks share: time
// moves only when the test says so (advance, or badge waiting out the
// cool-down). The simulated inputs debounce on the system clock, so that a
// hand on the cabinet reaches the controller without moving the manual one.
//
// Every step a test takes through the rig returns once the controller has
// acted on it: an action once the loop has handled it, a badge once the
// controller has been handed it and handled it, a hand on the cabinet once
// its input's change has reached the controller and been handled. No test
// sleeps, and none polls.
type rig struct {
	t        testing.TB
	clock    *hardwaretest.Clock
	shown    map[string]time.Time // when each code was last presented, on clock
	cool     time.Duration        // the config's scan cool-down
	showDone time.Duration        // the controller's ShowDone
	db       *store.DB
	cab      *simulator.Cabinet
	c        *kiosk.Controller
	stop     func()

	screens   <-chan kiosk.Screen // a wake-up on each new screen
	reads     *feed[struct{}]     // Reads of the badge reader the controller began
	presented int                 // codes presented to the badge reader
	inputs    *feed[input.Event]  // input changes the controller has taken
	taken     int                 // of inputs, how many the test has looked at
}

// A feed is what another goroutine saw, item by item, for a test to wait on.
type feed[T any] struct {
	mu   sync.Mutex
	seen []T
	more chan struct{} // closed and replaced on each add
}

func newFeed[T any]() *feed[T] { return &feed[T]{more: make(chan struct{})} }

func (f *feed[T]) add(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, v)
	close(f.more)
	f.more = make(chan struct{})
}

// await returns the feed once it holds at least n items.
func (f *feed[T]) await(tb testing.TB, what string, n int) []T {
	tb.Helper()
	bound := time.NewTimer(wait)
	defer bound.Stop()
	for {
		f.mu.Lock()
		seen, more := f.seen, f.more
		f.mu.Unlock()
		if len(seen) >= n {
			return seen
		}
		select {
		case <-more:
		case <-bound.C:
			tb.Fatalf("%s: not seen after %v", what, wait)
		}
	}
}

// countedReader is the simulated badge reader, noting each Read the
// controller begins: when it begins Read n+1, it has been handed n codes.
type countedReader struct {
	*sim.Badges
	reads *feed[struct{}]
}

func (r countedReader) Read(ctx context.Context) (badge.Badge, error) {
	r.reads.add(struct{}{})
	return r.Badges.Read(ctx)
}

// testConfig is storetest.Config with PINs and a door lock.
func testConfig(t testing.TB) *keycab.Config {
	cfg := storetest.Config(1)
	pin, err := passhash.Hash("2468", passhash.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Members {
		cfg.Members[i].PINHash = pin
	}
	cfg.Cabinet.DoorLock, cfg.Cabinet.DoorSensor = "DOOR_LOCK", "DOOR"
	cfg.Policy.ScanCoolDown = coolDown
	cfg.Badges = append(cfg.Badges, keycab.Badge{Hash: keycab.BadgeHash(cfg.BadgeSalt, "BADGE-CARA"), MemberID: "m-cara", Kind: keycab.BadgeRFID})
	return cfg
}

// rigStart is where the rig's clock starts (every hardwaretest.Clock
// starts at the same instant), for configs with times relative to it.
func rigStart() time.Time { return hardwaretest.NewClock().Now() }

func newRig(t testing.TB, cfg *keycab.Config, tune ...func(*kiosk.Config)) *rig {
	t.Helper()
	return newRigWith(t, cfg, simulator.Options{}, tune...)
}

func newRigWith(t testing.TB, cfg *keycab.Config, so simulator.Options, tune ...func(*kiosk.Config)) *rig {
	t.Helper()
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	clock := hardwaretest.NewClock()
	so.Clock = clock
	if so.InputClock == nil {
		so.InputClock = hardware.SystemClock{}
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, so)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clock: clock, db: db, cab: cab, shown: map[string]time.Time{}, cool: cfg.Policy.ScanCoolDown,
		reads: newFeed[struct{}](), inputs: newFeed[input.Event]()}
	// The badge reader comes first in the simulator's scanners; the camera
	// (Options.Camera) after it.
	scanners := append([]kiosk.Scanner{countedReader{cab.Badges, r.reads}}, cab.Scanners()[1:]...)
	sensors := make(chan input.Event) // unbuffered: sent is taken
	kc := kiosk.Config{
		Store: db, Locks: cab.Locks, Scanners: scanners, Clock: clock,
		Sensors: sensors, Initial: cab.Inputs.States(), Buzzer: simulator.Buzzer,
		ShowDone: showDone,
	}
	for _, f := range tune {
		f(&kc)
	}
	r.showDone = kc.ShowDone
	c, err := kiosk.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	r.screens = c.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			var ev input.Event
			select {
			case ev = <-cab.Inputs.Events():
			case <-ctx.Done():
				return
			}
			select {
			case sensors <- ev:
				r.inputs.add(ev)
			case <-ctx.Done():
				return
			}
		}
	}()
	var stop func()
	var once sync.Once
	r.stop = func() { once.Do(stop) }
	stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(wait):
			t.Error("controller did not stop")
		}
		<-forwarded
		cab.Close()
	}
	t.Cleanup(r.stop)
	r.flush()
	r.await(kiosk.Idle)
	return r
}

// flush is Controller.Flush, bounded by wait: a controller stuck in an
// action fails the test instead of hanging it.
func (r *rig) flush() {
	r.t.Helper()
	done := make(chan struct{})
	go func() {
		r.c.Flush()
		close(done)
	}()
	bound := time.NewTimer(wait)
	defer bound.Stop()
	select {
	case <-done:
	case <-bound.C:
		r.t.Fatalf("the controller did not come round to a flush within %v; the screen is %+v", wait, r.c.Screen())
	}
}

// advance moves the clock on by d and returns once the controller has
// handled the timers that fired.
func (r *rig) advance(d time.Duration) {
	r.clock.Advance(d)
	r.flush()
}

// do hands the controller a touchscreen action and returns once it has
// acted on it.
func (r *rig) do(a any) {
	r.c.Do(a)
	r.flush()
}

// present hands a code to the badge reader and returns once the
// controller has been handed it and has acted on it.
func (r *rig) present(code, source string) {
	r.t.Helper()
	r.cab.Badges.Present(code, source)
	r.presented++
	r.reads.await(r.t, "code "+code+" handed to the controller", r.presented+1)
	r.flush()
}

// badge presents a badge as a person would: a second presentation of the
// same badge comes once the scan cool-down has passed on the clock
// (TestCoolDown tests inside it).
func (r *rig) badge(code string) {
	r.t.Helper()
	if last, ok := r.shown[code]; ok {
		if d := last.Add(r.cool).Sub(r.clock.Now()); d > 0 {
			r.advance(d)
		}
	}
	r.shown[code] = r.clock.Now()
	r.present(code, "sim")
}

// showQR shows a QR code to the camera. Without a simulated camera it
// returns once the controller has acted on the code; with one, the test
// awaits what the code leads to.
func (r *rig) showQR(text string) {
	r.t.Helper()
	if r.cab.Camera != nil {
		r.cab.ShowQR(text)
		return
	}
	r.present(text, "qr")
}

// sensed returns once the change of the named input to active has reached
// the controller and been handled.
func (r *rig) sensed(name string, active bool) {
	r.t.Helper()
	for {
		seen := r.inputs.await(r.t, fmt.Sprintf("input %s active=%v", name, active), r.taken+1)
		ev := seen[r.taken]
		r.taken++
		if ev.Input == name && ev.Active == active {
			break
		}
	}
	r.flush()
}

// takeKey takes the key out of slot n (simulator.Cabinet.TakeKey) and
// returns once the controller has acted on its sensor.
func (r *rig) takeKey(n int, force bool) error {
	r.t.Helper()
	if err := r.cab.TakeKey(n, force); err != nil {
		return err
	}
	r.sensed(fmt.Sprintf("slot%d", n), false)
	return nil
}

// putKey puts a key into slot n and returns once the controller has acted
// on its sensor.
func (r *rig) putKey(n int) {
	r.t.Helper()
	if err := r.cab.PutKey(n); err != nil {
		r.t.Fatal(err)
	}
	r.sensed(fmt.Sprintf("slot%d", n), true)
}

// door opens or closes the door and returns once the controller has acted
// on it.
func (r *rig) door(open bool) {
	r.t.Helper()
	if err := r.cab.Door(open); err != nil {
		r.t.Fatal(err)
	}
	r.sensed("door", open)
}

// tamper sets the tamper input; emergency the fire panel's.
func (r *rig) tamper(on bool) {
	r.t.Helper()
	if err := r.cab.Tamper(on); err != nil {
		r.t.Fatal(err)
	}
	r.sensed("tamper", on)
}

func (r *rig) emergency(on bool) {
	r.t.Helper()
	if err := r.cab.Emergency(on); err != nil {
		r.t.Fatal(err)
	}
	r.sensed("emergency", on)
}

// await waits until the screen is in state, and returns it. After the
// rig's own steps the screen is there already; await waits only for what
// the simulated camera starts.
func (r *rig) await(state kiosk.State) kiosk.Screen {
	r.t.Helper()
	return r.awaitScreen("screen "+string(state), func(s kiosk.Screen) bool { return s.State == state })
}

// awaitScreen waits until the screen satisfies cond, waking on each new
// screen the controller publishes, and returns it.
func (r *rig) awaitScreen(what string, cond func(kiosk.Screen) bool) kiosk.Screen {
	r.t.Helper()
	bound := time.NewTimer(wait)
	defer bound.Stop()
	for {
		s := r.c.Screen() // the newest: a wake-up may carry an older one
		if cond(s) {
			return s
		}
		select {
		case <-r.screens:
		case <-bound.C:
			r.t.Fatalf("%s: not shown after %v; the screen is %+v", what, wait, s)
		}
	}
}

// toIdle lets a Done or Message screen run its time out and returns the
// idle screen.
// openAdmin signs Ana, the rig's admin, in with her badge and PIN and
// opens the admin screen.
func (r *rig) openAdmin() kiosk.Screen {
	r.t.Helper()
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.do(kiosk.OpenAdmin{})
	return r.await(kiosk.Admin)
}

func (r *rig) toIdle() kiosk.Screen {
	r.t.Helper()
	r.advance(r.showDone)
	return r.await(kiosk.Idle)
}

// kinds returns the kinds of the log's entries from index from on.
func (r *rig) kinds(from int64) []keycab.EventKind {
	r.t.Helper()
	var out []keycab.EventKind
	r.db.Scan(context.Background(), from, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, ev.Kind)
		return nil
	})
	return out
}

// events returns the decoded entries of one kind.
func (r *rig) events(kind keycab.EventKind) []*audit.Event {
	r.t.Helper()
	var out []*audit.Event
	r.db.Scan(context.Background(), 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			r.t.Fatal(err)
		}
		if ev.Kind == kind {
			out = append(out, ev)
		}
		return nil
	})
	return out
}

func (r *rig) alarm(kind string) bool {
	for _, a := range r.events(keycab.EventAlarmRaised) {
		if a.Detail["alarm"] == kind {
			return true
		}
	}
	return false
}

func (r *rig) keysOut() []keycab.Checkout { return storetest.MustKeysOut(r.t, r.db) }

func (r *rig) verify() { storetest.MustVerify(r.t, r.db) }

func has(cs []kiosk.Choice, id string) bool {
	for _, c := range cs {
		if c.KeySet.ID == id {
			return true
		}
	}
	return false
}

// take runs the take flow for a staff member with no PIN and no second.
func (r *rig) take(badge, keySet string, slot int) {
	r.t.Helper()
	r.badge(badge)
	m := r.await(kiosk.Menu)
	if !has(m.Take, keySet) {
		r.t.Fatalf("menu does not offer %s: %+v", keySet, m.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: keySet})
	r.await(kiosk.Reason)
	r.giveReasonAndTake(kiosk.GiveReason{Reason: "viewing", Recipient: "Dana Buyer"}, slot)
}

// giveReasonAndTake answers the reason screen, and takes the key from
// the slot it opens.
func (r *rig) giveReasonAndTake(reason kiosk.GiveReason, slot int) {
	r.t.Helper()
	r.do(reason)
	r.await(kiosk.Unlocking)
	if err := r.takeKey(slot, false); err != nil {
		r.t.Fatal(err)
	}
	r.await(kiosk.Done)
}

func TestTakeAndReturn(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if m.Member == nil || m.Member.ID != "m-ben" || !has(m.Take, "ks-1") || !has(m.Take, "ks-3") || len(m.Return) != 0 {
		t.Fatalf("menu %+v", m)
	}
	if r.cab.Released("L1") {
		t.Fatal("slot 1 released before a choice")
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	r.do(kiosk.GiveReason{Reason: "viewing", Recipient: "Dana Buyer", Notes: "back by 5"})
	s := r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") || !r.cab.PinHigh("L1") || !r.cab.Released("DOOR_LOCK") || r.cab.Released("L2") {
		t.Fatalf("after choosing ks-1: L1 %v DOOR %v L2 %v", r.cab.Released("L1"), r.cab.Released("DOOR_LOCK"), r.cab.Released("L2"))
	}
	if !strings.Contains(s.Message, "Slot 1 is open: take the key out") || s.Returning {
		t.Fatalf("unlocking screen %+v", s)
	}
	if err := r.takeKey(1, false); err != nil {
		t.Fatal(err)
	}
	d := r.await(kiosk.Done)
	if !strings.Contains(d.Title, "1 High St") {
		t.Fatalf("done screen %+v", d)
	}
	if r.cab.Released("L1") || r.cab.PinHigh("L1") {
		t.Fatal("slot 1 not secured once the key was taken")
	}
	out := r.keysOut()
	if len(out) != 1 || out[0].KeySetID != "ks-1" || out[0].MemberID != "m-ben" || out[0].Reason != "viewing" || out[0].Recipient != "Dana Buyer" || out[0].Slot != 1 {
		t.Fatalf("custody %+v", out)
	}

	r.toIdle()
	// Someone else sees it greyed, saying who has it, not gone.
	r.clock.Advance(time.Second) // past the scan cool-down
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN) // admins sign in with their PIN
	r.do(kiosk.PIN{Digits: "2468"})
	if o := r.await(kiosk.Menu); has(o.Take, "ks-1") || len(o.Unavailable) == 0 || o.Unavailable[0].KeySet.ID != "ks-1" ||
		!strings.Contains(o.Unavailable[0].Note, "out with B. Staff since") {
		t.Fatalf("another member's menu after the take: %+v", o)
	}
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.clock.Advance(time.Second)
	r.badge("BADGE-BEN")
	m = r.await(kiosk.Menu)
	if !has(m.Return, "ks-1") || has(m.Take, "ks-1") || len(m.Unavailable) != 0 {
		t.Fatalf("menu after take %+v", m)
	}
	r.do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	if u := r.await(kiosk.Unlocking); !u.Returning || !strings.Contains(u.Message, "put the key in") {
		t.Fatalf("a return's unlocking screen %+v", u)
	}
	if !r.cab.Released("L1") {
		t.Fatal("slot 1 not released for the return")
	}
	r.putKey(1)
	if d := r.await(kiosk.Done); !d.Returning {
		t.Fatalf("a return's done screen %+v", d)
	}
	if len(r.keysOut()) != 0 {
		t.Fatalf("custody after return %+v", r.keysOut())
	}
	ret := r.events(keycab.EventKeyReturned)
	if len(ret) != 1 || ret[0].KeySet != "ks-1" || ret[0].Actor != "m-ben" || ret[0].Detail["wrong_slot"] != "" {
		t.Fatalf("return events %+v", ret)
	}
	taken := r.events(keycab.EventKeyTaken)
	if len(taken) != 1 || taken[0].Reason != "viewing" || len(taken[0].Recipient) != 32 || taken[0].Due == 0 {
		t.Fatalf("take events %+v", taken)
	}
	r.verify()
}

func TestWrongSlotReturn(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.take("BADGE-BEN", "ks-2", 2)
	r.toIdle()
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	r.await(kiosk.Unlocking)
	r.putKey(2) // into ks-2's empty slot, not its own slot 1
	// Its own screen, not the green "Returned" one under the alarm.
	d := r.await(kiosk.WrongSlot)
	if d.Title != "Wrong slot: 1 High St" || d.Slot != 2 || !strings.Contains(d.Message, "slot 2, not its own slot 1") {
		t.Fatalf("wrong-slot screen %+v", d)
	}
	ret := r.events(keycab.EventKeyReturned)
	if len(ret) != 1 || ret[0].Slot != 2 || ret[0].Detail["wrong_slot"] != "true" {
		t.Fatalf("return %+v", ret)
	}
	if !r.alarm(keycab.AlarmWrongSlot) || len(d.Alarms) == 0 || d.Alarms[0].Kind != keycab.AlarmWrongSlot {
		t.Fatalf("no wrong-slot alarm; screen alarms %+v", d.Alarms)
	}
	// The alarm's entry says which key and which slot, for HQ's alarm list.
	if a := r.events(keycab.EventAlarmRaised); len(a) != 1 || a[0].KeySet != "ks-1" || a[0].Slot != 2 {
		t.Fatalf("wrong-slot alarm entries %+v", a)
	}
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-2" {
		t.Fatalf("custody %+v", out)
	}
	r.verify()
}

func TestOpenShelfByQR(t *testing.T) {
	cfg := testConfig(t)
	cfg.Cabinet.Kind = keycab.OpenShelf
	for i := range cfg.Slots {
		cfg.Slots[i].Lock, cfg.Slots[i].Sensor = "", ""
	}
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
	r.await(kiosk.Reason)
	r.do(kiosk.GiveReason{Reason: "inspection"})
	r.await(kiosk.Confirming)
	if !r.cab.Released("DOOR_LOCK") {
		t.Fatal("door not released")
	}
	r.door(true)
	r.showQR("qr-token-1") // the wrong fob: ignored
	if s := r.c.Screen(); s.State != kiosk.Confirming {
		t.Fatalf("after the wrong fob: %+v", s)
	}
	r.showQR("qr-token-2")
	r.await(kiosk.Done)
	r.showQR("qr-token-2") // the same label again, within the cool-down
	r.door(false)
	if r.cab.Released("DOOR_LOCK") {
		t.Fatal("door not secured after the take")
	}
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-2" || out[0].Slot != 0 {
		t.Fatalf("custody %+v", out)
	}
	if n := len(r.events(keycab.EventKeyReturned)); n != 0 {
		t.Fatalf("the label shown again within the cool-down returned the key: %v", r.kinds(0))
	}
	r.toIdle()
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseReturn{KeySetID: "ks-2"})
	r.await(kiosk.Confirming)
	r.showQR("qr-token-2")
	r.await(kiosk.Done)
	if len(r.keysOut()) != 0 || len(r.events(keycab.EventKeyTaken)) != 1 || len(r.events(keycab.EventKeyReturned)) != 1 {
		t.Fatalf("custody %+v, log %v", r.keysOut(), r.kinds(0))
	}
	if r.alarm(keycab.AlarmDoorForced) {
		t.Fatal("door forced alarm for a released door")
	}
	r.verify()
}

func TestDualRelease(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-3"})
	s := r.await(kiosk.Second)
	if !strings.Contains(s.Message, "Plant room") {
		t.Fatalf("second screen %+v", s)
	}
	r.badge("BADGE-BEN-AGAIN") // unknown: refused, logged
	r.badge("BADGE-ANA")
	p := r.await(kiosk.EnterPIN) // admins confirm with their PIN
	if !strings.HasPrefix(p.Title, "Ana") {
		t.Fatalf("PIN screen for %q", p.Title)
	}
	r.do(kiosk.PIN{Digits: "0000"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "Wrong PIN") {
		t.Fatalf("after a wrong PIN: %+v", s)
	}
	r.do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Reason)
	r.giveReasonAndTake(kiosk.GiveReason{Reason: "maintenance"}, 3)
	out := r.keysOut()
	if len(out) != 1 || out[0].MemberID != "m-ben" || out[0].SecondID != "m-ana" {
		t.Fatalf("custody %+v", out)
	}
	taken := r.events(keycab.EventKeyTaken)
	if len(taken) != 1 || taken[0].Second != "m-ana" {
		t.Fatalf("take %+v", taken)
	}
	fails := r.events(keycab.EventIdentifyFail)
	if len(fails) != 2 || fails[0].Detail["reason"] != "unknown badge" || fails[1].Detail["reason"] != "wrong PIN" || fails[1].Actor != "m-ana" {
		t.Fatalf("failed identifications %+v", fails)
	}
	r.verify()
}

func TestSecondMustBeSomeoneElse(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-3"})
	r.await(kiosk.Second)
	r.badge("BADGE-BEN") // after the cool-down: the taker cannot confirm their own release
	if s := r.c.Screen(); s.State != kiosk.Second || !strings.Contains(s.Message, "cannot be you") {
		t.Fatalf("own badge as the second: %+v", s)
	}
	r.do(kiosk.Cancel{})
	r.await(kiosk.Message)
	if r.cab.Released("L3") || len(r.keysOut()) != 0 {
		t.Fatal("cancelled dual release left something open or recorded")
	}
}

func TestContractorOutsideWindowRefused(t *testing.T) {
	cfg := testConfig(t)
	now := rigStart()
	cfg.Jobs = []keycab.Job{{ID: "j1", MemberID: "m-cara", KeySetIDs: []string{"ks-1"}, From: now.Add(2 * time.Hour), Until: now.Add(4 * time.Hour)},
		{ID: "j2", MemberID: "m-cara", KeySetIDs: []string{"ks-2"}, From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
	r := newRig(t, cfg)
	r.badge("BADGE-CARA")
	m := r.await(kiosk.Menu)
	if has(m.Take, "ks-1") || !has(m.Take, "ks-2") || has(m.Take, "ks-3") {
		t.Fatalf("contractor menu %+v", m.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"}) // not offered; a forged touch is refused with the reason
	if s := r.c.Screen(); !strings.Contains(s.Message, "not open now") {
		t.Fatalf("forged touch: %+v", s)
	}
	if r.cab.Released("L1") || len(r.keysOut()) != 0 {
		t.Fatal("contractor outside the window got the key")
	}
}

func TestReservedKeyRefused(t *testing.T) {
	cfg := testConfig(t)
	now := rigStart()
	cfg.Reservations = []keycab.Reservation{{ID: "r1", KeySetID: "ks-2", MemberID: "m-ana", From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if has(m.Take, "ks-2") {
		t.Fatal("reserved key offered")
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "reserved by A. Admin until") {
		t.Fatalf("reserved key chosen: %+v", s)
	}
	if r.cab.Released("L2") {
		t.Fatal("reserved slot released")
	}
}

func TestCoolDownOneScanOneAction(t *testing.T) {
	r := newRig(t, testConfig(t))
	// One held badge: three reads at once.
	r.present("BADGE-BEN", "sim")
	r.present("BADGE-BEN", "sim")
	r.present("BADGE-BEN", "sim")
	r.await(kiosk.Menu)
	if n := len(r.events(keycab.EventIdentified)); n != 1 {
		t.Fatalf("%d identifications from one held badge, want 1", n)
	}
	// Cancelled, and read again just inside the cool-down: the Message
	// screen stays (a badge counted there would start a session).
	r.do(kiosk.Cancel{})
	r.advance(coolDown - time.Nanosecond)
	r.present("BADGE-BEN", "sim")
	if s := r.c.Screen(); s.State != kiosk.Message || len(r.events(keycab.EventIdentified)) != 1 {
		t.Fatalf("a read inside the cool-down acted: %+v, log %v", s, r.kinds(0))
	}
	// Once the cool-down has passed the same badge counts again.
	r.advance(time.Nanosecond)
	r.present("BADGE-BEN", "sim")
	r.await(kiosk.Menu)
	if n := len(r.events(keycab.EventIdentified)); n != 2 {
		t.Fatalf("%d identifications after the cool-down, want 2", n)
	}
}

func TestDoorHeldAndForced(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.DoorHeld = 150 * time.Millisecond
	r := newRig(t, cfg)
	r.door(true) // locked: forced
	if !r.alarm(keycab.AlarmDoorForced) || len(r.c.Screen().Alarms) != 1 {
		t.Fatalf("door opened while locked: alarms %+v, log %v", r.c.Screen().Alarms, r.kinds(0))
	}
	r.advance(cfg.Policy.DoorHeld - time.Nanosecond)
	if r.alarm(keycab.AlarmDoorHeld) {
		t.Fatal("door held alarm before the door was held open that long")
	}
	r.advance(time.Nanosecond)
	if !r.alarm(keycab.AlarmDoorHeld) || len(r.c.Screen().Alarms) != 2 {
		t.Fatalf("door held open: alarms %+v, log %v", r.c.Screen().Alarms, r.kinds(0))
	}
	if !r.cab.PinHigh(simulator.BuzzerPin) {
		t.Fatal("buzzer silent")
	}
	r.door(false)
	if n := len(r.events(keycab.EventDoorClosed)); n != 1 {
		t.Fatalf("%d door closed entries", n)
	}
}

func TestRemovalWithoutSession(t *testing.T) {
	r := newRig(t, testConfig(t))
	if err := r.cab.TakeKey(2, false); err == nil {
		t.Fatal("a locked slot gave up its key")
	}
	if err := r.takeKey(2, true); err != nil { // yanked
		t.Fatal(err)
	}
	if !r.alarm(keycab.AlarmKeyRemoved) {
		t.Fatalf("no removal alarm: log %v", r.kinds(0))
	}
	if a := r.events(keycab.EventAlarmRaised); len(a) != 1 || a[0].KeySet != "ks-2" || a[0].Slot != 2 {
		t.Fatalf("removal alarm entries %+v: want key set ks-2, slot 2", a)
	}
	if len(r.keysOut()) != 0 {
		t.Fatal("a yanked key was recorded as taken")
	}
}

func TestTamper(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.tamper(true)
	if !r.alarm(keycab.AlarmTamper) {
		t.Fatalf("no tamper alarm: log %v", r.kinds(0))
	}
}

func TestEmergencyRelease(t *testing.T) {
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.UnlockFor = 300 * time.Millisecond })
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.emergency(true)
	r.await(kiosk.Emergency)
	all := []string{"DOOR_LOCK", "L1", "L2", "L3"}
	for _, l := range all {
		if !r.cab.Released(l) {
			t.Fatalf("%s not released by the emergency", l)
		}
	}
	// Held past a flow's release (UnlockFor): the emergency release lasts
	// until the input clears (TestOutputsNeverEnergisedPastMax holds it
	// past the locks' own limit).
	r.advance(600 * time.Millisecond)
	for _, l := range all {
		if !r.cab.Released(l) {
			t.Fatalf("%s relocked during the emergency", l)
		}
	}
	r.emergency(false)
	r.await(kiosk.Idle)
	for _, l := range all {
		if r.cab.Released(l) {
			t.Fatalf("%s still released after the emergency", l)
		}
	}
	if len(r.events(keycab.EventEmergency)) != 1 || len(r.events(keycab.EventEmergencyOff)) != 1 {
		t.Fatalf("log %v", r.kinds(0))
	}
	r.verify()
}

func TestWrongPINLockOut(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.MaxFailedPINs = 3
	r := newRig(t, cfg)
	r.badge("BADGE-ANA") // admin: PIN at once
	r.await(kiosk.EnterPIN)
	for i := 0; i < 3; i++ {
		r.do(kiosk.PIN{Digits: "1111"})
	}
	s := r.await(kiosk.Message)
	if s.Title != "Locked out" {
		t.Fatalf("after 3 wrong PINs: %+v", s)
	}
	if len(r.events(keycab.EventLockedOut)) != 1 || len(r.events(keycab.EventIdentifyFail)) != 3 {
		t.Fatalf("log %v", r.kinds(0))
	}
	r.toIdle()
	r.badge("BADGE-ANA")
	if s := r.await(kiosk.Message); s.Title != "Locked out" {
		t.Fatalf("locked-out badge: %+v", s)
	}
}

func TestAdminClearsAlarmAndPulses(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.tamper(true)
	if n := len(r.c.Screen().Alarms); n != 1 {
		t.Fatalf("%d alarms shown after tamper", n)
	}
	id := r.c.Screen().Alarms[0].ID
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.OpenAdmin{})
	if s := r.c.Screen(); s.Title != "Administrators only" {
		t.Fatalf("staff opening admin: %+v", s)
	}
	r.do(kiosk.Cancel{})
	r.toIdle()
	a := r.openAdmin()
	if a.Admin == nil || len(a.Admin.Slots) != 3 || !a.Admin.Slots[0].Present || a.Admin.Slots[0].KeySet != "1 High St" {
		t.Fatalf("admin view %+v", a.Admin)
	}
	r.do(kiosk.ClearAlarm{ID: id}) // no note: refused
	if s := r.c.Screen(); !strings.Contains(s.Message, "needs a note") {
		t.Fatalf("clearing without a note: %+v", s)
	}
	r.do(kiosk.ClearAlarm{ID: id, Note: "cover refitted by Ana"})
	if s := r.c.Screen(); len(s.Alarms) != 0 {
		t.Fatalf("alarms after clearing: %+v", s.Alarms)
	}
	r.do(kiosk.PulseLock{Lock: "L2"})
	if !r.cab.Released("L2") {
		t.Fatal("L2 not released by the lock test")
	}
	cl := r.events(keycab.EventAlarmCleared)
	if len(cl) != 1 || cl[0].Actor != "m-ana" || len(cl[0].Notes) != 32 || len(r.events(keycab.EventLockPulsed)) != 1 {
		t.Fatalf("log %v", r.kinds(0))
	}
	r.verify()
}

func TestAdminEnrolsFobAndLinksBadge(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.openAdmin()
	r.do(kiosk.EnrolFob{Slot: 2})
	if s := r.c.Screen(); !strings.Contains(s.Message, "new label for 2 High St") {
		t.Fatalf("enrolling a fob for slot 2: %+v", s)
	}
	r.showQR("KCB1-NEW-LABEL-2")
	if s := r.c.Screen(); !strings.Contains(s.Message, "Label enrolled") {
		t.Fatalf("after the new label: %+v", s)
	}
	ks, err := r.db.KeySetByToken(context.Background(), "KCB1-NEW-LABEL-2")
	if err != nil || ks.ID != "ks-2" {
		t.Fatalf("new label: %v %v", ks, err)
	}
	r.do(kiosk.EnrolFob{Slot: 1})
	r.showQR("qr-token-2") // already ks-2's label: refused
	if s := r.c.Screen(); !strings.Contains(s.Message, "already belongs") {
		t.Fatalf("after another key's label: %+v", s)
	}

	r.do(kiosk.LinkBadge{MemberID: "m-cara"})
	if s := r.c.Screen(); !strings.Contains(s.Message, "Cara's new badge") {
		t.Fatalf("linking a badge for Cara: %+v", s)
	}
	r.badge("BADGE-CARA-NEW")
	if s := r.c.Screen(); !strings.Contains(s.Message, "Badge linked to Cara Contractor") {
		t.Fatalf("after the new badge: %+v", s)
	}
	changes := r.events(keycab.EventAdminChange)
	if len(changes) != 2 || changes[0].Detail["change"] != "token.enrolled" || changes[1].Detail["change"] != "badge.linked" || changes[1].Actor != "m-ana" {
		t.Fatalf("admin changes %+v", changes)
	}
	for _, c := range changes {
		for _, v := range c.Detail {
			if strings.Contains(v, "NEW") {
				t.Fatalf("a raw code reached the log: %v", c.Detail)
			}
		}
	}
	r.do(kiosk.Cancel{})
	r.toIdle()
	r.badge("BADGE-CARA-NEW")
	if m := r.await(kiosk.Menu); m.Member == nil || m.Member.ID != "m-cara" {
		t.Fatalf("the new badge identifies %+v", m.Member)
	}
	r.verify()
}

func TestHistoryFilters(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.take("BADGE-BEN", "ks-2", 2)
	ctx := context.Background()
	all, err := r.c.History(ctx, kiosk.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 || all[0].Index <= all[len(all)-1].Index {
		t.Fatalf("history not newest first: %+v", all)
	}
	takes, _ := r.c.History(ctx, kiosk.HistoryFilter{Kind: keycab.EventKeyTaken})
	if len(takes) != 2 || takes[0].KeySet != "2 High St" || takes[1].KeySet != "1 High St" || takes[0].Who != "Ben Staff" || !strings.Contains(takes[0].Detail, "reason: viewing") {
		t.Fatalf("takes %+v", takes)
	}
	one, _ := r.c.History(ctx, kiosk.HistoryFilter{KeySet: "ks-1", Limit: 1})
	if len(one) != 1 || one[0].KeySet != "1 High St" {
		t.Fatalf("ks-1 %+v", one)
	}
	none, _ := r.c.History(ctx, kiosk.HistoryFilter{Member: "m-cara"})
	if len(none) != 0 {
		t.Fatalf("cara %+v", none)
	}
}

// TestReturnThroughTheCamera shows a held key's QR label to the simulated
// camera: real frames, the real decoder, and the return it starts.
func TestReturnThroughTheCamera(t *testing.T) {
	r := newRigWith(t, testConfig(t), simulator.Options{Camera: true})
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.showQR("qr-token-1")
	r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") {
		t.Fatal("slot 1 not released by the label")
	}
	r.putKey(1)
	r.await(kiosk.Done)
	if len(r.keysOut()) != 0 {
		t.Fatalf("custody %+v", r.keysOut())
	}
}

func TestOKLeavesDoneAtOnce(t *testing.T) {
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.ShowDone = time.Hour })
	r.take("BADGE-BEN", "ks-1", 1)
	r.do(kiosk.Cancel{}) // the UI's OK button
	r.await(kiosk.Idle)
}

func TestAdminViewIsLive(t *testing.T) {
	r := newRig(t, testConfig(t))
	a := r.openAdmin()
	if len(a.Admin.Members) != 3 || a.Admin.Slots[1].Lock != "L2" || a.Admin.Slots[1].Released || a.Admin.Pulse != 2*time.Second || a.Admin.Sync.HQ != "" {
		t.Fatalf("admin view %+v", a.Admin)
	}
	// The sync state the agent records shows on the next admin screen.
	if err := r.db.PinHQ(context.Background(), store.HQPeer{URL: "https://hq.test", KioskID: "k1", Origin: mustOrigin(t, r.db)}); err != nil {
		t.Fatal(err)
	}
	if err := r.db.SetAcked(context.Background(), 7, 7); err != nil {
		t.Fatal(err)
	}
	deadline := a.Deadline
	r.advance(time.Second)                     // the deadline stays where it was
	if err := r.takeKey(3, true); err != nil { // a sensor changes while the admin looks
		t.Fatal(err)
	}
	if s := r.c.Screen(); s.Admin == nil || s.Admin.Slots[2].Present {
		t.Fatalf("the slot map does not follow the sensor: %+v", s.Admin)
	}
	if s := r.c.Screen(); !s.Deadline.Equal(deadline) || s.State != kiosk.Admin {
		t.Fatalf("refresh moved the deadline or left admin: %v vs %v, %s", s.Deadline, deadline, s.State)
	}
	r.do(kiosk.PulseLock{Lock: "L2"})
	if s := r.c.Screen(); s.Admin == nil || !s.Admin.Slots[1].Released {
		t.Fatalf("the pulsed lock is not shown released: %+v", s.Admin)
	}
	if sy := r.c.Screen().Admin.Sync; sy.HQ != "https://hq.test" || sy.Cosigned != 7 || sy.LastPush.IsZero() {
		t.Fatalf("sync view %+v", sy)
	}
}

func mustOrigin(t *testing.T, d *store.DB) string {
	t.Helper()
	o, err := d.Origin()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAliveForTheWatchdog(t *testing.T) {
	r := newRig(t, testConfig(t))
	for range 5 {
		r.advance(time.Second) // the loop's heartbeat
		if !r.c.Alive(1500 * time.Millisecond) {
			t.Fatal("a running controller does not report alive")
		}
	}
	r.stop()
	r.clock.Advance(2 * time.Second)
	if r.c.Alive(1500 * time.Millisecond) {
		t.Fatal("a stopped controller still reports alive")
	}
}

// apply makes cfg the database's config, as the agent applies a bundle
// from HQ, with the running controller told, and returns once it has
// reloaded it.
func (r *rig) apply(cfg *keycab.Config) {
	r.t.Helper()
	v, err := r.db.ConfigVersion(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.Version = v + 1
	if err := r.db.ApplyConfig(context.Background(), cfg); err != nil {
		r.t.Fatal(err)
	}
	r.flush()
}

// TestLiveConfig: a config applied while the controller runs takes
// effect at once, with no restart. A badge revoked at HQ no longer opens
// the cabinet; a member signed in whose badge is revoked is signed out;
// a take chosen but not yet released is refused once the member may no
// longer take that key set; a lock already released finishes its take,
// and the key stays recorded as out.
func TestLiveConfig(t *testing.T) {
	cfg := testConfig(t)
	r := newRig(t, cfg)

	// Revoked while idle: the next scan is refused.
	revokeBen := testConfig(t)
	for i := range revokeBen.Badges {
		if revokeBen.Badges[i].MemberID == "m-ben" {
			revokeBen.Badges[i].RevokedAt = rigStart()
		}
	}
	r.apply(revokeBen)
	r.badge("BADGE-BEN")
	if s := r.c.Screen(); s.State == kiosk.Menu || !strings.Contains(s.Title, "not recognised") {
		t.Fatalf("a badge revoked at HQ: screen %+v", s)
	}
	r.toIdle()

	// Signed in when the badge is revoked: signed out at once.
	r.apply(testConfig(t))
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.apply(revokeBen)
	if s := r.c.Screen(); s.State == kiosk.Menu || s.Title != "Signed out" {
		t.Fatalf("signed in when the badge was revoked: screen %+v", s)
	}
	r.toIdle()

	// A take chosen, waiting for its reason, when the contractor's job
	// ends: refused, nothing released.
	job := testConfig(t)
	job.Jobs = []keycab.Job{{ID: "j1", MemberID: "m-cara", KeySetIDs: []string{"ks-1", "ks-2"}, From: rigStart().Add(-time.Hour), Until: rigStart().Add(24 * time.Hour)}}
	r.apply(job)
	r.badge("BADGE-CARA")
	if m := r.await(kiosk.Menu); !has(m.Take, "ks-1") {
		t.Fatalf("contractor's menu %+v", m.Take)
	}
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	ended := testConfig(t)
	ended.Jobs = []keycab.Job{{ID: "j1", MemberID: "m-cara", KeySetIDs: []string{"ks-2"}, From: rigStart().Add(-time.Hour), Until: rigStart().Add(24 * time.Hour)}}
	r.apply(ended)
	s := r.c.Screen()
	if s.State != kiosk.Menu || !strings.Contains(s.Title, "Cannot take 1 High St") {
		t.Fatalf("a take no longer allowed: screen %+v", s)
	}
	r.do(kiosk.GiveReason{Reason: "viewing"}) // too late: not a step now
	if r.cab.Released("L1") || len(r.keysOut()) != 0 {
		t.Fatal("a take refused by the new config released its lock")
	}
	r.do(kiosk.Cancel{})
	r.toIdle()

	// Released already: the take finishes, the key is out, and stays
	// out under the next config.
	r.badge("BADGE-CARA")
	r.await(kiosk.Menu)
	r.do(kiosk.ChooseTake{KeySetID: "ks-2"})
	r.await(kiosk.Reason)
	r.do(kiosk.GiveReason{Reason: "viewing"})
	r.await(kiosk.Unlocking)
	r.apply(testConfig(t)) // the job gone altogether
	if err := r.takeKey(2, false); err != nil {
		t.Fatal(err)
	}
	r.await(kiosk.Done)
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-2" || out[0].MemberID != "m-cara" {
		t.Fatalf("custody %+v", out)
	}
	if n := len(r.events(keycab.EventConfigApplied)); n != 7 {
		t.Fatalf("%d config.applied entries, want 7 (the rig's and six)", n)
	}
	r.verify()
}

// TestDoorHeldCountdown: Policy.DoorHeldWarning before the door-held
// alarm the screen carries when the alarm sounds, and the countdown runs
// down on the test clock to the alarm; closing the door ends it.
func TestDoorHeldCountdown(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.DoorHeld, cfg.Policy.DoorHeldWarning = 60*time.Second, 15*time.Second
	r := newRig(t, cfg)
	r.door(true)
	opened := r.clock.Now()
	r.advance(45*time.Second - time.Nanosecond)
	if _, ok := r.c.Screen().DoorAlarmIn(r.clock.Now()); ok {
		t.Fatalf("countdown before the warning: %+v", r.c.Screen())
	}
	r.advance(time.Nanosecond)
	s := r.c.Screen()
	if left, ok := s.DoorAlarmIn(r.clock.Now()); !ok || left != 15*time.Second || !s.DoorAlarmAt.Equal(opened.Add(60*time.Second)) {
		t.Fatalf("at the warning: %v %v, alarm at %v (opened %v)", left, ok, s.DoorAlarmAt, opened)
	}
	r.advance(10*time.Second + time.Millisecond)
	if left, ok := r.c.Screen().DoorAlarmIn(r.clock.Now()); !ok || left != 5*time.Second {
		t.Fatalf("10 s later: %v %v, want 5s", left, ok)
	}
	if r.alarm(keycab.AlarmDoorHeld) {
		t.Fatal("door-held alarm during the countdown")
	}
	r.advance(5*time.Second - time.Millisecond)
	s = r.c.Screen()
	if !r.alarm(keycab.AlarmDoorHeld) || !s.DoorAlarmAt.IsZero() || s.Warning != "" {
		t.Fatalf("at the alarm: countdown %v, warning %q, log %v", s.DoorAlarmAt, s.Warning, r.kinds(0))
	}
	if a := s.Alarms[0]; a.Text != "Door held open longer than 1 minute" {
		t.Fatalf("the alarm reads %q", a.Text)
	}
	r.door(false)
	// A second opening closed during its countdown: the countdown ends.
	r.door(true)
	r.advance(50 * time.Second)
	if _, ok := r.c.Screen().DoorAlarmIn(r.clock.Now()); !ok {
		t.Fatal("no countdown on the second opening")
	}
	r.door(false)
	if s := r.c.Screen(); !s.DoorAlarmAt.IsZero() || s.Warning != "" {
		t.Fatalf("countdown stays after the door closed: %+v", s)
	}
}
