package kiosk_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

const (
	wait     = 10 * time.Second // bound on every wait; not a timing assertion
	coolDown = 200 * time.Millisecond
)

// rig is a controller running on a simulated cabinet and a store on disk.
type rig struct {
	t     testing.TB
	shown map[string]time.Time // when each code was last presented
	cool  time.Duration        // the config's scan cool-down
	db    *store.DB
	cab   *simulator.Cabinet
	c     *kiosk.Controller
	stop  func()
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
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, so)
	if err != nil {
		t.Fatal(err)
	}
	kc := kiosk.Config{
		Store: db, Locks: cab.Locks, Scanners: cab.Scanners(),
		Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States(), Buzzer: simulator.Buzzer,
		ShowDone: 100 * time.Millisecond,
	}
	for _, f := range tune {
		f(&kc)
	}
	c, err := kiosk.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	r := &rig{t: t, db: db, cab: cab, c: c, shown: map[string]time.Time{}, cool: cfg.Policy.ScanCoolDown}
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
		cab.Close()
	}
	t.Cleanup(r.stop)
	r.await(kiosk.Idle)
	return r
}

// badge presents a badge as a person would: a second presentation of the
// same badge comes after the scan cool-down (TestCoolDown tests inside it).
func (r *rig) badge(code string) {
	if last, ok := r.shown[code]; ok {
		time.Sleep(time.Until(last.Add(r.cool + r.cool/4)))
	}
	r.shown[code] = time.Now()
	r.cab.Badge(code)
}

// await waits until the screen is in state, and returns it.
func (r *rig) await(state kiosk.State) kiosk.Screen {
	r.t.Helper()
	var s kiosk.Screen
	hardwaretest.Eventually(r.t, wait, "screen "+string(state), func() bool {
		s = r.c.Screen()
		return s.State == state
	})
	return s
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
	r.c.Do(kiosk.ChooseTake{KeySetID: keySet})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: "viewing", Recipient: "Dana Buyer"})
	r.await(kiosk.Unlocking)
	if err := r.cab.TakeKey(slot, false); err != nil {
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
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: "viewing", Recipient: "Dana Buyer", Notes: "back by 5"})
	s := r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") || !r.cab.PinHigh("L1") || !r.cab.Released("DOOR_LOCK") || r.cab.Released("L2") {
		t.Fatalf("after choosing ks-1: L1 %v DOOR %v L2 %v", r.cab.Released("L1"), r.cab.Released("DOOR_LOCK"), r.cab.Released("L2"))
	}
	if !strings.Contains(s.Message, "Slot 1") {
		t.Fatalf("unlocking screen %+v", s)
	}
	if err := r.cab.TakeKey(1, false); err != nil {
		t.Fatal(err)
	}
	d := r.await(kiosk.Done)
	if !strings.Contains(d.Title, "1 High St") {
		t.Fatalf("done screen %+v", d)
	}
	hardwaretest.Eventually(t, wait, "slot 1 secured", func() bool { return !r.cab.Released("L1") && !r.cab.PinHigh("L1") })
	out := r.keysOut()
	if len(out) != 1 || out[0].KeySetID != "ks-1" || out[0].MemberID != "m-ben" || out[0].Reason != "viewing" || out[0].Recipient != "Dana Buyer" || out[0].Slot != 1 {
		t.Fatalf("custody %+v", out)
	}

	r.await(kiosk.Idle)
	r.badge("BADGE-BEN")
	m = r.await(kiosk.Menu)
	if !has(m.Return, "ks-1") || has(m.Take, "ks-1") {
		t.Fatalf("menu after take %+v", m)
	}
	r.c.Do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") {
		t.Fatal("slot 1 not released for the return")
	}
	r.cab.PutKey(1)
	r.await(kiosk.Done)
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
	r.await(kiosk.Idle)
	r.take("BADGE-BEN", "ks-2", 2)
	r.await(kiosk.Idle)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseReturn{KeySetID: "ks-1"})
	r.await(kiosk.Unlocking)
	r.cab.PutKey(2) // into ks-2's empty slot, not its own slot 1
	d := r.await(kiosk.Done)
	if !strings.Contains(d.Message, "slot 2, not its own slot 1") {
		t.Fatalf("done screen %+v", d)
	}
	ret := r.events(keycab.EventKeyReturned)
	if len(ret) != 1 || ret[0].Slot != 2 || ret[0].Detail["wrong_slot"] != "true" {
		t.Fatalf("return %+v", ret)
	}
	if !r.alarm(keycab.AlarmWrongSlot) || len(d.Alarms) == 0 || d.Alarms[0].Kind != keycab.AlarmWrongSlot {
		t.Fatalf("no wrong-slot alarm; screen alarms %+v", d.Alarms)
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
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-2"})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: "inspection"})
	r.await(kiosk.Confirming)
	if !r.cab.Released("DOOR_LOCK") {
		t.Fatal("door not released")
	}
	r.cab.Door(true)
	r.cab.ShowQR("qr-token-1") // the wrong fob: ignored
	r.cab.ShowQR("qr-token-2")
	r.cab.ShowQR("qr-token-2") // the same label again, within the cool-down
	r.await(kiosk.Done)
	r.cab.Door(false)
	hardwaretest.Eventually(t, wait, "door secured", func() bool { return !r.cab.Released("DOOR_LOCK") })
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-2" || out[0].Slot != 0 {
		t.Fatalf("custody %+v", out)
	}
	r.await(kiosk.Idle)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.ChooseReturn{KeySetID: "ks-2"})
	r.await(kiosk.Confirming)
	r.cab.ShowQR("qr-token-2")
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
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-3"})
	s := r.await(kiosk.Second)
	if !strings.Contains(s.Message, "Plant room") {
		t.Fatalf("second screen %+v", s)
	}
	time.Sleep(10 * time.Millisecond)
	r.badge("BADGE-BEN-AGAIN") // unknown: refused, logged
	r.badge("BADGE-ANA")
	p := r.await(kiosk.EnterPIN) // admins confirm with their PIN
	if !strings.HasPrefix(p.Title, "Ana") {
		t.Fatalf("PIN screen for %q", p.Title)
	}
	r.c.Do(kiosk.PIN{Digits: "0000"})
	hardwaretest.Eventually(t, wait, "wrong PIN shown", func() bool { return strings.Contains(r.c.Screen().Message, "Wrong PIN") })
	r.c.Do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Reason)
	r.c.Do(kiosk.GiveReason{Reason: "maintenance"})
	r.await(kiosk.Unlocking)
	r.cab.TakeKey(3, false)
	r.await(kiosk.Done)
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
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-3"})
	r.await(kiosk.Second)
	r.badge("BADGE-BEN") // after the cool-down: the taker cannot confirm their own release
	hardwaretest.Eventually(t, wait, "own badge refused", func() bool {
		s := r.c.Screen()
		return s.State == kiosk.Second && strings.Contains(s.Message, "cannot be you")
	})
	r.c.Do(kiosk.Cancel{})
	r.await(kiosk.Message)
	if r.cab.Released("L3") || len(r.keysOut()) != 0 {
		t.Fatal("cancelled dual release left something open or recorded")
	}
}

