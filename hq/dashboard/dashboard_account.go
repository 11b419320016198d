package dashboard

import (
	"net/http"
	"strings"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
)

// Account hygiene pages (auth/account.go): verifying an address, MFA off
// and recovery codes with re-authentication, a change of address, one's
// sessions, the organisation's MFA rule and an admin's reset of a
// member's MFA.

// withClient gives the auth service the request's client (kept with the
// sessions it signs in).
func withClient(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(auth.WithClient(r.Context(), auth.Client{IP: hq.ClientIP(r), UserAgent: r.UserAgent()})))
	}
}

// verifyPage is /verify#token=... from a verification email (app.js puts
// the token in the form), and where an unverified account is sent.
func (d *Dashboard) verifyPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "verify", view{Title: "Verify your email address", V: d.optionalViewer(r)})
}

func (d *Dashboard) optionalViewer(r *http.Request) *viewer {
	p := d.signedInPrincipal(r)
	if p == nil {
		return nil
	}
	v, err := d.viewer(r.Context(), *p)
	if err != nil {
		return nil
	}
	v.L = localizer(r, v.Lang)
	return v
}

func (d *Dashboard) verifyPost(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if _, err := d.Auth.ConfirmEmail(r.Context(), tok, hq.ClientIP(r)); err != nil {
		d.formError(w, r, "verify", view{Title: "Verify your email address", V: d.optionalViewer(r), Data: authForm{Token: tok}}, err)
		return
	}
	if d.signedInPrincipal(r) != nil {
		http.Redirect(w, r, "/?notice=verified", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login?notice=verified", http.StatusSeeOther)
}

func (d *Dashboard) resendVerify(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Auth.ResendVerification(r.Context(), v.P, hq.ClientIP(r)); err != nil {
		d.formError(w, r, "verify", view{Title: "Verify your email address", V: v}, err)
		return nil
	}
	return redirect(w, r, "/verify?notice=verifysent")
}

// settingsPage renders the settings page with data, its sessions and MFA
// state filled in, and status.
func (d *Dashboard) settingsPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, data settingsData, err error) error {
	ctx := r.Context()
	var lerr error
	if data.Sessions, lerr = d.Auth.Sessions(ctx, v.P); lerr != nil {
		return lerr
	}
	if v.MFA {
		if data.CodesLeft, lerr = d.Auth.RecoveryCodesLeft(ctx, v.P); lerr != nil {
			return lerr
		}
	}
	if v.Admin() {
		if data.RequireMFA, lerr = d.Store.Accounts().RequireMFA(ctx, v.P.Scope()); lerr != nil {
			return lerr
		}
		if data.PublicLogs, lerr = d.Store.KioskLogs().PublicLogs(ctx, v.P.Scope()); lerr != nil {
			return lerr
		}
	}
	vw := view{Title: "Settings", Nav: "settings", V: v, Data: data, Notice: notices[data.Notice]}
	if err != nil {
		d.formError(w, r, "settings", vw, err)
		return nil
	}
	d.render(w, r, status, "settings", vw)
	return nil
}

func (d *Dashboard) mfaDisable(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Auth.DisableMFA(r.Context(), v.P, r.PostFormValue("password"), r.PostFormValue("code")); err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	return redirect(w, r, "/settings?notice=mfaoff")
}

func (d *Dashboard) regenerateCodes(w http.ResponseWriter, r *http.Request, v *viewer) error {
	codes, err := d.Auth.RegenerateRecoveryCodes(r.Context(), v.P, r.PostFormValue("password"), r.PostFormValue("code"))
	if err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	return d.settingsPage(w, r, v, http.StatusOK, settingsData{RecoveryCodes: codes, Notice: "newcodes"}, nil)
}

func (d *Dashboard) changeEmail(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Auth.ChangeEmail(r.Context(), v.P, r.PostFormValue("email"), r.PostFormValue("password"), hq.ClientIP(r)); err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	return redirect(w, r, "/settings?notice=emailsent")
}

func (d *Dashboard) revokeSession(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if err := d.Auth.RevokeSession(r.Context(), v.P, id); err != nil {
		return err
	}
	if id == v.P.FamilyID {
		clearCookie(w, hq.SessionCookie)
		return redirect(w, r, "/login?notice=signedout")
	}
	return redirect(w, r, "/settings?notice=signedoutone")
}

func (d *Dashboard) setOrgSecurity(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Auth.SetRequireMFA(r.Context(), v.P, r.PostFormValue("require_mfa") == "on"); err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	return redirect(w, r, "/settings?notice=saved")
}

func (d *Dashboard) setPublicLogs(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := d.Store.KioskLogs().SetPublicLogs(r.Context(), v.P.Scope(), r.PostFormValue("public_logs") == "on"); err != nil {
		return d.settingsPage(w, r, v, 0, settingsData{}, err)
	}
	return redirect(w, r, "/settings?notice=saved")
}

func (d *Dashboard) resetMemberMFA(w http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if err := d.Auth.ResetMemberMFA(r.Context(), v.P, id); err != nil {
		return err
	}
	return redirect(w, r, "/people/"+id+"?notice=mfareset")
}
