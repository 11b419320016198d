package hq

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// SeesAdminLog reports whether the viewer may read HQ's admin log (the
// store decides; this only hides a link that would fail).
func (v *viewer) SeesAdminLog() bool { return v.Admin() || v.Role == keycab.RoleAuditor }

// enrolShown is an enrolment token just issued, shown once on the
// cabinet's page with the command that enrols the kiosk.
type enrolShown struct {
	Token   string
	Expires time.Time
	Command string
}

// enrolToken issues a single-use kiosk enrolment token for the cabinet.
func (d *dashboard) enrolToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	h, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("ttl_hours")))
	if err != nil {
		h = 0
	}
	ttl, err := hoursTTL(h)
	if err != nil {
		return err
	}
	text, tok, err := d.s.Store.CreateEnrolToken(r.Context(), v.P.Scope(), r.PathValue("id"), ttl)
	if err != nil {
		return err
	}
	return d.cabinetPage(w, r, v, &enrolShown{Token: text, Expires: tok.ExpiresAt,
		Command: "sudo -u keycab keycab-kiosk enroll --hq " + d.s.Auth.BaseURL() + " --token " + text + " --wiring /etc/keycab/kiosk.conf"})
}

// auditLog shows HQ's own append-only log of admin actions.
func (d *dashboard) auditLog(w http.ResponseWriter, r *http.Request, v *viewer) error {
	as, err := d.s.Store.ListAdminLog(r.Context(), v.P.Scope(), 500)
	if err != nil {
		return err
	}
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "audit", view{Title: "Admin log", Nav: "audit", V: v, Data: struct {
		Actions any
		Dir     *directory
	}{as, dir}})
	return nil
}

// revokeKiosk revokes a kiosk's key from the kiosks page.
func (d *dashboard) revokeKiosk(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.s.Store.RevokeKiosk(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/kiosks?notice=kioskrevoked", http.StatusSeeOther)
	return nil
}
