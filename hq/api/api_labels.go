package api

import (
	"net/http"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/labels"
)

// labels answers printable QR labels for key sets: those of a site, those
// homed in a cabinet's slots, or a list (labels.Print). Printing rotates
// their tokens, so labels printed before stop working: it is a POST for
// that reason.
func (s *API) labels(w http.ResponseWriter, r *http.Request) error {
	var in LabelsRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	out, err := labels.Print(r.Context(), s.Store, principalOf(r.Context()).Scope(),
		labels.Choice{SiteID: in.SiteID, CabinetID: in.CabinetID, KeySetIDs: in.KeySetIDs, Format: in.Format})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", out.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+out.Filename+`"`)
	w.Write(out.Body)
	return nil
}