func TestContractorOutsideWindowRefused(t *testing.T) {
	cfg := testConfig(t)
	now := time.Now()
	cfg.Jobs = []keycab.Job{{ID: "j1", MemberID: "m-cara", KeySetIDs: []string{"ks-1"}, From: now.Add(2 * time.Hour), Until: now.Add(4 * time.Hour)},
		{ID: "j2", MemberID: "m-cara", KeySetIDs: []string{"ks-2"}, From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
	r := newRig(t, cfg)
	r.badge("BADGE-CARA")
	m := r.await(kiosk.Menu)
	if has(m.Take, "ks-1") || !has(m.Take, "ks-2") || has(m.Take, "ks-3") {
		t.Fatalf("contractor menu %+v", m.Take)
	}
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-1"}) // not offered; a forged touch is refused with the reason
	hardwaretest.Eventually(t, wait, "refusal", func() bool { return strings.Contains(r.c.Screen().Message, "not open now") })
	if r.cab.Released("L1") || len(r.keysOut()) != 0 {
		t.Fatal("contractor outside the window got the key")
	}
}

func TestReservedKeyRefused(t *testing.T) {
	cfg := testConfig(t)
	now := time.Now()
	cfg.Reservations = []keycab.Reservation{{ID: "r1", KeySetID: "ks-2", MemberID: "m-ana", From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
	r := newRig(t, cfg)
	r.badge("BADGE-BEN")
	m := r.await(kiosk.Menu)
	if has(m.Take, "ks-2") {
		t.Fatal("reserved key offered")
	}
	r.c.Do(kiosk.ChooseTake{KeySetID: "ks-2"})
	hardwaretest.Eventually(t, wait, "refusal", func() bool { return strings.Contains(r.c.Screen().Message, "reserved by A. Admin until") })
	if r.cab.Released("L2") {
		t.Fatal("reserved slot released")
	}
}

func TestCoolDownOneScanOneAction(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.cab.Badge("BADGE-BEN")
	r.cab.Badge("BADGE-BEN")
	r.cab.Badge("BADGE-BEN")
	r.await(kiosk.Menu)
	time.Sleep(50 * time.Millisecond)
	if n := len(r.events(keycab.EventIdentified)); n != 1 {
		t.Fatalf("%d identifications from one held badge, want 1", n)
	}
	// After the cool-down the same badge counts again (here: ignored
	// mid-session, so no second identification either).
	time.Sleep(coolDown)
	r.c.Do(kiosk.Cancel{})
	r.await(kiosk.Idle)
	r.cab.Badge("BADGE-BEN")
	r.await(kiosk.Menu)
	if n := len(r.events(keycab.EventIdentified)); n != 2 {
		t.Fatalf("%d identifications after the cool-down, want 2", n)
	}
}

func TestDoorHeldAndForced(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.DoorHeld = 150 * time.Millisecond
	r := newRig(t, cfg)
	r.cab.Door(true) // locked: forced
	hardwaretest.Eventually(t, wait, "door forced alarm", func() bool { return r.alarm(keycab.AlarmDoorForced) })
	hardwaretest.Eventually(t, wait, "door held alarm", func() bool { return r.alarm(keycab.AlarmDoorHeld) })
	hardwaretest.Eventually(t, wait, "both alarms on screen", func() bool { return len(r.c.Screen().Alarms) == 2 })
	if !r.cab.PinHigh(simulator.BuzzerPin) {
		t.Fatal("buzzer silent")
	}
	r.cab.Door(false)
	hardwaretest.Eventually(t, wait, "door closed logged", func() bool { return len(r.events(keycab.EventDoorClosed)) == 1 })
}

func TestRemovalWithoutSession(t *testing.T) {
	r := newRig(t, testConfig(t))
	if err := r.cab.TakeKey(2, false); err == nil {
		t.Fatal("a locked slot gave up its key")
	}
	r.cab.TakeKey(2, true) // yanked
	hardwaretest.Eventually(t, wait, "removal alarm", func() bool { return r.alarm(keycab.AlarmKeyRemoved) })
	if len(r.keysOut()) != 0 {
		t.Fatal("a yanked key was recorded as taken")
	}
}

func TestTamper(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.cab.Tamper(true)
	hardwaretest.Eventually(t, wait, "tamper alarm", func() bool { return r.alarm(keycab.AlarmTamper) })
}

func TestEmergencyRelease(t *testing.T) {
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.UnlockFor = 300 * time.Millisecond })
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.cab.Emergency(true)
	r.await(kiosk.Emergency)
	all := []string{"DOOR_LOCK", "L1", "L2", "L3"}
	for _, l := range all {
		hardwaretest.Eventually(t, wait, l+" released", func() bool { return r.cab.Released(l) })
	}
	// Held past the lock driver's own limit: the controller renews it.
	time.Sleep(600 * time.Millisecond)
	for _, l := range all {
		if !r.cab.Released(l) {
			t.Fatalf("%s relocked during the emergency", l)
		}
	}
	r.cab.Emergency(false)
	r.await(kiosk.Idle)
	for _, l := range all {
		hardwaretest.Eventually(t, wait, l+" secured", func() bool { return !r.cab.Released(l) })
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
		r.c.Do(kiosk.PIN{Digits: "1111"})
	}
	s := r.await(kiosk.Message)
	if s.Title != "Locked out" {
		t.Fatalf("after 3 wrong PINs: %+v", s)
	}
	if len(r.events(keycab.EventLockedOut)) != 1 || len(r.events(keycab.EventIdentifyFail)) != 3 {
		t.Fatalf("log %v", r.kinds(0))
	}
	r.await(kiosk.Idle)
	r.badge("BADGE-ANA")
	if s := r.await(kiosk.Message); s.Title != "Locked out" {
		t.Fatalf("locked-out badge: %+v", s)
	}
}

func TestAdminClearsAlarmAndPulses(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.cab.Tamper(true)
	hardwaretest.Eventually(t, wait, "tamper alarm", func() bool { return len(r.c.Screen().Alarms) == 1 })
	id := r.c.Screen().Alarms[0].ID
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.c.Do(kiosk.OpenAdmin{})
	hardwaretest.Eventually(t, wait, "refused", func() bool { return r.c.Screen().Title == "Administrators only" })
	r.c.Do(kiosk.Cancel{})
	r.await(kiosk.Idle)
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.c.Do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.c.Do(kiosk.OpenAdmin{})
	a := r.await(kiosk.Admin)
	if a.Admin == nil || len(a.Admin.Slots) != 3 || !a.Admin.Slots[0].Present || a.Admin.Slots[0].KeySet != "1 High St" {
		t.Fatalf("admin view %+v", a.Admin)
	}
	r.c.Do(kiosk.ClearAlarm{ID: id}) // no note: refused
	hardwaretest.Eventually(t, wait, "note needed", func() bool { return strings.Contains(r.c.Screen().Message, "needs a note") })
	r.c.Do(kiosk.ClearAlarm{ID: id, Note: "cover refitted by Ana"})
	hardwaretest.Eventually(t, wait, "cleared", func() bool { return len(r.c.Screen().Alarms) == 0 })
	r.c.Do(kiosk.PulseLock{Lock: "L2"})
	hardwaretest.Eventually(t, wait, "pulse", func() bool { return r.cab.Released("L2") })
	hardwaretest.Eventually(t, wait, "pulse logged", func() bool { return len(r.events(keycab.EventLockPulsed)) == 1 })
	cl := r.events(keycab.EventAlarmCleared)
	if len(cl) != 1 || cl[0].Actor != "m-ana" || len(cl[0].Notes) != 32 || len(r.events(keycab.EventLockPulsed)) != 1 {
		t.Fatalf("log %v", r.kinds(0))
	}
	r.verify()
}

func TestAdminEnrolsFobAndLinksBadge(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.c.Do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.c.Do(kiosk.OpenAdmin{})
	r.await(kiosk.Admin)
	r.c.Do(kiosk.EnrolFob{Slot: 2})
	hardwaretest.Eventually(t, wait, "asks for the label", func() bool { return strings.Contains(r.c.Screen().Message, "new label for 2 High St") })
	r.cab.ShowQR("KCB1-NEW-LABEL-2")
	hardwaretest.Eventually(t, wait, "enrolled", func() bool { return strings.Contains(r.c.Screen().Message, "Label enrolled") })
	ks, err := r.db.KeySetByToken(context.Background(), "KCB1-NEW-LABEL-2")
	if err != nil || ks.ID != "ks-2" {
		t.Fatalf("new label: %v %v", ks, err)
	}
	r.c.Do(kiosk.EnrolFob{Slot: 1})
	r.cab.ShowQR("qr-token-2") // already ks-2's label: refused
	hardwaretest.Eventually(t, wait, "duplicate refused", func() bool { return strings.Contains(r.c.Screen().Message, "already belongs") })

	r.c.Do(kiosk.LinkBadge{MemberID: "m-cara"})
	hardwaretest.Eventually(t, wait, "asks for the badge", func() bool { return strings.Contains(r.c.Screen().Message, "Cara's new badge") })
	r.badge("BADGE-CARA-NEW")
	hardwaretest.Eventually(t, wait, "linked", func() bool { return strings.Contains(r.c.Screen().Message, "Badge linked to Cara Contractor") })
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
	r.c.Do(kiosk.Cancel{})
	r.await(kiosk.Idle)
	r.badge("BADGE-CARA-NEW")
	if m := r.await(kiosk.Menu); m.Member == nil || m.Member.ID != "m-cara" {
		t.Fatalf("the new badge identifies %+v", m.Member)
	}
	r.verify()
}

func TestHistoryFilters(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.await(kiosk.Idle)
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
	r.await(kiosk.Idle)
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.cab.ShowQR("qr-token-1")
	r.await(kiosk.Unlocking)
	if !r.cab.Released("L1") {
		t.Fatal("slot 1 not released by the label")
	}
	r.cab.PutKey(1)
	r.await(kiosk.Done)
	if len(r.keysOut()) != 0 {
		t.Fatalf("custody %+v", r.keysOut())
	}
}

func TestOKLeavesDoneAtOnce(t *testing.T) {
	r := newRig(t, testConfig(t), func(c *kiosk.Config) { c.ShowDone = time.Hour })
	r.take("BADGE-BEN", "ks-1", 1)
	r.c.Do(kiosk.Cancel{}) // the UI's OK button
	r.await(kiosk.Idle)
}

func TestAdminViewIsLive(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.c.Do(kiosk.PIN{Digits: "2468"})
	r.await(kiosk.Menu)
	r.c.Do(kiosk.OpenAdmin{})
	a := r.await(kiosk.Admin)
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
	r.cab.TakeKey(3, true) // a sensor changes while the admin looks
	hardwaretest.Eventually(t, wait, "slot map follows the sensor", func() bool {
		s := r.c.Screen()
		return s.Admin != nil && !s.Admin.Slots[2].Present
	})
	if s := r.c.Screen(); !s.Deadline.Equal(deadline) || s.State != kiosk.Admin {
		t.Fatalf("refresh moved the deadline or left admin: %v vs %v, %s", s.Deadline, deadline, s.State)
	}
	r.c.Do(kiosk.PulseLock{Lock: "L2"})
	hardwaretest.Eventually(t, wait, "released shown", func() bool {
		s := r.c.Screen()
		return s.Admin != nil && s.Admin.Slots[1].Released
	})
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
	hardwaretest.Eventually(t, wait, "alive", func() bool { return r.c.Alive(5 * time.Second) })
	r.stop()
	time.Sleep(50 * time.Millisecond)
	if r.c.Alive(20 * time.Millisecond) {
		t.Fatal("a stopped controller still reports alive")
	}
}
