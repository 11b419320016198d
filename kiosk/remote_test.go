package kiosk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
)

// remote hands the controller an action from HQ and returns its outcome.
func (r *rig) remote(a keycab.RemoteAction) keycab.RemoteOutcome {
	r.t.Helper()
	if a.Expires.IsZero() {
		a.Expires = r.clock.Now().Add(time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o, err := r.c.Remote(ctx, a, r.clock.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	r.flush()
	return o
}

func TestRemoteReleaseRefusedByPolicy(t *testing.T) {
	r := newRig(t, testConfig(t)) // Policy.RemoteRelease is false by default
	o := r.remote(keycab.RemoteAction{ID: "ra_1", Kind: keycab.RemoteReleaseSlot, KioskID: "k", Slot: 1, Reason: "courier", RequestedBy: "m-ana"})
	if o.Outcome != keycab.RemoteRefused || o.Refusal != "this kiosk's policy does not allow remote release" || o.LogIndex < 0 {
		t.Fatalf("outcome %+v", o)
	}
	if r.cab.Released("L1") {
		t.Fatal("slot 1 released against the policy")
	}
	o = r.remote(keycab.RemoteAction{ID: "ra_2", Kind: keycab.RemoteReleaseDoor, KioskID: "k", Reason: "courier", RequestedBy: "m-ana"})
	if o.Outcome != keycab.RemoteRefused || r.cab.Released("DOOR_LOCK") {
		t.Fatalf("door: outcome %+v, released %v", o, r.cab.Released("DOOR_LOCK"))
	}
	ref := r.events(keycab.EventRemoteRefused)
	if len(ref) != 2 || ref[0].Actor != "m-ana" || ref[0].Detail[keycab.RemoteActionID] != "ra_1" ||
		ref[0].Detail[keycab.RemoteBy] != "m-ana" || ref[0].Detail[keycab.RemoteRefusal] == "" || ref[0].Slot != 1 {
		t.Fatalf("refusals logged: %+v", ref)
	}
	if len(r.events(keycab.EventRemoteRelease)) != 0 {
		t.Fatal("a refused release was logged as a release")
	}
	r.verify()
}

func TestRemoteReleaseHonoured(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.RemoteRelease = true
	r := newRig(t, cfg)
	o := r.remote(keycab.RemoteAction{ID: "ra_1", Kind: keycab.RemoteReleaseSlot, KioskID: "k", Slot: 2, Reason: "courier", RequestedBy: "m-ana"})
	if o.Outcome != keycab.RemoteDone || o.LogIndex < 0 {
		t.Fatalf("outcome %+v", o)
	}
	if !r.cab.Released("L2") || r.cab.Released("L1") {
		t.Fatal("slot 2 is not the one released")
	}
	if s := r.c.Screen(); s.Title != "Opened by HQ" || s.Message != "Slot 2 is open: courier" {
		t.Fatalf("screen %+v", s)
	}
	rel := r.events(keycab.EventRemoteRelease)
	if len(rel) != 1 || rel[0].Slot != 2 || rel[0].Reason != "courier" || rel[0].Detail[keycab.RemoteBy] != "m-ana" || rel[0].Detail["lock"] != "L2" {
		t.Fatalf("release logged: %+v", rel)
	}
	// The door opened by the release is not forced.
	o = r.remote(keycab.RemoteAction{ID: "ra_2", Kind: keycab.RemoteReleaseDoor, KioskID: "k", Reason: "cleaner", RequestedBy: "m-ana"})
	if o.Outcome != keycab.RemoteDone || !r.cab.Released("DOOR_LOCK") {
		t.Fatalf("door: %+v", o)
	}
	r.door(true)
	if r.alarm(keycab.AlarmDoorForced) {
		t.Fatal("a door released by HQ alarmed as forced")
	}
	// An expired release is refused.
	o = r.remote(keycab.RemoteAction{ID: "ra_3", Kind: keycab.RemoteReleaseSlot, KioskID: "k", Slot: 1, Reason: "late", RequestedBy: "m-ana",
		Expires: r.clock.Now().Add(-time.Second)})
	if o.Outcome != keycab.RemoteRefused || r.cab.Released("L1") {
		t.Fatalf("expired: %+v", o)
	}
	r.verify()
}

func TestRemoteCustody(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	r.take("BADGE-BEN", "ks-2", 2)
	r.toIdle()

	// Handed over: the new holder holds it at the kiosk.
	o := r.remote(keycab.RemoteAction{ID: "ra_h", Kind: keycab.RemoteHandOver, KioskID: "k", KeySetID: "ks-1", MemberID: "m-ana", RequestedBy: "m-ana", Reason: "swapped shifts"})
	if o.Outcome != keycab.RemoteDone {
		t.Fatalf("hand over: %+v", o)
	}
	holders := map[string]string{}
	for _, c := range r.keysOut() {
		holders[c.KeySetID] = c.MemberID
	}
	if holders["ks-1"] != "m-ana" || holders["ks-2"] != "m-ben" {
		t.Fatalf("custody after hand-over: %v", holders)
	}
	h := r.events(keycab.EventKeyHandedOver)
	if len(h) != 1 || h[0].Second != "m-ana" || h[0].Detail["holder"] != "m-ben" || h[0].Detail[keycab.RemoteActionID] != "ra_h" {
		t.Fatalf("hand-over logged: %+v", h)
	}
	// Ana's menu offers it back as hers to return.
	r.badge("BADGE-ANA")
	r.await(kiosk.EnterPIN)
	r.do(kiosk.PIN{Digits: "2468"})
	m := r.await(kiosk.Menu)
	if !has(m.Return, "ks-1") {
		t.Fatalf("the new holder is not offered ks-1 to return: %+v", m.Return)
	}
	r.do(kiosk.Cancel{})
	r.toIdle()

	// Marked returned and lost: no longer out.
	if o := r.remote(keycab.RemoteAction{ID: "ra_r", Kind: keycab.RemoteMarkReturned, KioskID: "k", KeySetID: "ks-1", RequestedBy: "m-ana"}); o.Outcome != keycab.RemoteDone {
		t.Fatalf("mark returned: %+v", o)
	}
	if o := r.remote(keycab.RemoteAction{ID: "ra_l", Kind: keycab.RemoteMarkLost, KioskID: "k", KeySetID: "ks-2", RequestedBy: "m-ana", Reason: "dropped in the river"}); o.Outcome != keycab.RemoteDone {
		t.Fatalf("mark lost: %+v", o)
	}
	if out := r.keysOut(); len(out) != 0 {
		t.Fatalf("still out: %+v", out)
	}
	ret := r.events(keycab.EventKeyReturned)
	if len(ret) != 1 || ret[0].Actor != "m-ana" || ret[0].Detail[keycab.RemoteActionID] != "ra_r" || ret[0].Detail["holder"] != "m-ana" {
		t.Fatalf("mark returned logged: %+v", ret)
	}
	if l := r.events(keycab.EventKeyLost); len(l) != 1 || l[0].Reason != "dropped in the river" || l[0].Detail["holder"] != "m-ben" {
		t.Fatalf("lost logged: %+v", l)
	}
	// A key set not out, an unknown member: refused and logged.
	if o := r.remote(keycab.RemoteAction{ID: "ra_x", Kind: keycab.RemoteMarkReturned, KioskID: "k", KeySetID: "ks-1", RequestedBy: "m-ana"}); o.Outcome != keycab.RemoteRefused {
		t.Fatalf("return of a key set not out: %+v", o)
	}
	if o := r.remote(keycab.RemoteAction{ID: "ra_y", Kind: keycab.RemoteHandOver, KioskID: "k", KeySetID: "ks-3", MemberID: "m-nobody", RequestedBy: "m-ana"}); o.Outcome != keycab.RemoteRefused {
		t.Fatalf("hand-over to an unknown member: %+v", o)
	}
	if n := len(r.events(keycab.EventRemoteRefused)); n != 2 {
		t.Fatalf("%d refusals logged, want 2", n)
	}
	r.verify()
}

func TestRemoteReplaceFob(t *testing.T) {
	r := newRig(t, testConfig(t))
	o := r.remote(keycab.RemoteAction{ID: "ra_f", Kind: keycab.RemoteReplaceFob, KioskID: "k", KeySetID: "ks-1", Token: "kc1.newfob", RequestedBy: "m-ana"})
	if o.Outcome != keycab.RemoteDone {
		t.Fatalf("replace fob: %+v", o)
	}
	ks, err := r.db.KeySetByToken(context.Background(), "kc1.newfob")
	if err != nil || ks.ID != "ks-1" {
		t.Fatalf("new fob: %v %v", ks, err)
	}
	if d := r.events(keycab.EventRemoteDone); len(d) != 1 || d[0].Detail[keycab.RemoteKindKey] != "replace_fob" {
		t.Fatalf("logged: %+v", d)
	}
	// The lost fob stops working at once, and nothing is left for HQ to
	// apply as a touchscreen change.
	if _, err := r.db.KeySetByToken(context.Background(), "qr-token-1"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
		t.Fatalf("the replaced fob still opens: %v", err)
	}
	if ch := r.events(keycab.EventAdminChange); len(ch) != 0 {
		t.Fatalf("a replaced fob logged as a touchscreen change: %+v", ch)
	}
}

// TestRemoteReleaseOutlastsSession: a slot HQ released stays released
// while a member's session at the screen begins and ends; it locks when
// its own time runs out.
func TestRemoteReleaseOutlastsSession(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy.RemoteRelease = true
	r := newRig(t, cfg)
	if o := r.remote(keycab.RemoteAction{ID: "ra_1", Kind: keycab.RemoteReleaseSlot, KioskID: "k", Slot: 3, Reason: "engineer", RequestedBy: "m-ana"}); o.Outcome != keycab.RemoteDone {
		t.Fatalf("outcome %+v", o)
	}
	r.take("BADGE-BEN", "ks-1", 1) // a whole session, and its slot locked after
	if !r.cab.Released("L3") {
		t.Fatal("a session at the screen relocked the slot HQ released")
	}
	if r.cab.Released("L1") {
		t.Fatal("the session's own slot stayed released")
	}
	r.advance(time.Hour)
	r.toIdle()
	r.badge("BADGE-BEN")
	r.await(kiosk.Menu)
	r.do(kiosk.Cancel{})
	r.await(kiosk.Message)
	if r.cab.Released("L3") {
		t.Fatal("the remote release outlived its time")
	}
}

// TestRemoteHandOverToWhoMayTake: a key set is handed over only to a
// member who may take it now; a contractor with no job for it is refused
// and custody stays.
func TestRemoteHandOverToWhoMayTake(t *testing.T) {
	r := newRig(t, testConfig(t))
	r.take("BADGE-BEN", "ks-1", 1)
	r.toIdle()
	o := r.remote(keycab.RemoteAction{ID: "ra_c", Kind: keycab.RemoteHandOver, KioskID: "k", KeySetID: "ks-1", MemberID: "m-cara", RequestedBy: "m-ana", Reason: "cover"})
	if o.Outcome != keycab.RemoteRefused || !strings.Contains(o.Refusal, "may not hold") {
		t.Fatalf("hand-over to a contractor with no job: %+v", o)
	}
	if out := r.keysOut(); len(out) != 1 || out[0].MemberID != "m-ben" {
		t.Fatalf("custody after the refusal %+v", out)
	}
}
