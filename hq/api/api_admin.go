package api

import (
	"net/http"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/wire"
)

// enrolTTL reads the token's lifetime from the request: the body's
// ttl_hours, or the store's default (24 hours) when there is no body.
func enrolTTL(r *http.Request) (time.Duration, error) {
	if r.ContentLength == 0 {
		return store.DefaultEnrolTokenTTL, nil
	}
	var in EnrolTokenRequest
	if err := hq.Decode(r, &in); err != nil {
		return 0, err
	}
	return store.EnrolTokenTTL(in.TTLHours)
}

// enrolCode is the enrolment code of one of this HQ's tokens: HQ's base
// URL and the token as one text, which a kiosk's setup screen reads from
// a QR code.
func (s *API) enrolCode(token string) string {
	return wire.EnrolCode{HQ: s.Auth.BaseURL(), Token: token}.String()
}

// createEnrolToken issues a single-use token that enrols one kiosk for the
// cabinet; its text (and the enrolment code that carries it) is answered
// once and stored only as a hash.
func (s *API) createEnrolToken(w http.ResponseWriter, r *http.Request) error {
	ttl, err := enrolTTL(r)
	if err != nil {
		return err
	}
	text, tok, err := s.Store.CreateEnrolToken(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"), ttl)
	if err != nil {
		return err
	}
	created(w, EnrolToken{Token: text, EnrolCode: s.enrolCode(text), CabinetID: tok.CabinetID, ExpiresAt: tok.ExpiresAt})
	return nil
}

// listAdminLog answers HQ's own log of admin actions, newest first.
func (s *API) listAdminLog(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 1000 {
			return keycab.Errorf(keycab.EINVALID, "limit must be between 1 and 1000")
		}
		limit = n
	}
	as, err := s.Store.ListAdminLog(r.Context(), principalOf(r.Context()).Scope(), limit)
	if err != nil {
		return err
	}
	out := AdminLog{Actions: make([]AdminAction, 0, len(as))}
	for _, a := range as {
		out.Actions = append(out.Actions, AdminAction{ID: a.ID, At: a.At, ActorID: a.ActorID, ActorRole: string(a.ActorRole),
			Action: a.Action, Target: a.Target, Detail: a.Detail})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

// revokeKiosk revokes a kiosk's key: its requests fail from now on, its
// log and history stay (a lost or replaced kiosk).
func (s *API) revokeKiosk(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.RevokeKiosk(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
