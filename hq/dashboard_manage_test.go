package hq_test

import (
	"context"
	"encoding/hex"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// scopeOf is the store scope of w's signed-in member.
func (e *env) scopeOf(tb testing.TB, w *web) store.Scope {
	tb.Helper()
	p, err := e.auth.Authenticate(context.Background(), w.cookies["__Host-keycab_session"])
	MustNoErr(tb, err)
	return p.Scope()
}

// MustCreate posts a create form and returns the new thing's id, taken
// from the page it redirects to (prefix + id).
func MustCreate(tb testing.TB, w *web, path string, form url.Values, prefix string) string {
	tb.Helper()
	w.get(tb, path)
	p := MustPage(tb, w.post(tb, path, form), http.StatusSeeOther)
	id, ok := strings.CutPrefix(p.location(), prefix)
	if !ok {
		tb.Fatalf("POST %s went to %q, want %s...", path, p.location(), prefix)
	}
	id, _, _ = strings.Cut(id, "?")
	return id
}

// Sites, cabinets, key sets (with tokens and reservations), members
// (with badges, PINs and jobs) are created and edited through the
// dashboard's forms; bad input comes back with the error and what was
// typed; every change is in HQ's admin log; times show in the site's
// zone.
func TestDashboardManageForms(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) { testManageForms(t, newDashEnv(t, eng, nil, false)) })
	}
}

