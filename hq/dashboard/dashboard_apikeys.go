package dashboard

import (
	"net/http"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The API keys page (owners and admins make and revoke; auditors see):
// the organisation's service-account keys for the JSON API, with their
// scopes, expiry and last use; a new key's token is shown once
// (store apikey.go, auth apikey.go).

type apiKeysPage struct {
	Keys   []store.APIKey
	Scopes []apiKeyScope
	Token  string // a key just made, shown this once
	Form   apiKeyForm
	Now    time.Time
}

// apiKeyScope is a scope and the message id of what it allows.
type apiKeyScope struct{ Name, Says string }

// apiKeyScopes are the scopes as the page explains them
// (TestTitlesInCatalogue keeps their ids in the catalogue).
var apiKeyScopes = []apiKeyScope{
	{store.ScopeHistoryRead, "dash.apikeys.scope.history_read"},
	{store.ScopeCustodyWrite, "dash.apikeys.scope.custody_write"},
	{store.ScopePeopleWrite, "dash.apikeys.scope.people_write"},
	{store.ScopeCabinetsWrite, "dash.apikeys.scope.cabinets_write"},
}

type apiKeyForm struct {
	Name    string
	Scopes  []string
	Expires string // YYYY-MM-DD
}

// Has reports whether the form chose scope.
func (f apiKeyForm) Has(scope string) bool { return hasString(f.Scopes, scope) }

func (d *Dashboard) apiKeys(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderAPIKeys(w, r, v, apiKeyForm{Scopes: []string{store.ScopeHistoryRead},
		Expires: d.now().AddDate(1, 0, 0).Format(time.DateOnly)}, "", "", nil)
}

func (d *Dashboard) renderAPIKeys(w http.ResponseWriter, r *http.Request, v *viewer, f apiKeyForm, token, notice string, ferr error) error {
	ks, err := d.Store.Accounts().ListAPIKeys(r.Context(), v.P.Scope())
	if err != nil {
		return err
	}
	d.renderForm(w, r, "apikeys", view{Title: "API keys", Nav: "settings", V: v, Notice: notice,
		Data: apiKeysPage{Keys: ks, Scopes: apiKeyScopes, Token: token, Form: f, Now: d.now()}}, ferr)
	return nil
}

func (d *Dashboard) createAPIKey(w http.ResponseWriter, r *http.Request, v *viewer) error {
	r.ParseForm()
	f := apiKeyForm{Name: formValue(r, "name"), Scopes: r.PostForm["scope"], Expires: formValue(r, "expires")}
	var expires time.Time
	if f.Expires != "" {
		day, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil {
			return d.renderAPIKeys(w, r, v, f, "", "", keycab.Errorf(keycab.EINVALID, "%s", v.T("dash.apikeys.expiry_not_a_date")))
		}
		expires = day.Add(24*time.Hour - time.Second) // the end of that day, UTC
	}
	_, token, err := d.Auth.CreateAPIKey(r.Context(), v.P, f.Name, f.Scopes, expires)
	if err != nil {
		return d.renderAPIKeys(w, r, v, f, "", "", err)
	}
	return d.renderAPIKeys(w, r, v, apiKeyForm{}, token, v.T("notice.api_key_made"), nil)
}

func (d *Dashboard) revokeAPIKey(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := d.Store.Accounts().RevokeAPIKey(r.Context(), v.P.Scope(), r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/api-keys?notice=api-key-revoked")
}
