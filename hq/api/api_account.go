package api

import (
	"net/http"

	"keycab.dev/keycab/hq"
)

// Account hygiene: email verification and change, MFA off and recovery
// codes with re-authentication, an admin's MFA reset, the organisation's
// MFA rule, and one's sessions (auth/account.go).

func (s *API) resendVerification(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.ResendVerification(r.Context(), principalOf(r.Context()), hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusAccepted, Status{Status: "A new verification link is on its way."})
	return nil
}

func (s *API) confirmEmail(w http.ResponseWriter, r *http.Request) error {
	var in TokenRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	a, err := s.Auth.ConfirmEmail(r.Context(), in.Token, hq.ClientIP(r))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Status{Status: "Email address " + a.Email + " verified."})
	return nil
}

func (s *API) changeEmail(w http.ResponseWriter, r *http.Request) error {
	var in EmailChangeRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.ChangeEmail(r.Context(), principalOf(r.Context()), in.Email, in.Password, hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusAccepted, Status{Status: "A link is on its way to the new address; the change takes effect when it is opened."})
	return nil
}

func (s *API) mfaDisable(w http.ResponseWriter, r *http.Request) error {
	var in ReauthRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.DisableMFA(r.Context(), principalOf(r.Context()), in.Password, in.Code); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, MFAStatus{MFA: false})
	return nil
}

func (s *API) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	var in ReauthRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	codes, err := s.Auth.RegenerateRecoveryCodes(r.Context(), principalOf(r.Context()), in.Password, in.Code)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, RecoveryCodes{RecoveryCodes: codes})
	return nil
}

func (s *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	all, err := s.Auth.Sessions(r.Context(), principalOf(r.Context()))
	if err != nil {
		return err
	}
	out := SessionList{Sessions: []Session{}}
	for _, x := range all {
		out.Sessions = append(out.Sessions, Session{ID: x.ID, OrgID: x.OrgID, CreatedAt: x.CreatedAt, LastUsed: x.LastUsed,
			ExpiresAt: x.ExpiresAt, UserAgent: x.UserAgent, IP: x.IP, Current: x.Current})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) revokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.RevokeSession(r.Context(), principalOf(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *API) resetMemberMFA(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.ResetMemberMFA(r.Context(), principalOf(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *API) setOrgSecurity(w http.ResponseWriter, r *http.Request) error {
	var in OrgSecurityRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.SetRequireMFA(r.Context(), principalOf(r.Context()), in.RequireMFA); err != nil {
		return err
	}
	return s.writeOrg(w, r)
}
