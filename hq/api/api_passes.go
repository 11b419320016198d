package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// PassRequest is the body of POST /v1/passes.
type PassRequest struct {
	KeySetIDs []string  `json:"key_set_ids" doc:"the key sets the pass lets its holder take"`
	MemberID  string    `json:"member_id" doc:"the holder: a contractor of the organisation working at the key sets' sites"`
	NotAfter  time.Time `json:"not_after" doc:"the pass works until this (exclusive), at most 31 days after not_before"`
	NotBefore time.Time `json:"not_before" doc:"the pass works from this"`
	Note      string    `json:"note,omitempty" doc:"what the pass is for (a work order); HQ's, not in the code"`
}

func (PassRequest) openAPI(s *openapi3.Schema) {
	s.Properties["key_set_ids"].Value.WithMinItems(1).WithMaxItems(keycab.MaxPassKeySets)
	s.Properties["note"].Value.WithMaxLength(keycab.MaxPassNote)
}

// Pass is an offline pass as HQ keeps it.
type Pass struct {
	Code      string    `json:"code,omitempty" doc:"the signed pass (keycab-pass:...), for a QR code; answered at issue"`
	ID        string    `json:"id"`
	IssuedAt  time.Time `json:"issued_at"`
	IssuedBy  string    `json:"issued_by"`
	KeySetIDs []string  `json:"key_set_ids"`
	MemberID  string    `json:"member_id"`
	NotAfter  time.Time `json:"not_after"`
	NotBefore time.Time `json:"not_before"`
	Note      string    `json:"note,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	State     string    `json:"state" doc:"valid, not_yet, expired or revoked, by HQ's clock"`
}

func (Pass) openAPI(s *openapi3.Schema) {
	s.Properties["state"].Value.WithEnum(keycab.PassValid, keycab.PassNotYet, keycab.PassExpired, keycab.PassRevoked)
}

func passOf(p keycab.Pass, now time.Time) Pass {
	return Pass{ID: p.ID, MemberID: p.MemberID, KeySetIDs: append([]string{}, p.KeySetIDs...), NotBefore: p.From, NotAfter: p.Until,
		IssuedAt: p.IssuedAt, IssuedBy: p.IssuedBy, Note: p.Note, RevokedAt: p.RevokedAt, RevokedBy: p.RevokedBy, State: p.State(now)}
}

// PassList is GET /v1/passes.
type PassList struct {
	Passes []Pass `json:"passes"`
}

func (s *API) createPass(w http.ResponseWriter, r *http.Request) error {
	var in PassRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p, code, err := s.Store.IssuePass(r.Context(), principalOf(r.Context()).Scope(), keycab.Pass{MemberID: in.MemberID,
		KeySetIDs: in.KeySetIDs, From: in.NotBefore, Until: in.NotAfter, Note: in.Note})
	if err != nil {
		return err
	}
	out := passOf(p, s.Store.Now())
	out.Code = code
	// The answer holds a credential: never cached.
	w.Header().Set("Cache-Control", "no-store")
	created(w, out)
	return nil
}

func (s *API) listPasses(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPassesListed {
			return keycab.Errorf(keycab.EINVALID, "limit must be a whole number from 1 to %d", store.MaxPassesListed)
		}
		limit = n
	}
	ps, err := s.Store.ListPasses(r.Context(), principalOf(r.Context()).Scope(), limit)
	if err != nil {
		return err
	}
	now := s.Store.Now()
	out := PassList{Passes: []Pass{}}
	for _, p := range ps {
		out.Passes = append(out.Passes, passOf(p, now))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) revokePass(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Store.RevokePass(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, passOf(p, s.Store.Now()))
	return nil
}
