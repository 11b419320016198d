package hq_test

import (
	"context"
	"encoding/hex"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/store"
)

// TestDashboardTouchscreenOrigin: a fob enrolled and a badge linked at a
// kiosk's touchscreen show on the key set's and the member's pages as made
// at that kiosk, and HQ's own as made at HQ.
func TestDashboardTouchscreenOrigin(t *testing.T) {
	ctx := context.Background()
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	sc := store.KioskScope(s.orgID, s.kioskA.ID)
	cfg, err := e.st.KioskConfig(ctx, sc)
	MustNoErr(t, err)
	_, err = e.st.AddBadge(ctx, store.MemberScope(s.orgID, s.ownerID), s.dana.ID, keycab.BadgeRFID, "HQ-CARD")
	MustNoErr(t, err)
	changes := []*audit.Event{
		{Kind: keycab.EventAdminChange, Actor: s.ownerID, KeySet: s.ksFront.ID,
			Detail: map[string]string{"change": keycab.ChangeTokenEnrolled, "token_hash": hex.EncodeToString(keycab.TokenHash("kc1.dash"))}},
		{Kind: keycab.EventAdminChange, Actor: s.ownerID, Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": s.dana.ID,
			"badge_hash": hex.EncodeToString(keycab.BadgeHash(cfg.BadgeSalt, "KIOSK-CARD")), "badge_kind": string(keycab.BadgeRFID)}},
	}
	var evs []store.Event
	for i, c := range changes {
		evs = append(evs, store.Event{LogIndex: int64(100 + i), Kind: c.Kind, ActorID: c.Actor, KeySetID: c.KeySet, At: e.clock.Now(), Entry: c})
	}
	MustNoErr(t, e.st.RecordEvents(ctx, sc, evs))
	MustPage(t, w.get(t, "/key-sets/"+s.ksFront.ID), 200, "enrolled at kiosk Front office kiosk")
	MustPage(t, w.get(t, "/people/"+s.dana.ID), 200, "at kiosk Front office kiosk", "at HQ")
}
