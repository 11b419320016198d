package kioskapi_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
)

// TestWholeRecordAtHQ: what a kiosk's entries record beyond who, what and
// when reaches HQ's history through a real push: a take's reason, its
// second and third approver and slot; the reader that identified the
// member; a wrong-slot return made for another holder; an alarm's key
// set, slot and context, in HQ's alarm list too. A resend with one of
// them changed is refused as equivocation.
func TestWholeRecordAtHQ(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentified, Actor: h.staff.ID,
			Detail: map[string]string{"via": "wiegand"}}}))
		co := keycab.Checkout{KeySetID: h.ks.ID, MemberID: h.staff.ID, SecondID: h.owner.ID, ThirdID: "mem_third", Slot: 4,
			TakenAt: time.Now(), DueAt: time.Now().Add(time.Hour), Reason: "inspection", Recipient: "Dana Buyer"}
		MustNoErr(t, k.db.Take(ctx, &co))
		must[int64](t)(k.db.Return(ctx, h.ks.ID, h.owner.ID, 2, true))
		must[[]store.Appended](t)(k.db.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, KeySet: h.ks.ID, Slot: 4,
			Detail: map[string]string{"alarm": keycab.AlarmKeyRemoved, "detail": "front door from slot 4"}}}))
		must[int64](t)(k.a.Push(ctx))

		es := must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{}))
		by := map[keycab.EventKind]hqstore.Event{}
		for _, e := range es {
			by[e.Kind] = e
		}
		if r := by[keycab.EventKeyTaken].EventRecord; r.Reason != "inspection" || r.SecondID != h.owner.ID || r.ThirdID != "mem_third" || r.Slot != 4 {
			t.Fatalf("take at HQ: %+v", r)
		}
		if r := by[keycab.EventIdentified].EventRecord; r.Via != "wiegand" {
			t.Fatalf("identified at HQ: %+v", r)
		}
		if r := by[keycab.EventKeyReturned].EventRecord; r.Slot != 2 || r.Context != "wrong slot; for "+h.staff.ID || r.HomeSlot != 0 {
			t.Fatalf("return at HQ: %+v", r)
		}
		// With the key set mapped to slot 4 of the cabinet, the wrong-slot
		// return names its home slot.
		MustNoErr(t, h.s.SetSlot(ctx, h.own(), keycab.Slot{CabinetID: h.cab.ID, Number: 4, Lock: "L4", Sensor: "S4", KeySetID: h.ks.ID}))
		for _, e := range must[[]hqstore.Event](t)(h.s.ListEvents(ctx, h.own(), hqstore.EventFilter{})) {
			if want := map[bool]int{true: 4}[e.Kind == keycab.EventKeyReturned]; e.HomeSlot != want {
				t.Fatalf("%s at HQ has home slot %d, want %d", e.Kind, e.HomeSlot, want)
			}
		}
		if e := by[keycab.EventAlarmRaised]; e.Detail != keycab.AlarmKeyRemoved || e.Context != "front door from slot 4" || e.KeySetID != h.ks.ID || e.Slot != 4 {
			t.Fatalf("alarm at HQ: %+v", e)
		}
		// HQ's alarm list says which key, which slot, and what about it.
		if as := must[[]hqstore.Alarm](t)(h.s.ListAlarms(ctx, h.own(), true)); len(as) != 1 || as[0].KeySetID != h.ks.ID || as[0].Slot != 4 || as[0].Context != "front door from slot 4" {
			t.Fatalf("HQ's alarms: %+v", as)
		}
		for _, e := range es {
			if e.Reason == "Dana Buyer" || e.Context == "Dana Buyer" {
				t.Fatal("personal text reached HQ's history")
			}
		}

		// The same index with another reason: equivocation.
		changed := by[keycab.EventKeyTaken]
		changed.Reason = "viewing"
		err := h.s.RecordEvents(ctx, hqstore.KioskScope(h.org.ID, k.peer.KioskID), []hqstore.Event{changed})
		if keycab.ErrorCode(err) != keycab.ECONFLICT {
			t.Fatalf("a resend with another reason: %v", err)
		}
	})
}
