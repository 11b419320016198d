package api

import (
	"net/http"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// SCIM tokens (store/scim.go): an identity provider's SCIM client
// provisions the organisation's members and member groups at /scim/v2/
// (hq/scim) with one. They are no API keys: no /v1 route takes them, and
// no API key may make, list or revoke them (no scope names these routes).

func scimTokenOf(k store.APIKey) SCIMToken {
	return SCIMToken{ID: k.ID, Name: k.Name, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt,
		LastUsedAt: timePtr(k.LastUsedAt), RevokedAt: timePtr(k.RevokedAt)}
}

func (s *API) listSCIMTokens(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.Store.Provisioning().ListSCIMTokens(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := SCIMTokenList{SCIMTokens: []SCIMToken{}}
	for _, k := range ks {
		out.SCIMTokens = append(out.SCIMTokens, scimTokenOf(k))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) createSCIMToken(w http.ResponseWriter, r *http.Request) error {
	var in SCIMTokenRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	k, token, err := s.Auth.CreateSCIMToken(r.Context(), principalOf(r.Context()), in.Name)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusCreated, IssuedSCIMToken{SCIMToken: scimTokenOf(k), Token: token, BaseURL: s.Auth.BaseURL() + "/scim/v2/"})
	return nil
}

func (s *API) revokeSCIMToken(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Store.Provisioning().RevokeSCIMToken(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, scimTokenOf(k))
	return nil
}
