package hq_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keycab.dev/keycab"
)

// The records page places and ends legal holds and sets retention rules
// (owners and admins; auditors read; staff see nothing), and a member's
// page erases them behind a typed confirmation, refused while a hold
// covers them.
func TestDashboardRecords(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newDashEnv(t, eng, nil, false)
			ctx := context.Background()
			owner := e.web()
			owner.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			sc := e.scopeOf(t, owner)
			pr, err := e.auth.Authenticate(ctx, owner.cookies["__Host-keycab_session"])
			MustNoErr(t, err)
			auditor := e.MustJoinWeb(t, owner, "audit@acme.test", keycab.RoleAuditor)
			staff := e.MustJoinWeb(t, owner, "staff@acme.test", keycab.RoleStaff)
			m, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Wendy Wipe", Email: "wendy@acme.test", Role: keycab.RoleStaff})
			MustNoErr(t, err)

			MustPage(t, owner.get(t, "/records"), 200, "Legal holds", "No legal holds.", `data-testid="hold-form"`, `data-testid="retention-form"`)
			MustPage(t, owner.post(t, "/records/retention", url.Values{"personal_text_days": {"many"}}), http.StatusBadRequest, "whole number")
			MustPage(t, owner.post(t, "/records/retention", url.Values{"personal_text_days": {"90"}, "deliveries_days": {"30"}, "sessions_days": {"7"}}), http.StatusSeeOther)
			MustPage(t, owner.post(t, "/records/holds", url.Values{"target": {"member:" + m.ID}, "owner_id": {pr.MemberID}, "reason": {""}}), http.StatusBadRequest, "needs a reason")
			MustPage(t, owner.post(t, "/records/holds", url.Values{"target": {"member:" + m.ID}, "owner_id": {pr.MemberID}, "reason": {"tribunal 7"}, "ends": {"2030-01-01T00:00"}}), http.StatusSeeOther)
			MustPage(t, auditor.get(t, "/records"), 200, "tribunal 7", "Member Wendy Wipe", "Personal texts 90 days", "Active")
			if p := auditor.get(t, "/records"); strings.Contains(p.body, `data-testid="hold-form"`) || strings.Contains(p.body, `data-testid="retention-form"`) {
				t.Error("an auditor is offered the hold or retention form")
			}
			MustPage(t, staff.get(t, "/records"), http.StatusForbidden)

			// The erase form asks for the name; a hold refuses it.
			MustPage(t, owner.get(t, "/people/"+m.ID), 200, `data-testid="erase-form"`, "Type <strong>Wendy Wipe</strong>")
			MustPage(t, owner.post(t, "/people/"+m.ID+"/erase", url.Values{"confirm": {"wendy"}}), http.StatusBadRequest, "exactly to confirm")
			MustPage(t, owner.post(t, "/people/"+m.ID+"/erase", url.Values{"confirm": {"Wendy Wipe"}}), http.StatusConflict, "legal hold", "tribunal 7")
			hs, err := e.st.ListHolds(ctx, sc)
			MustNoErr(t, err)
			MustPage(t, auditor.post(t, "/records/holds/"+hs[0].ID+"/end", nil), http.StatusForbidden)
			MustPage(t, owner.post(t, "/records/holds/"+hs[0].ID+"/end", nil), http.StatusSeeOther)
			MustPage(t, owner.post(t, "/people/"+m.ID+"/erase", url.Values{"confirm": {"Wendy Wipe"}}), http.StatusSeeOther)
			MustPage(t, owner.get(t, "/people/"+m.ID+"?notice=erased"), 200, "Erased member", "Personal data erased")
			got, err := e.st.GetMember(ctx, sc, m.ID)
			if err != nil || got.Name != "" || got.ErasedAt.IsZero() {
				t.Fatalf("member after erasure: %+v, %v", got, err)
			}
		})
	}
}
