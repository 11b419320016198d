package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// Single sign-on (hq/auth sso.go). The login page's "Sign in with SSO"
// form finds the organisation by work address (or its id) and answers a
// page with a link to /sso/start?org=ID, which an organisation may also
// publish itself: a link, not a redirect after the form, because the
// content security policy's form-action 'self' forbids a form's redirect
// to the identity provider. /sso/start sets the binding cookie and sends
// the browser to the provider; /sso/callback finishes the sign-in.

const ssoCookie = "__Host-keycab_sso"

type ssoForm struct {
	Email, OrgID, StartURL string
}

func (d *Dashboard) ssoPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "sso", view{Title: "Sign in with SSO", Data: ssoForm{OrgID: strings.TrimSpace(r.URL.Query().Get("org"))}})
}

func (d *Dashboard) ssoPost(w http.ResponseWriter, r *http.Request) {
	in := ssoForm{Email: strings.TrimSpace(r.PostFormValue("email")), OrgID: strings.TrimSpace(r.PostFormValue("org"))}
	orgID, err := d.Auth.SSOOrg(r.Context(), in.OrgID, in.Email)
	if err != nil {
		d.formError(w, r, "sso", view{Title: "Sign in with SSO", Data: in}, err)
		return
	}
	in.StartURL = "/sso/start?org=" + url.QueryEscape(orgID)
	d.render(w, r, http.StatusOK, "sso", view{Title: "Sign in with SSO", Data: in})
}

func (d *Dashboard) ssoStart(w http.ResponseWriter, r *http.Request) {
	org := strings.TrimSpace(r.URL.Query().Get("org"))
	u, bind, err := d.Auth.SSOStart(r.Context(), org, hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "sso", view{Title: "Sign in with SSO", Data: ssoForm{OrgID: org}}, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: bind, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Expires: d.now().Add(auth.SSOTTL)})
	http.Redirect(w, r, u, http.StatusFound)
}

func (d *Dashboard) ssoCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bind string
	if c, err := r.Cookie(ssoCookie); err == nil {
		bind = c.Value
	}
	clearCookie(w, ssoCookie)
	if e := q.Get("error"); e != "" {
		d.render(w, r, http.StatusUnauthorized, "sso", view{Title: "Sign in with SSO",
			Error: localizer(r, "").T("dash.sso.provider_refused", "Error", e), Data: ssoForm{}})
		return
	}
	res, err := d.Auth.SSOCallback(r.Context(), bind, q.Get("state"), q.Get("code"), hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "sso", view{Title: "Sign in with SSO", Data: ssoForm{}}, err)
		return
	}
	d.loginResult(w, r, res, "/")
}

// The SSO settings page (owners): the provider, verified domains, the
// groups claim and its mapping to roles and sites, and enforcement; the
// client secret is asked for, sealed, and never shown again.

type ssoSettings struct {
	Configured  bool
	Config      store.SSOConfig
	Rows        []store.SSORoleMap // the mappings and a few empty rows
	Sites       []store.Site
	Roles       []keycab.Role
	RedirectURI string
	SignInURL   string
}

// Site is the one site a row is scoped to ("" every site).
func (ssoSettings) Site(m store.SSORoleMap) string {
	if len(m.SiteIDs) == 1 {
		return m.SiteIDs[0]
	}
	return ""
}

var ssoRoles = []keycab.Role{keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleStaff, keycab.RoleContractor, keycab.RoleAuditor}

func (d *Dashboard) ssoSettings(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return d.renderSSOSettings(w, r, v, nil, "", nil)
}

func (d *Dashboard) renderSSOSettings(w http.ResponseWriter, r *http.Request, v *viewer, form *store.SSOConfig, notice string, ferr error) error {
	ctx, sc := r.Context(), v.P.Scope()
	c, err := d.Store.Accounts().GetSSOConfig(ctx, sc)
	configured := err == nil
	if err != nil && keycab.ErrorCode(err) != keycab.ENOTFOUND {
		return err
	}
	if form != nil {
		c = *form
	}
	sites, err := d.Store.ListSites(ctx, sc)
	if err != nil {
		return err
	}
	p := ssoSettings{Configured: configured, Config: c, Sites: sites, Roles: ssoRoles,
		RedirectURI: d.Auth.BaseURL() + auth.SSOCallbackPath, SignInURL: d.Auth.BaseURL() + "/sso/start?org=" + url.QueryEscape(v.P.OrgID)}
	p.Rows = append(slices.Clone(c.Roles), make([]store.SSORoleMap, 3)...)
	if c.GroupsClaim == "" {
		p.Config.GroupsClaim = "groups"
	}
	d.renderForm(w, r, "sso_settings", view{Title: "Single sign-on", Nav: "settings", V: v, Notice: notice, Data: p}, ferr)
	return nil
}

func (d *Dashboard) saveSSOSettings(w http.ResponseWriter, r *http.Request, v *viewer) error {
	r.ParseForm()
	c := store.SSOConfig{Issuer: formValue(r, "issuer"), ClientID: formValue(r, "client_id"), GroupsClaim: formValue(r, "groups_claim"),
		Domains: strings.FieldsFunc(formValue(r, "domains"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' }),
		Enforce: r.PostFormValue("enforce") != ""}
	groups, roles, sites := r.PostForm["group"], r.PostForm["role"], r.PostForm["site"]
	for i, g := range groups {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		m := store.SSORoleMap{Group: g}
		if i < len(roles) {
			m.Role = keycab.Role(roles[i])
		}
		if i < len(sites) && sites[i] != "" {
			m.SiteIDs = []string{sites[i]}
		}
		c.Roles = append(c.Roles, m)
	}
	if _, err := d.Store.Accounts().SetSSOConfig(r.Context(), v.P.Scope(), c, r.PostFormValue("client_secret")); err != nil {
		return d.renderSSOSettings(w, r, v, &c, "", err)
	}
	return redirect(w, r, "/settings/sso?notice=sso-saved")
}

func (d *Dashboard) deleteSSOSettings(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.Accounts().DeleteSSOConfig(r.Context(), v.P.Scope()); err != nil {
		return err
	}
	return redirect(w, r, "/settings/sso?notice=sso-removed")
}
