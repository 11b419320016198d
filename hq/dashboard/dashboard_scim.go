package dashboard

import (
	"net/http"
	"time"

	"keycab.dev/keycab/hq/store"
)

// The SCIM page (owners and admins make and revoke; auditors see): the
// organisation's SCIM tokens, with which an identity provider provisions
// members and member groups at /scim/v2/ (store scim.go, hq/scim); a new
// token is shown once, with the base URL to give the identity provider.

type scimPage struct {
	Tokens  []store.APIKey
	Token   string // a token just made, shown this once
	BaseURL string
	Name    string
	Now     time.Time
}

func (d *Dashboard) scimTokens(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderSCIM(w, r, v, "", "", "", nil)
}

func (d *Dashboard) renderSCIM(w http.ResponseWriter, r *http.Request, v *viewer, name, token, notice string, ferr error) error {
	ts, err := d.Store.Provisioning().ListSCIMTokens(r.Context(), v.P.Scope())
	if err != nil {
		return err
	}
	d.renderForm(w, r, "scim", view{Title: "SCIM provisioning", Nav: "settings", V: v, Notice: notice,
		Data: scimPage{Tokens: ts, Token: token, BaseURL: d.Auth.BaseURL() + "/scim/v2/", Name: name, Now: d.now()}}, ferr)
	return nil
}

func (d *Dashboard) createSCIMToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	name := formValue(r, "name")
	_, token, err := d.Auth.CreateSCIMToken(r.Context(), v.P, name)
	if err != nil {
		return d.renderSCIM(w, r, v, name, "", "", err)
	}
	return d.renderSCIM(w, r, v, "", token, v.T("notice.scim_token_made"), nil)
}

func (d *Dashboard) revokeSCIMToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := d.Store.Provisioning().RevokeSCIMToken(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/scim-tokens?notice=scim-token-revoked")
}