func testManageForms(t *testing.T, e *env) {
	{
		ctx := context.Background()
		w := e.web()
		w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
		sc := e.scopeOf(t, w)
		pr, err := e.auth.Authenticate(ctx, w.cookies["__Host-keycab_session"])
		MustNoErr(t, err)
		owner := pr.MemberID

		// Sites: a bad zone is refused, the form keeps what was typed.
		w.get(t, "/sites/new")
		MustPage(t, w.post(t, "/sites/new", url.Values{"name": {"Harbour House"}, "address": {"1 Quay St"}, "time_zone": {"Mars/Olympus"}, "notes": {"Key safe 2580"}}),
			http.StatusBadRequest, "unknown time zone", `value="Harbour House"`, `value="1 Quay St"`, `value="Mars/Olympus"`, "Key safe 2580")
		MustPage(t, w.post(t, "/sites/new", url.Values{"name": {" "}, "time_zone": {"Europe/London"}}), http.StatusBadRequest, "needs a name")
		site := MustCreate(t, w, "/sites/new", url.Values{"name": {"Harbour House"}, "address": {"1 Quay St"}, "time_zone": {"Europe/London"}, "notes": {"Key safe 2580"}}, "/sites/")
		MustPage(t, w.get(t, "/sites/"+site+"?notice=created"), 200, "Harbour House", "Europe/London", "Key safe 2580", "Created.")
		MustPage(t, w.get(t, "/sites/"+site+"/edit"), 200, `value="Harbour House"`, "Key safe 2580")
		MustPage(t, w.post(t, "/sites/"+site+"/edit", url.Values{"name": {"Harbour House"}, "time_zone": {"Local"}, "notes": {"Key safe 9999"}}),
			http.StatusBadRequest, "unknown time zone", "Key safe 9999")
		MustPage(t, w.post(t, "/sites/"+site+"/edit", url.Values{"name": {"Harbour House East"}, "address": {"2 Quay St"}, "time_zone": {"America/New_York"}, "notes": {"Key safe 9999"}}), http.StatusSeeOther)
		st, err := e.st.GetSite(ctx, sc, site)
		MustNoErr(t, err)
		if st.Name != "Harbour House East" || st.Address != "2 Quay St" || st.TimeZone != "America/New_York" || st.Notes != "Key safe 9999" {
			t.Errorf("site after edit: %+v", st)
		}
		MustPage(t, w.post(t, "/sites/"+site+"/edit", url.Values{"name": {"Harbour House"}, "address": {"1 Quay St"}, "time_zone": {"Europe/London"}, "notes": {"Key safe 9999"}}), http.StatusSeeOther)

		// Cabinets, with slots.
		MustPage(t, w.get(t, "/cabinets/new?site="+site), 200, `<option value="`+site+`" selected>`)
		MustPage(t, w.post(t, "/cabinets/new", url.Values{"site": {site}, "name": {"Front desk"}, "kind": {"slotted"}, "slots": {"many"}}),
			http.StatusBadRequest, "whole number", `value="Front desk"`, `value="many"`)
		MustPage(t, w.post(t, "/cabinets/new", url.Values{"site": {site}, "name": {"Shelf"}, "kind": {"open-shelf"}, "slots": {"3"}}), http.StatusBadRequest, "open-shelf cabinet has no slots")
		MustPage(t, w.post(t, "/cabinets/new", url.Values{"site": {site}, "name": {"Front desk"}, "kind": {"drawer"}}), http.StatusBadRequest, "unknown cabinet kind")
		cab := MustCreate(t, w, "/cabinets/new", url.Values{"site": {site}, "name": {"Front desk"}, "kind": {"slotted"}, "slots": {"4"}}, "/cabinets/")
		slots, err := e.st.ListSlots(ctx, sc, cab)
		MustNoErr(t, err)
		if len(slots) != 4 {
			t.Fatalf("cabinet has %d slots, want 4", len(slots))
		}
		MustPage(t, w.post(t, "/cabinets/"+cab+"/edit", url.Values{"name": {"Front desk cabinet"}, "kind": {"slotted"}, "slots": {"6"}, "door_lock": {"GPIO17"}}), http.StatusSeeOther)
		c, err := e.st.GetCabinet(ctx, sc, cab)
		MustNoErr(t, err)
		if slots, _ = e.st.ListSlots(ctx, sc, cab); c.Name != "Front desk cabinet" || c.DoorLock != "GPIO17" || len(slots) != 6 {
			t.Errorf("cabinet after edit: %+v, %d slots", c, len(slots))
		}

		// Key sets, homed in a slot.
		MustPage(t, w.post(t, "/key-sets/new", url.Values{"site": {site}, "label": {"Flat 3"}, "max_out": {"-5"}, "sensitive": {"on"}}),
			http.StatusBadRequest, "whole number", `value="Flat 3"`, `value="-5"`, `name="sensitive" checked`)
		ks := MustCreate(t, w, "/key-sets/new", url.Values{"site": {site}, "label": {"Flat 3"}, "max_out": {"90"}, "sensitive": {"on"},
			"slot": {cab + "/2"}}, "/key-sets/")
		k, err := e.st.GetKeySet(ctx, sc, ks)
		MustNoErr(t, err)
		if k.Label != "Flat 3" || !k.Sensitive || k.PINRequired || k.MaxOut != 90*time.Minute {
			t.Errorf("key set: %+v", k)
		}
		MustHome(t, e, sc, cab, 2, ks)
		// Another key set cannot take the same slot.
		MustPage(t, w.post(t, "/key-sets/new", url.Values{"site": {site}, "label": {"Flat 4"}, "slot": {cab + "/2"}}), http.StatusConflict, "homes another key set", `value="Flat 4"`)
		MustPage(t, w.post(t, "/key-sets/"+ks, url.Values{"label": {"Flat 3 (front)"}, "pin_required": {"on"}, "slot": {cab + "/5"}}), http.StatusSeeOther)
		k, err = e.st.GetKeySet(ctx, sc, ks)
		MustNoErr(t, err)
		if k.Label != "Flat 3 (front)" || k.Sensitive || !k.PINRequired || k.MaxOut != 0 {
			t.Errorf("key set after edit: %+v", k)
		}
		MustHome(t, e, sc, cab, 5, ks)
		MustHome(t, e, sc, cab, 2, "")

		// QR tokens: issued once, rotated, revoked.
		w.get(t, "/key-sets/"+ks)
		p := MustPage(t, w.post(t, "/key-sets/"+ks+"/token", url.Values{"action": {"issue"}}), 200, "shown only this once", "data:image/png;base64,")
		tok1 := tokenText(t, p)
		if got, err := e.st.LookupToken(ctx, sc, tok1); err != nil || got.ID != ks {
			t.Errorf("issued token: %v %v", got.ID, err)
		}
		MustPage(t, w.post(t, "/key-sets/"+ks+"/token", url.Values{"action": {"issue"}}), http.StatusConflict, "rotate it")
		tok2 := tokenText(t, MustPage(t, w.post(t, "/key-sets/"+ks+"/token", url.Values{"action": {"rotate"}}), 200))
		if _, err := e.st.LookupToken(ctx, sc, tok1); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Errorf("rotated-out token still valid: %v", err)
		}
		MustPage(t, w.post(t, "/key-sets/"+ks+"/token", url.Values{"action": {"revoke"}}), http.StatusSeeOther)
		if _, err := e.st.LookupToken(ctx, sc, tok2); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Errorf("revoked token still valid: %v", err)
		}
		if strings.Contains(e.logText(), tok2[4:]) {
			t.Error("a token is in the logs")
		}

		// Members: a kiosk-only member, their role and sites, badges, PIN.
		MustPage(t, w.get(t, "/people/new"), 200, "Add member")
		MustPage(t, w.post(t, "/people/new", url.Values{"name": {" "}, "email": {"cleo@acme.test"}, "role": {"staff"}, "site": {site}}),
			http.StatusBadRequest, "needs a name", `value="cleo@acme.test"`, `value="`+site+`" checked`)
		cleo := MustCreate(t, w, "/people/new", url.Values{"name": {"Cleo Porter"}, "email": {"cleo@acme.test"}, "role": {"staff"}}, "/people/")
		MustPage(t, w.post(t, "/people/"+cleo, url.Values{"role": {"site_manager"}, "site": {site}}), http.StatusSeeOther)
		m, err := e.st.GetMember(ctx, sc, cleo)
		MustNoErr(t, err)
		if m.Role != keycab.RoleSiteManager || len(m.SiteIDs) != 1 || m.SiteIDs[0] != site {
			t.Errorf("member after edit: %+v", m)
		}
		MustPage(t, w.post(t, "/people/"+cleo, url.Values{"role": {"emperor"}, "site": {site}}), http.StatusBadRequest, "unknown role", `value="`+site+`" checked`)
		MustPage(t, w.post(t, "/people/"+cleo+"/badges", url.Values{"kind": {"telepathy"}, "code": {"0004211337"}}), http.StatusBadRequest, "unknown badge kind", `value="0004211337"`)
		MustPage(t, w.post(t, "/people/"+cleo+"/badges", url.Values{"kind": {"rfid"}, "code": {"0004211337"}}), http.StatusSeeOther)
		if got, err := e.st.FindBadge(ctx, sc, "0004211337"); err != nil || got.ID != cleo {
			t.Errorf("badge: %v %v", got.ID, err)
		}
		bp := MustPage(t, w.get(t, "/people/"+cleo), 200, "Valid")
		ref := regexp.MustCompile(`/people/` + cleo + `/badges/([0-9a-f]+)/revoke`).FindStringSubmatch(bp.body)
		if ref == nil {
			t.Fatal("no revoke form for the badge")
		}
		MustPage(t, w.post(t, ref[0], nil), http.StatusSeeOther)
		if _, err := e.st.FindBadge(ctx, sc, "0004211337"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Errorf("revoked badge still found: %v", err)
		}
		MustPage(t, w.post(t, "/people/"+cleo+"/pin", url.Values{"action": {"set"}, "pin": {"12a4"}}), http.StatusBadRequest, "4 to 12 digits")
		MustPage(t, w.post(t, "/people/"+cleo+"/pin", url.Values{"action": {"set"}, "pin": {"482916"}}), http.StatusSeeOther)
		MustPage(t, w.post(t, "/people/"+cleo+"/pin", url.Values{"action": {"clear"}}), http.StatusSeeOther)

		// Reservations, typed in the site's wall-clock time (BST in July).
		MustPage(t, w.post(t, "/key-sets/"+ks+"/reservations", url.Values{"member": {cleo}, "from": {"2026-07-01T09:00"}, "until": {"2026-07-01T08:00"}}),
			http.StatusBadRequest, "must end after it starts", `value="2026-07-01T09:00"`, `value="2026-07-01T08:00"`)
		MustPage(t, w.post(t, "/key-sets/"+ks+"/reservations", url.Values{"member": {cleo}, "from": {"2026-07-01T09:00"}, "until": {"2026-07-01T12:30"}}), http.StatusSeeOther)
		rs, err := e.st.ListReservations(ctx, sc, ks)
		MustNoErr(t, err)
		if len(rs) != 1 || !rs[0].From.Equal(time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)) || !rs[0].Until.Equal(time.Date(2026, 7, 1, 11, 30, 0, 0, time.UTC)) {
			t.Fatalf("reservations: %+v", rs)
		}
		MustPage(t, w.get(t, "/key-sets/"+ks), 200, "1 Jul 2026 09:00 BST (Europe/London)", "1 Jul 2026 12:30 BST (Europe/London)")
		MustPage(t, w.post(t, "/key-sets/"+ks+"/reservations", url.Values{"member": {cleo}, "from": {"2026-07-01T12:00"}, "until": {"2026-07-01T13:00"}}),
			http.StatusConflict, "overlaps", `value="2026-07-01T12:00"`)
		MustPage(t, w.post(t, "/key-sets/"+ks+"/reservations/"+rs[0].ID+"/cancel", nil), http.StatusSeeOther)
		if rs, _ = e.st.ListReservations(ctx, sc, ks); len(rs) != 0 {
			t.Errorf("reservation not cancelled: %+v", rs)
		}

		// A contractor's job, in the key set's site's zone (GMT in March).
		dev := MustCreate(t, w, "/people/new", url.Values{"name": {"Dev Sparks"}, "role": {"contractor"}, "site": {site}}, "/people/")
		MustPage(t, w.get(t, "/people/"+dev), 200, "Add job")
		MustPage(t, w.post(t, "/people/"+dev+"/jobs", url.Values{"descriptor": {"WO-77"}, "from": {"2026-03-05T08:00"}, "until": {"2026-03-05T17:00"}}),
			http.StatusBadRequest, "at least one key set", `value="WO-77"`)
		MustPage(t, w.post(t, "/people/"+dev+"/jobs", url.Values{"descriptor": {"WO-77"}, "key_set": {ks}, "from": {"2026-03-05 8am"}, "until": {"2026-03-05T17:00"}}),
			http.StatusBadRequest, "not a date and time", `value="2026-03-05 8am"`, `value="`+ks+`" checked`)
		MustPage(t, w.post(t, "/people/"+dev+"/jobs", url.Values{"descriptor": {"WO-77"}, "key_set": {ks}, "from": {"2026-03-05T08:00"}, "until": {"2026-03-05T17:00"}}), http.StatusSeeOther)
		jobs, err := e.st.ListJobs(ctx, sc, dev)
		MustNoErr(t, err)
		if len(jobs) != 1 || !jobs[0].From.Equal(time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)) || jobs[0].Descriptor != "WO-77" {
			t.Fatalf("jobs: %+v", jobs)
		}
		MustPage(t, w.get(t, "/people/"+dev), 200, "5 Mar 2026 08:00 GMT (Europe/London)", "5 Mar 2026 17:00 GMT (Europe/London)", "WO-77")
		// Changed: the form shows the window in the site's zone; a bad
		// window comes back as typed; a good one is saved.
		jp := "/people/" + dev + "/jobs/" + jobs[0].ID
		MustPage(t, w.get(t, jp), 200, `value="WO-77"`, `value="2026-03-05T08:00"`, `value="2026-03-05T17:00"`, `value="`+ks+`" checked`)
		MustPage(t, w.post(t, jp, url.Values{"descriptor": {"WO-77b"}, "key_set": {ks}, "from": {"2026-03-05T08:00"}, "until": {"2026-03-05T07:00"}}),
			http.StatusBadRequest, "must end after it starts", `value="WO-77b"`, `value="2026-03-05T07:00"`)
		MustPage(t, w.post(t, jp, url.Values{"descriptor": {"WO-77b"}, "key_set": {ks}, "from": {"2026-03-05T08:00"}, "until": {"2026-03-05T18:30"}}), http.StatusSeeOther)
		jobs, err = e.st.ListJobs(ctx, sc, dev)
		MustNoErr(t, err)
		if len(jobs) != 1 || !jobs[0].Until.Equal(time.Date(2026, 3, 5, 18, 30, 0, 0, time.UTC)) || jobs[0].Descriptor != "WO-77b" {
			t.Fatalf("jobs after change: %+v", jobs)
		}
		MustPage(t, w.post(t, "/people/"+dev+"/jobs/"+jobs[0].ID+"/end", nil), http.StatusSeeOther)
		if jobs, _ = e.st.ListJobs(ctx, sc, dev); len(jobs) != 0 {
			t.Errorf("job not ended: %+v", jobs)
		}
		MustPage(t, w.post(t, "/people/"+dev+"/remove", nil), http.StatusSeeOther)
		if _, err := e.st.GetMember(ctx, sc, dev); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Errorf("removed member: %v", err)
		}

		// Deletes: a site in use is refused and kept; emptied, it goes.
		MustPage(t, w.post(t, "/sites/"+site+"/delete", nil), http.StatusConflict)
		MustPage(t, w.post(t, "/cabinets/"+cab+"/edit", url.Values{"name": {"Front desk cabinet"}, "kind": {"slotted"}, "slots": {"2"}}), http.StatusConflict, "homes a key set", `value="2"`)
		MustPage(t, w.post(t, "/key-sets/"+ks, url.Values{"label": {"Flat 3 (front)"}, "slot": {""}}), http.StatusSeeOther)
		MustPage(t, w.post(t, "/key-sets/"+ks+"/delete", nil), http.StatusSeeOther)
		MustPage(t, w.post(t, "/cabinets/"+cab+"/delete", nil), http.StatusSeeOther)
		MustPage(t, w.post(t, "/people/"+cleo+"/remove", nil), http.StatusSeeOther)
		MustPage(t, w.post(t, "/sites/"+site+"/delete", nil), http.StatusSeeOther)
		if _, err := e.st.GetSite(ctx, sc, site); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Errorf("deleted site: %v", err)
		}

		// Every change above is in HQ's admin log, by the owner.
		log, err := e.st.ListAdminLog(ctx, sc, 500)
		MustNoErr(t, err)
		seen := map[string]bool{}
		for _, a := range log {
			if a.ActorID != owner {
				t.Errorf("action %s logged as %s, want the owner %s", a.Action, a.ActorID, owner)
			}
			seen[a.Action] = true
		}
		for _, want := range []string{"site.create", "site.update", "site.notes", "site.delete", "cabinet.create", "cabinet.update", "cabinet.delete",
			"slot.set", "key_set.create", "key_set.update", "key_set.delete", "token.issue", "token.rotate", "token.revoke",
			"member.create", "member.role", "member.sites", "member.remove", "member.pin", "badge.add", "badge.revoke",
			"reservation.create", "reservation.delete", "job.create", "job.update", "job.delete"} {
			if !seen[want] {
				t.Errorf("admin log lacks %s", want)
			}
		}
	}
}

