package hq_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
)

// Remote actions from the dashboard: the buttons of the keys-out page and
// the forms of a kiosk's remote actions page, for those who may; a clear
// error for a bad form; 403 for roles that may not; 404 for another
// organisation's kiosk; and each action in HQ's admin log.
func TestDashboardRemoteActions(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	ctx := context.Background()
	owner := e.web()
	owner.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	s := MustSeed(t, e, owner, e.clock.Now(), 4)
	page := "/kiosks/" + s.kioskA.ID + "/actions"

	// The keys-out page offers the buttons; one marks the back gate
	// returned.
	MustPage(t, owner.get(t, "/keys"), http.StatusOK, "Mark returned", "Mark lost", "Hand over", `action="`+page+`"`)
	p := MustPage(t, owner.post(t, page, url.Values{"back": {"keys"}, "kind": {"mark_returned"}, "key_set": {s.ksBack.ID}}), http.StatusSeeOther)
	if p.location() != "/keys?notice=remotesent" {
		t.Fatalf("went to %q", p.location())
	}
	MustPage(t, owner.get(t, p.location()), http.StatusOK, "Sent to the kiosk")
	// The kiosk's page: a slot release with its reason.
	MustPage(t, owner.get(t, page), http.StatusOK, "Release slot", "Release door", "Mark returned")
	MustPage(t, owner.post(t, page, url.Values{"kind": {"release_slot"}, "slot": {"1"}, "reason": {"courier at the door"}}), http.StatusSeeOther)
	got := MustPage(t, owner.get(t, page), http.StatusOK, "courier at the door", "Pending", "slot 1", "Back gate")
	if strings.Count(got.body, "<tr>") < 3 { // the header and two actions
		t.Fatalf("actions table: %s", got.body)
	}
	// Bad forms come back with what is wrong.
	MustPage(t, owner.post(t, page, url.Values{"kind": {"release_door"}}), http.StatusBadRequest, "a release needs a reason")
	MustPage(t, owner.post(t, page, url.Values{"kind": {"release_slot"}, "slot": {"x"}, "reason": {"y"}}), http.StatusBadRequest, "Slot must be a number")
	MustPage(t, owner.post(t, page, url.Values{"kind": {"hand_over"}, "key_set": {s.ksFront.ID}}), http.StatusBadRequest, "hand_over needs the member")

	// Roles that may not: no buttons, 403 on the form.
	staff := e.MustJoinWeb(t, owner, "staff@acme.test", keycab.RoleStaff)
	auditor := e.MustJoinWeb(t, owner, "audit@acme.test", keycab.RoleAuditor)
	for _, w := range []*web{staff, auditor} {
		if p := w.get(t, "/keys"); strings.Contains(p.body, "Mark returned") {
			t.Fatalf("the keys-out page offers remote actions to a role that may not: %s", p.body)
		}
		MustPage(t, w.post(t, page, url.Values{"kind": {"release_door"}, "reason": {"let me in"}}), http.StatusForbidden)
	}
	MustPage(t, staff.get(t, page), http.StatusForbidden)
	if p := MustPage(t, auditor.get(t, page), http.StatusOK, "courier at the door"); strings.Contains(p.body, `data-testid="remote-release-slot"`) {
		t.Fatal("the auditor is offered the release forms")
	}

	// A release the kiosk never took expires.
	e.clock.Advance(keycab.RemoteReleaseTTL + time.Second)
	MustPage(t, owner.get(t, page), http.StatusOK, "Expired", "never reached the kiosk")

	// Another organisation's owner: not found.
	other := e.web()
	other.MustSignupWeb(t, "Other", "Oz", "oz@other.test")
	MustSeed(t, e, other, e.clock.Now(), 2)
	MustPage(t, other.get(t, page), http.StatusNotFound)
	MustPage(t, other.post(t, page, url.Values{"kind": {"release_door"}, "reason": {"x"}}), http.StatusNotFound)

	as, err := e.st.ListRemoteActions(ctx, e.scopeOf(t, owner), s.kioskA.ID, 0)
	MustNoErr(t, err)
	if len(as) != 2 {
		t.Fatalf("%d actions stored, want 2: %+v", len(as), as)
	}
	log, err := e.st.ListAdminLog(ctx, e.scopeOf(t, owner), 0)
	MustNoErr(t, err)
	n := 0
	for _, l := range log {
		if strings.HasPrefix(l.Action, "remote.") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d remote actions in the admin log, want 2", n)
	}
}
