package api

import (
	"net/http"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// importCSV previews or applies a CSV import (store.Import): 200 with
// every line's outcome for a preview, and for an import that stored
// everything; an import with any bad line stores nothing and answers
// 400 naming how many (a preview names them line by line).
func (s *API) importCSV(w http.ResponseWriter, r *http.Request) error {
	var in ImportRequest
	if err := hq.DecodeUpTo(r, &in, store.MaxImportBytes+4<<10); err != nil {
		return err
	}
	res, err := s.Store.Import(r.Context(), principalOf(r.Context()).Scope(), store.ImportKind(r.PathValue("kind")), []byte(in.CSV), in.Apply)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, importResultOf(res, hq.RequestLanguage(r)))
	return nil
}
