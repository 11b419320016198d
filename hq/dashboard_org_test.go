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
