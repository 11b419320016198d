package dashboard

import (
	"net/http"

	"keycab.dev/keycab/hq/labels"
)

// The labels page prints QR label sheets (labels.Print) for a site's key
// sets, a cabinet's slots or chosen key sets. Printing rotates their
// tokens, so the page says so and the browser asks before it prints.

func (d *Dashboard) labelsPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderLabels(w, r, v, nil)
}

func (d *Dashboard) renderLabels(w http.ResponseWriter, r *http.Request, v *viewer, ferr error) error {
	dir, err := d.directory(r.Context(), v)
	if err != nil {
		return err
	}
	d.renderForm(w, r, "labels", view{Title: "Print QR labels", Nav: "keysets", V: v, Data: dir}, ferr)
	return nil
}

// printLabels answers the PDF of the chosen labels as a download, or the
// page again with why not.
func (d *Dashboard) printLabels(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	c := labels.Choice{SiteID: formValue(r, "site_id"), CabinetID: formValue(r, "cabinet_id"), KeySetIDs: r.PostForm["key_set_ids"]}
	out, err := labels.Print(r.Context(), d.Store, v.P.Scope(), c)
	if err != nil {
		return d.renderLabels(w, r, v, err)
	}
	w.Header().Set("Content-Type", out.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+out.Filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(out.Body)
	return nil
}
