package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The lifecycle endpoints: erasing a member, legal holds and retention
// rules (store.EraseMember, CreateHold, SetRetention).

// eraseMember erases a member's personal data at HQ and, through the next
// bundles, on every kiosk. The body must repeat the member's id.
func (s *API) eraseMember(w http.ResponseWriter, r *http.Request) error {
	var in EraseRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if strings.TrimSpace(in.Confirm) != id {
		return keycab.Errorf(keycab.EINVALID, "confirm: type the member's id (%s) to confirm the erasure; it cannot be undone", id)
	}
	sc := principalOf(r.Context()).Scope()
	if err := s.Store.EraseMember(r.Context(), sc, id); err != nil {
		return err
	}
	m, err := s.Store.GetMember(r.Context(), sc, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, memberOf(m))
	return nil
}

func (HoldRequest) openAPI(s *openapi3.Schema) {
	s.Properties["reason"].Value.WithMinLength(1).WithMaxLength(500)
}

func (s *API) listHolds(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.Store.ListHolds(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := HoldList{Holds: make([]Hold, 0, len(hs))}
	now := time.Now()
	for _, h := range hs {
		out.Holds = append(out.Holds, holdOf(h, now))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createHold(w http.ResponseWriter, r *http.Request) error {
	var in HoldRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	h := store.Hold{Target: in.Target, TargetID: in.TargetID, Reason: in.Reason, OwnerID: in.OwnerID}
	if in.Ends != nil {
		h.Ends = *in.Ends
	}
	h, err := s.Store.CreateHold(r.Context(), principalOf(r.Context()).Scope(), h)
	if err != nil {
		return err
	}
	created(w, holdOf(h, time.Now()))
	return nil
}

func (s *API) endHold(w http.ResponseWriter, r *http.Request) error {
	h, err := s.Store.EndHold(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, holdOf(h, time.Now()))
	return nil
}

func (s *API) getRetention(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.Store.GetRetention(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Retention(rt))
	return nil
}

func (s *API) setRetention(w http.ResponseWriter, r *http.Request) error {
	var in Retention
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	sc := principalOf(r.Context()).Scope()
	if err := s.Store.SetRetention(r.Context(), sc, store.Retention(in)); err != nil {
		return err
	}
	return s.getRetention(w, r)
}
