package api

import (
	"net/http"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The single sign-on endpoints (owners only, never an API key): the
// organisation's OpenID Connect provider, its verified domains, the
// mapping of its groups claim to roles, and enforcement (store sso.go;
// the sign-in flow is the dashboard's /sso, hq/auth sso.go).

// SSORoleMap gives the members in an identity-provider group a role.
type SSORoleMap struct {
	Group   string   `json:"group" doc:"a value of the groups claim"`
	Role    string   `json:"role" doc:"admin, site_manager, staff, contractor or auditor (owners are made in keycab); the highest role a person's groups give wins"`
	SiteIDs []string `json:"site_ids,omitempty" doc:"the sites the role is scoped to; absent: every site"`
}

// SSOConfigRequest sets the organisation's SSO configuration.
type SSOConfigRequest struct {
	Issuer       string       `json:"issuer" doc:"the provider's issuer URL (https; discovery at /.well-known/openid-configuration)"`
	ClientID     string       `json:"client_id"`
	ClientSecret string       `json:"client_secret,omitempty" doc:"sealed under HQ's notes key and never answered; absent or empty: keep the stored one (a first configuration needs it)"`
	Domains      []string     `json:"domains" doc:"the email domains the provider vouches for; each belongs to one organisation"`
	GroupsClaim  string       `json:"groups_claim,omitempty" doc:"the ID token claim with the person's groups; absent: groups"`
	Roles        []SSORoleMap `json:"roles,omitempty" doc:"group values to roles; a person none maps is refused"`
	Enforce      bool         `json:"enforce,omitempty" doc:"absent: false. Refuse password sign-in, sign-in links and password resets to members but owners (whose password sign-in stays, as break-glass, in the admin log)"`
}

// SSOConfig is the organisation's SSO configuration, never its secret.
type SSOConfig struct {
	Issuer      string       `json:"issuer"`
	ClientID    string       `json:"client_id"`
	Domains     []string     `json:"domains"`
	GroupsClaim string       `json:"groups_claim"`
	Roles       []SSORoleMap `json:"roles"`
	Enforce     bool         `json:"enforce"`
	RedirectURI string       `json:"redirect_uri" doc:"register this with the provider"`
	SignInURL   string       `json:"sign_in_url" doc:"a link that starts a sign-in to this organisation"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

func (s *API) ssoOf(c store.SSOConfig) SSOConfig {
	out := SSOConfig{Issuer: c.Issuer, ClientID: c.ClientID, Domains: nonNil(c.Domains), GroupsClaim: c.GroupsClaim,
		Roles: []SSORoleMap{}, Enforce: c.Enforce, UpdatedAt: c.UpdatedAt,
		RedirectURI: s.Auth.BaseURL() + "/sso/callback", SignInURL: s.Auth.BaseURL() + "/sso/start?org=" + c.OrgID}
	for _, m := range c.Roles {
		out.Roles = append(out.Roles, SSORoleMap{Group: m.Group, Role: string(m.Role), SiteIDs: m.SiteIDs})
	}
	return out
}

func (s *API) getSSO(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Store.Accounts().GetSSOConfig(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, s.ssoOf(c))
	return nil
}

func (s *API) putSSO(w http.ResponseWriter, r *http.Request) error {
	var in SSOConfigRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	c := store.SSOConfig{Issuer: in.Issuer, ClientID: in.ClientID, Domains: in.Domains, GroupsClaim: in.GroupsClaim, Enforce: in.Enforce}
	for _, m := range in.Roles {
		c.Roles = append(c.Roles, store.SSORoleMap{Group: m.Group, Role: keycab.Role(m.Role), SiteIDs: m.SiteIDs})
	}
	out, err := s.Store.Accounts().SetSSOConfig(r.Context(), principalOf(r.Context()).Scope(), c, in.ClientSecret)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, s.ssoOf(out))
	return nil
}

func (s *API) deleteSSO(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.Accounts().DeleteSSOConfig(r.Context(), principalOf(r.Context()).Scope()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
