package dashboard

import (
	"net/http"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// orgData is the organisation page's: its deletion, if scheduled.
type orgData struct {
	Deletion store.OrgDeletion
	Owner    bool
}

func (d *Dashboard) orgView(r *http.Request, v *viewer) (view, error) {
	del, err := d.Store.OrgDeletion(r.Context(), v.P.Scope())
	if err != nil {
		return view{}, err
	}
	return view{Title: "Organisation", Nav: "settings", V: v, Data: orgData{Deletion: del, Owner: v.Role == keycab.RoleOwner}}, nil
}

// organisation shows the organisation and, to owners, its deletion: the
// exports first, then the form (password, code, the name typed).
func (d *Dashboard) organisation(w http.ResponseWriter, r *http.Request, v *viewer) error {
	vw, err := d.orgView(r, v)
	if err != nil {
		return err
	}
	d.render(w, r, http.StatusOK, "organisation", vw)
	return nil
}

func (d *Dashboard) deleteOrg(w http.ResponseWriter, r *http.Request, v *viewer) error {
	fail := func(err error) error {
		vw, verr := d.orgView(r, v)
		if verr != nil {
			return verr
		}
		d.formError(w, r, "organisation", vw, err)
		return nil
	}
	sc := v.P.Scope()
	if err := d.Store.CheckOwner(r.Context(), sc, "deleting the organisation"); err != nil {
		return fail(err)
	}
	if err := d.Auth.Reauthenticate(r.Context(), v.P, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		return fail(err)
	}
	if _, err := d.Store.ScheduleOrgDeletion(r.Context(), sc, r.PostFormValue("confirm"), d.DeletionGrace); err != nil {
		return fail(err)
	}
	http.Redirect(w, r, "/organisation?notice=org-deleting", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) restoreOrg(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.RestoreOrg(r.Context(), v.P.Scope()); err != nil {
		vw, verr := d.orgView(r, v)
		if verr != nil {
			return verr
		}
		d.formError(w, r, "organisation", vw, err)
		return nil
	}
	http.Redirect(w, r, "/organisation?notice=org-restored", http.StatusSeeOther)
	return nil
}
