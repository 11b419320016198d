package hq_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keycab.dev/keycab"
)

// The organisation page: an owner deletes with password and the typed
// name (the export offered first), every page then says so, an admin is
// refused, and the owner restores.
func TestDashboardOrgDeletion(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			owner := e.web()
			owner.MustSignupWeb(t, "Acme", "Olive", "olive@acme.test")
			admin := e.MustJoinWeb(t, owner, "adam@acme.test", keycab.RoleAdmin)

			MustPage(t, owner.get(t, "/organisation"), 200, `data-testid="export-first"`, `name="confirm"`)
			MustPage(t, admin.get(t, "/organisation"), 200, "Only the organisation's owners")
			MustPage(t, admin.post(t, "/organisation/delete", url.Values{"password": {goodPassword}, "confirm": {"Acme"}}), http.StatusForbidden)
			MustPage(t, owner.post(t, "/organisation/delete", url.Values{"password": {"wrong wrong wrong"}, "confirm": {"Acme"}}), http.StatusUnauthorized, "wrong password")
			MustPage(t, owner.post(t, "/organisation/delete", url.Values{"password": {goodPassword}, "confirm": {"acme"}}), http.StatusBadRequest, "to confirm its deletion")
			p := MustPage(t, owner.post(t, "/organisation/delete", url.Values{"password": {goodPassword}, "confirm": {"Acme"}}), http.StatusSeeOther)
			MustPage(t, owner.get(t, p.location()), 200, `data-testid="org-deleting"`, `data-testid="restore-org"`, "Its kiosks and other members are refused")
			MustPage(t, owner.get(t, "/people"), 200, `data-testid="org-deleting"`)
			MustPage(t, admin.get(t, "/people"), http.StatusForbidden, "scheduled for deletion")
			MustPage(t, owner.post(t, "/organisation/restore", nil), http.StatusSeeOther)
			MustPage(t, admin.get(t, "/people"), 200)
			if p := owner.get(t, "/people"); p.status != 200 || strings.Contains(p.body, `data-testid="org-deleting"`) {
				t.Fatalf("after the restore: %d", p.status)
			}
		})
	}
}

// The settings page publishes the organisation's kiosk logs: owners and
// admins see the control, off by default; turning it on is in the admin
// log and shows where the logs are; staff are refused.
func TestDashboardPublicLogs(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			e := newDashEnv(t, eng, nil, false)
			owner := e.web()
			owner.MustSignupWeb(t, "Acme", "Olive", "olive@acme.test")
			admin := e.MustJoinWeb(t, owner, "adam@acme.test", keycab.RoleAdmin)
			staff := e.MustJoinWeb(t, owner, "sam@acme.test", keycab.RoleStaff)

			p := MustPage(t, admin.get(t, "/settings"), 200, `data-testid="public-logs"`, "Off: only signed-in")
			if strings.Contains(p.body, `name="public_logs" checked`) {
				t.Fatal("published by default")
			}
			if p := staff.get(t, "/settings"); strings.Contains(p.body, `data-testid="public-logs"`) {
				t.Fatal("staff see the control")
			}
			MustPage(t, staff.post(t, "/settings/public-logs", url.Values{"public_logs": {"on"}}), http.StatusForbidden)
			MustPage(t, owner.get(t, "/settings"), 200, "Off: only signed-in")
			MustPage(t, admin.post(t, "/settings/public-logs", url.Values{"public_logs": {"on"}}), http.StatusSeeOther)
			MustPage(t, owner.get(t, "/settings"), 200, `name="public_logs" checked`, "Published:", "/v1/kiosks/KIOSK/log/")
			MustPage(t, owner.get(t, "/audit"), 200, "org.public_logs")
			MustPage(t, owner.post(t, "/settings/public-logs", url.Values{}), http.StatusSeeOther)
			MustPage(t, admin.get(t, "/settings"), 200, "Off: only signed-in")
		})
	}
}
