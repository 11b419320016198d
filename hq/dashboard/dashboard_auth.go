package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
)

// The signed-out pages: sign-up, sign-in with its MFA step, password
// reset, and invitation acceptance. Links in emails carry their token in
// the URL fragment (never sent to a server or logged); app.js copies it
// into the form, and without JavaScript the person pastes it.

// authForm is what the signed-out forms echo back after an error
// (never a password).
type authForm struct {
	OrgName, Name, Email, Next, Token string
	Invite                            bool
	SignedInAs                        string
}

func (d *Dashboard) startSession(w http.ResponseWriter, t auth.Tokens) {
	setCookie(w, hq.SessionCookie, t.AccessToken, t.ExpiresAt)
}

func (d *Dashboard) signupPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "signup", view{Title: "Create your organisation", Data: authForm{}})
}

func (d *Dashboard) signupPost(w http.ResponseWriter, r *http.Request) {
	in := auth.Signup{OrgName: strings.TrimSpace(r.PostFormValue("org_name")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Password: r.PostFormValue("password")}
	t, err := d.Auth.Signup(r.Context(), in, hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "signup", view{Title: "Create your organisation", Data: authForm{OrgName: in.OrgName, Name: in.Name, Email: in.Email}}, err)
		return
	}
	d.startSession(w, t)
	http.Redirect(w, r, "/verify?notice=welcome", http.StatusSeeOther) // nothing else works until the address is verified
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: authForm{Next: localPath(r.URL.Query().Get("next"))}})
}

func (d *Dashboard) loginPost(w http.ResponseWriter, r *http.Request) {
	email, next := strings.TrimSpace(r.PostFormValue("email")), localPath(r.PostFormValue("next"))
	res, err := d.Auth.Login(r.Context(), email, r.PostFormValue("password"), "", hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "login", view{Title: "Sign in", Data: authForm{Email: email, Next: next}}, err)
		return
	}
	d.loginResult(w, r, res, next)
}

// loginResult signs in, or carries the MFA step's token to the code page
// in a short-lived cookie (so it never appears in a URL or the page).
func (d *Dashboard) loginResult(w http.ResponseWriter, r *http.Request, res auth.LoginResult, next string) {
	if res.Tokens == nil {
		setCookie(w, mfaCookie, res.MFAToken, d.now().Add(d.Auth.Config().MFATTL))
		http.Redirect(w, r, "/login/mfa?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	d.startSession(w, *res.Tokens)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) mfaPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(mfaCookie); err != nil || c.Value == "" {
		http.Redirect(w, r, "/login?notice=mfaexpired", http.StatusSeeOther)
		return
	}
	d.render(w, r, http.StatusOK, "mfa", view{Title: "Two-step sign-in", Data: authForm{Next: localPath(r.URL.Query().Get("next"))}})
}

func (d *Dashboard) mfaPost(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"))
	c, err := r.Cookie(mfaCookie)
	if err != nil || c.Value == "" {
		http.Redirect(w, r, "/login?notice=mfaexpired", http.StatusSeeOther)
		return
	}
	t, err := d.Auth.VerifyMFA(r.Context(), c.Value, r.PostFormValue("code"), hq.ClientIP(r))
	if err != nil {
		d.formError(w, r, "mfa", view{Title: "Two-step sign-in", Data: authForm{Next: next}}, err)
		return
	}
	clearCookie(w, mfaCookie)
	d.startSession(w, t)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Auth.Logout(r.Context(), v.P); err != nil {
		return err
	}
	clearCookie(w, hq.SessionCookie)
	http.Redirect(w, r, "/login?notice=signedout", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) resetPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "reset", view{Title: "Reset your password", Data: authForm{}})
}

func (d *Dashboard) resetPost(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if err := d.Auth.RequestReset(r.Context(), email, hq.ClientIP(r)); err != nil {
		d.formError(w, r, "reset", view{Title: "Reset your password", Data: authForm{Email: email}}, err)
		return
	}
	http.Redirect(w, r, "/reset?notice=resetsent", http.StatusSeeOther)
}

func (d *Dashboard) resetConfirmPost(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if err := d.Auth.ConfirmReset(r.Context(), tok, r.PostFormValue("password"), hq.ClientIP(r)); err != nil {
		d.formError(w, r, "reset", view{Title: "Reset your password", Data: authForm{Token: tok}}, err)
		return
	}
	http.Redirect(w, r, "/login?notice=reset", http.StatusSeeOther)
}

// signedInPrincipal returns the session's principal, if the request has
// a live one.
func (d *Dashboard) signedInPrincipal(r *http.Request) *auth.Principal {
	c, err := r.Cookie(hq.SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	p, err := d.Auth.Authenticate(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	return &p
}

func (d *Dashboard) inviteForm(r *http.Request) authForm {
	f := authForm{Invite: true}
	if p := d.signedInPrincipal(r); p != nil {
		if acct, err := d.Store.Accounts().GetAccount(r.Context(), p.AccountID); err == nil {
			f.SignedInAs = acct.Email
		}
	}
	return f
}

func (d *Dashboard) invitePage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "invite", view{Title: "Accept your invitation", Data: d.inviteForm(r)})
}

func (d *Dashboard) invitePost(w http.ResponseWriter, r *http.Request) {
	in := auth.Accept{Token: strings.TrimSpace(r.PostFormValue("token")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Password: r.PostFormValue("password")}
	p := d.signedInPrincipal(r)
	t, err := d.Auth.AcceptInvite(r.Context(), in, p, hq.ClientIP(r))
	if err != nil {
		f := d.inviteForm(r)
		f.Name, f.Token = in.Name, in.Token
		if keycab.ErrorCode(err) == keycab.ENOTFOUND {
			err = keycab.Errorf(keycab.ENOTFOUND, "%s", localizer(r, "").T("dash.err.invite_link"))
		}
		d.formError(w, r, "invite", view{Title: "Accept your invitation", Data: f}, err)
		return
	}
	d.startSession(w, t)
	http.Redirect(w, r, "/?notice=joined", http.StatusSeeOther)
}

// The sign-in link page: /magic#token=... from the email; the form asks
// for a link, or (with the token) signs in, with the MFA step if on.
func (d *Dashboard) magicPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "magic", view{Title: "Sign in with a link", Data: authForm{}})
}

func (d *Dashboard) magicRequestPost(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if err := d.Auth.RequestMagicLink(r.Context(), email, hq.ClientIP(r)); err != nil {
		d.formError(w, r, "magic", view{Title: "Sign in with a link", Data: authForm{Email: email}}, err)
		return
	}
	http.Redirect(w, r, "/magic?notice=magicsent", http.StatusSeeOther)
}

func (d *Dashboard) magicConfirmPost(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	res, err := d.Auth.ConfirmMagicLink(r.Context(), tok, "", hq.ClientIP(r))
	if keycab.ErrorCode(err) == keycab.ENOTFOUND {
		err = keycab.Errorf(keycab.ENOTFOUND, "%s", localizer(r, "").T("dash.err.magic_link"))
	}
	if err != nil {
		d.formError(w, r, "magic", view{Title: "Sign in with a link", Data: authForm{Token: tok}}, err)
		return
	}
	d.loginResult(w, r, res, "/")
}