// MustHome fails unless slot n of cabinet cab homes key set ks ("" for
// free).
func MustHome(tb testing.TB, e *env, sc store.Scope, cab string, n int, ks string) {
	tb.Helper()
	slots, err := e.st.ListSlots(context.Background(), sc, cab)
	MustNoErr(tb, err)
	for _, sl := range slots {
		if sl.Number == n {
			if sl.KeySetID != ks {
				tb.Errorf("slot %d homes %q, want %q", n, sl.KeySetID, ks)
			}
			return
		}
	}
	tb.Errorf("no slot %d", n)
}

var tokenCode = regexp.MustCompile(`data-testid="token-text">([^<]+)<`)

func tokenText(tb testing.TB, p page) string {
	tb.Helper()
	m := tokenCode.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("no token on the page:\n%s", p.body)
	}
	return m[1]
}

// Roles below what a change needs are refused on every POST, whatever
// the page offered, and nothing changes; a site manager manages cabinets
// and key sets but not sites.
func TestDashboardManageRoles(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	ctx := context.Background()
	owner := e.web()
	owner.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	s := MustSeed(t, e, owner, e.clock.Now(), 4)
	sc := e.scopeOf(t, owner)
	auditor := e.MustJoinWeb(t, owner, "audit@acme.test", keycab.RoleAuditor)
	staff := e.MustJoinWeb(t, owner, "staff@acme.test", keycab.RoleStaff)
	manager := e.MustJoinWeb(t, owner, "manager@acme.test", keycab.RoleSiteManager)
	contractor, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Con", Role: keycab.RoleContractor})
	MustNoErr(t, err)
	job, err := e.st.CreateJob(ctx, sc, keycab.Job{MemberID: contractor.ID, KeySetIDs: []string{s.ksFront.ID}, From: e.clock.Now(), Until: e.clock.Now().Add(time.Hour)})
	MustNoErr(t, err)
	res, err := e.st.CreateReservation(ctx, sc, keycab.Reservation{KeySetID: s.ksBack.ID, MemberID: s.dana.ID, From: e.clock.Now().Add(time.Hour), Until: e.clock.Now().Add(2 * time.Hour)})
	MustNoErr(t, err)
	_, err = e.st.AddBadge(ctx, sc, s.dana.ID, keycab.BadgeRFID, "777")
	MustNoErr(t, err)
	badges, err := e.st.ListBadges(ctx, sc, s.dana.ID)
	MustNoErr(t, err)
	badge := hex.EncodeToString(badges[0].Hash)
	owners := e.scopeOf(t, owner)
	ownerID := s.ownerID

	posts := []struct {
		path string
		form url.Values
	}{
		{"/sites/new", url.Values{"name": {"Nope"}, "time_zone": {"UTC"}}},
		{"/sites/" + s.siteA.ID + "/edit", url.Values{"name": {"Renamed"}, "time_zone": {"UTC"}}},
		{"/sites/" + s.siteB.ID + "/delete", nil},
		{"/cabinets/new", url.Values{"site": {s.siteA.ID}, "name": {"Nope"}, "kind": {"slotted"}}},
		{"/cabinets/" + s.cabA.ID + "/edit", url.Values{"name": {"Renamed"}, "kind": {"slotted"}, "slots": {"1"}}},
		{"/cabinets/" + s.cabB.ID + "/delete", nil},
		{"/key-sets/new", url.Values{"site": {s.siteA.ID}, "label": {"Nope"}}},
		{"/key-sets/" + s.ksFront.ID, url.Values{"label": {"Renamed"}}},
		{"/key-sets/" + s.ksFormula.ID + "/delete", nil},
		{"/key-sets/" + s.ksFront.ID + "/token", url.Values{"action": {"issue"}}},
		{"/key-sets/" + s.ksFront.ID + "/token", url.Values{"action": {"revoke"}}},
		{"/key-sets/" + s.ksBack.ID + "/reservations", url.Values{"member": {s.dana.ID}, "from": {"2026-04-01T09:00"}, "until": {"2026-04-01T10:00"}}},
		{"/key-sets/" + s.ksBack.ID + "/reservations/" + res.ID + "/cancel", nil},
		{"/people/new", url.Values{"name": {"Nope"}, "role": {"staff"}}},
		{"/people/" + s.dana.ID, url.Values{"role": {"admin"}}},
		{"/people/" + s.dana.ID + "/remove", nil},
		{"/people/" + s.dana.ID + "/badges", url.Values{"kind": {"rfid"}, "code": {"888"}}},
		{"/people/" + s.dana.ID + "/badges/" + badge + "/revoke", nil},
		{"/people/" + s.dana.ID + "/pin", url.Values{"action": {"set"}, "pin": {"1234"}}},
		{"/people/" + contractor.ID + "/jobs", url.Values{"key_set": {s.ksFront.ID}, "from": {"2026-04-01T09:00"}, "until": {"2026-04-01T10:00"}}},
		{"/people/" + contractor.ID + "/jobs/" + job.ID + "/end", nil},
		{"/people/" + contractor.ID + "/jobs/" + job.ID, url.Values{"key_set": {s.ksFront.ID}, "from": {"2026-04-01T09:00"}, "until": {"2026-04-01T11:00"}}},
		{"/people/" + ownerID + "/remove", nil},
	}
	before, err := e.st.ListAdminLog(ctx, owners, 1000)
	MustNoErr(t, err)
	// Each post gets a copy of the form: post fills in the client's CSRF
	// token.
	for _, who := range []struct {
		name string
		w    *web
	}{{"auditor", auditor}, {"staff", staff}} {
		for _, p := range posts {
			who.w.get(t, "/settings")
			got := who.w.post(t, p.path, maps.Clone(p.form))
			if got.status != http.StatusForbidden && got.status != http.StatusNotFound || strings.Contains(got.body, "form has expired") {
				t.Errorf("%s POST %s: %d, want 403 or 404 from the store\n%s", who.name, p.path, got.status, got.body)
			}
		}
	}
	// The form pages are not offered to them either.
	for _, path := range []string{"/sites/new", "/sites/" + s.siteA.ID + "/edit", "/cabinets/new", "/cabinets/" + s.cabA.ID + "/edit",
		"/key-sets/new", "/people/new", "/people/" + contractor.ID + "/jobs/new", "/people/" + contractor.ID + "/jobs/" + job.ID} {
		MustPage(t, staff.get(t, path), http.StatusForbidden)
	}
	if p := MustPage(t, auditor.get(t, "/key-sets/"+s.ksFront.ID), 200, "Front door"); strings.Contains(p.body, "Issue token") || strings.Contains(p.body, "Delete key set") {
		t.Error("auditor offered to change a key set")
	}
	if p := MustPage(t, auditor.get(t, "/people/"+s.dana.ID), 200, "Dana Whitlock"); strings.Contains(p.body, "Add badge") || strings.Contains(p.body, "Remove member") {
		t.Error("auditor offered to change a member")
	}
	after, err := e.st.ListAdminLog(ctx, owners, 1000)
	MustNoErr(t, err)
	if len(after) != len(before) {
		t.Errorf("refused requests changed things: %d admin log entries before, %d after", len(before), len(after))
	}
	// The forms need the session's CSRF token, and a same-origin request.
	owner.get(t, "/sites/new")
	MustPage(t, owner.post(t, "/sites/new", url.Values{"name": {"Forged"}, "time_zone": {"UTC"}, "csrf": {"forged"}}), http.StatusForbidden, "form has expired")
	MustPage(t, owner.do(t, "POST", "/sites/new", url.Values{"name": {"Forged"}, "time_zone": {"UTC"}, "csrf": {owner.csrf}},
		"Origin", "http://evil.test", "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	sites, err := e.st.ListSites(ctx, sc)
	MustNoErr(t, err)
	for _, st := range sites {
		if st.Name == "Forged" {
			t.Error("a forged form made a site")
		}
	}
	// A site manager: not sites, nor an admin's or owner's membership;
	// cabinets and key sets, yes.
	manager.get(t, "/settings")
	MustPage(t, manager.post(t, "/sites/new", url.Values{"name": {"Nope"}, "time_zone": {"UTC"}}), http.StatusForbidden)
	MustPage(t, manager.post(t, "/sites/"+s.siteB.ID+"/delete", nil), http.StatusForbidden)
	MustPage(t, manager.post(t, "/people/"+ownerID, url.Values{"role": {"staff"}}), http.StatusForbidden)
	MustPage(t, manager.post(t, "/people/new", url.Values{"name": {"Boss"}, "role": {"admin"}}), http.StatusForbidden, `value="Boss"`)
	MustCreate(t, manager, "/cabinets/new", url.Values{"site": {s.siteA.ID}, "name": {"Back office"}, "kind": {"open-shelf"}}, "/cabinets/")
	MustCreate(t, manager, "/key-sets/new", url.Values{"site": {s.siteA.ID}, "label": {"Bin store"}}, "/key-sets/")
	// Another organisation's ids are 404, and the forms do not render.
	other := e.web()
	other.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
	for _, path := range []string{"/sites/" + s.siteA.ID + "/edit", "/cabinets/" + s.cabA.ID + "/edit", "/key-sets/" + s.ksFront.ID, "/people/" + s.dana.ID} {
		MustPage(t, other.get(t, path), http.StatusNotFound)
	}
	for _, p := range posts {
		if got := other.post(t, p.path, maps.Clone(p.form)); got.status != http.StatusNotFound && !(p.path == "/sites/new" || p.path == "/people/new" || p.path == "/cabinets/new" || p.path == "/key-sets/new") {
			t.Errorf("other org POST %s: %d, want 404\n%s", p.path, got.status, got.body)
		}
	}
	st, err := e.st.GetSite(ctx, sc, s.siteA.ID)
	MustNoErr(t, err)
	if st.Name != s.siteA.Name {
		t.Errorf("site renamed to %q by a refused request", st.Name)
	}
}
