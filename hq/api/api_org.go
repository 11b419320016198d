package api

import (
	"bytes"
	"net/http"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/export"
	"keycab.dev/keycab/hq/store"
)

func orgDeletionOf(d store.OrgDeletion) OrgDeletion {
	return OrgDeletion{Scheduled: d.Scheduled(), RequestedAt: d.RequestedAt, RequestedBy: d.RequestedBy, DeleteAfter: d.DeleteAfter}
}

func (s *API) orgDeletion(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Store.OrgDeletion(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, orgDeletionOf(d))
	return nil
}

// deleteOrg schedules the organisation's deletion: the store checks the
// role and the typed name; the password (and code) are checked first.
func (s *API) deleteOrg(w http.ResponseWriter, r *http.Request) error {
	var in OrgDeletionRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p := principalOf(r.Context())
	if err := s.Store.CheckOwner(r.Context(), p.Scope(), "deleting the organisation"); err != nil {
		return err
	}
	if err := s.Auth.Reauthenticate(r.Context(), p, in.Password, in.Code); err != nil {
		return err
	}
	d, err := s.Store.ScheduleOrgDeletion(r.Context(), p.Scope(), in.Confirm, s.DeletionGrace)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusAccepted, orgDeletionOf(d))
	return nil
}

func (s *API) restoreOrg(w http.ResponseWriter, r *http.Request) error {
	sc := principalOf(r.Context()).Scope()
	if err := s.Store.RestoreOrg(r.Context(), sc); err != nil {
		return err
	}
	d, err := s.Store.OrgDeletion(r.Context(), sc)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, orgDeletionOf(d))
	return nil
}

// subjectAccess answers the member's subject-access archive; the store
// decides who may have it and logs that it was made.
func (s *API) subjectAccess(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.Store.SubjectAccess(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := export.WriteSubjectArchive(&buf, rec); err != nil {
		return err
	}
	w.Header().Set("Content-Type", export.SubjectArchiveType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+export.SubjectArchiveName(rec)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}
