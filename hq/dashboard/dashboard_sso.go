package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
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
			Error: "The identity provider did not sign you in (" + e + "). Start again.", Data: ssoForm{}})
		return
	}
	res, err := d.Auth.SSOCallback(r.Context(), bind, q.Get("state"), q.Get("code"), hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "sso", view{Title: "Sign in with SSO", Data: ssoForm{}}, err)
		return
	}
	d.loginResult(w, r, res, "/")
}
