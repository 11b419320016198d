package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// API is HQ's JSON API. Set the fields, then register it on the
// server (hq.Server.API).
type API struct {
	Store  *store.Store
	Auth   *auth.Service
	Logger *slog.Logger
}

// Register adds the API's routes, and /openapi.json, to mux.
func (s *API) Register(mux hq.Mux) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	for _, rt := range s.routes() {
		h := rt.handler
		if rt.auth {
			h = s.authenticated(h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
	}
	mux.Handle("GET /openapi.json", http.HandlerFunc(s.openAPI))
	return nil
}

// route is one JSON API endpoint; the OpenAPI document is made from the
// same table.
type route struct {
	method, path string
	summary      string
	auth         bool     // needs a session
	body         string   // the request body's schema name, if any
	query        []string // query parameters
	raw          string   // the media type of a non-JSON answer
	handler      http.Handler
}

type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts f, logging failures that are HQ's fault (the client gets
// only "Internal error.").
func (s *API) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			if keycab.ErrorCode(err) == keycab.EINTERNAL {
				s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			hq.WriteError(w, r, err)
		}
	})
}

func (s *API) routes() []route {
	return []route{
		{method: "POST", path: "/v1/signup", summary: "Create an organisation and its owner account; signs in", body: "Signup", handler: s.api(s.signup)},
		{method: "POST", path: "/v1/auth/login", summary: "Sign in with email and password (then /v1/auth/mfa if asked)", body: "Login", handler: s.api(s.login)},
		{method: "POST", path: "/v1/auth/mfa", summary: "Complete a sign-in with a TOTP code", body: "MFA", handler: s.api(s.mfa)},
		{method: "POST", path: "/v1/auth/refresh", summary: "Rotate a refresh token for a new token pair", body: "Refresh", handler: s.api(s.refresh)},
		{method: "POST", path: "/v1/auth/logout", summary: "Sign out this login", auth: true, handler: s.api(s.logout)},
		{method: "POST", path: "/v1/auth/password", summary: "Change the password; signs out everywhere else", auth: true, body: "PasswordChange", handler: s.api(s.changePassword)},
		{method: "POST", path: "/v1/auth/reset", summary: "Request a password reset link (same answer for any address)", body: "EmailOnly", handler: s.api(s.requestReset)},
		{method: "POST", path: "/v1/auth/reset/confirm", summary: "Set a new password with a reset link's token", body: "ResetConfirm", handler: s.api(s.confirmReset)},
		{method: "POST", path: "/v1/auth/magic", summary: "Request a sign-in link (same answer for any address)", body: "EmailOnly", handler: s.api(s.requestMagic)},
		{method: "POST", path: "/v1/auth/magic/confirm", summary: "Sign in with a sign-in link's token", body: "MagicConfirm", handler: s.api(s.confirmMagic)},
		{method: "POST", path: "/v1/me/mfa/setup", summary: "Start TOTP enrolment", auth: true, handler: s.api(s.mfaSetup)},
		{method: "POST", path: "/v1/me/mfa/enable", summary: "Confirm TOTP enrolment with a code", auth: true, body: "Code", handler: s.api(s.mfaEnable)},
		{method: "GET", path: "/v1/me", summary: "The signed-in account, member and memberships", auth: true, handler: s.api(s.me)},
		{method: "GET", path: "/v1/org", summary: "The organisation", auth: true, handler: s.api(s.org)},
		{method: "GET", path: "/v1/invites", summary: "Open invitations", auth: true, handler: s.api(s.listInvites)},
		{method: "POST", path: "/v1/invites", summary: "Invite an email address with a role", auth: true, body: "Invitation", handler: s.api(s.invite)},
		{method: "DELETE", path: "/v1/invites/{id}", summary: "Withdraw an invitation", auth: true, handler: s.api(s.revokeInvite)},
		{method: "POST", path: "/v1/invites/accept", summary: "Accept an invitation (signed in with its email, or creating the account)", body: "Accept", handler: s.api(s.acceptInvite)},
		{method: "GET", path: "/v1/sites", summary: "Sites", auth: true, handler: s.api(s.listSites)},
		{method: "GET", path: "/v1/sites/{id}", summary: "A site", auth: true, handler: s.api(s.getSite)},
		{method: "GET", path: "/v1/cabinets", summary: "Cabinets", auth: true, query: []string{"site_id"}, handler: s.api(s.listCabinets)},
		{method: "GET", path: "/v1/cabinets/{id}", summary: "A cabinet and its slots", auth: true, handler: s.api(s.getCabinet)},
		{method: "GET", path: "/v1/key-sets", summary: "Key sets", auth: true, query: []string{"site_id"}, handler: s.api(s.listKeySets)},
		{method: "GET", path: "/v1/key-sets/{id}", summary: "A key set", auth: true, handler: s.api(s.getKeySet)},
		{method: "GET", path: "/v1/members", summary: "Members", auth: true, handler: s.api(s.listMembers)},
		{method: "GET", path: "/v1/members/{id}", summary: "A member", auth: true, handler: s.api(s.getMember)},
		{method: "GET", path: "/v1/events", summary: "History, newest first, keyset-paginated (pass next_cursor as cursor)", auth: true,
			query: []string{"key_set_id", "actor_id", "kind", "since", "until", "limit", "cursor"}, handler: s.api(s.listEvents)},
		{method: "GET", path: "/v1/custody", summary: "Key sets out now", auth: true, handler: s.api(s.listCustody)},
		{method: "GET", path: "/v1/alarms", summary: "Alarms", auth: true, query: []string{"open"}, handler: s.api(s.listAlarms)},
		{method: "GET", path: "/v1/kiosks", summary: "Kiosks", auth: true, handler: s.api(s.listKiosks)},
		{method: "POST", path: "/v1/sites", summary: "Create a site (owners and admins)", auth: true, body: "Site", handler: s.api(s.createSite)},
		{method: "PATCH", path: "/v1/sites/{id}", summary: "Change a site's name, address, time zone or notes", auth: true, body: "Site", handler: s.api(s.updateSite)},
		{method: "DELETE", path: "/v1/sites/{id}", summary: "Delete a site with nothing left in it", auth: true, handler: s.api(s.deleteSite)},
		{method: "POST", path: "/v1/cabinets", summary: "Create a cabinet at a site", auth: true, body: "Cabinet", handler: s.api(s.createCabinet)},
		{method: "PATCH", path: "/v1/cabinets/{id}", summary: "Change a cabinet's name, kind or door pins", auth: true, body: "Cabinet", handler: s.api(s.updateCabinet)},
		{method: "DELETE", path: "/v1/cabinets/{id}", summary: "Delete a cabinet and its slots", auth: true, handler: s.api(s.deleteCabinet)},
		{method: "PUT", path: "/v1/cabinets/{id}/slots/{number}", summary: "Create or replace a slot", auth: true, body: "Slot", handler: s.api(s.setSlot)},
		{method: "DELETE", path: "/v1/cabinets/{id}/slots/{number}", summary: "Delete a slot", auth: true, handler: s.api(s.deleteSlot)},
		{method: "POST", path: "/v1/key-sets", summary: "Create a key set at a site", auth: true, body: "KeySet", handler: s.api(s.createKeySet)},
		{method: "PATCH", path: "/v1/key-sets/{id}", summary: "Change a key set's label, flags or maximum time out", auth: true, body: "KeySet", handler: s.api(s.updateKeySet)},
		{method: "DELETE", path: "/v1/key-sets/{id}", summary: "Delete a key set that is not in use", auth: true, handler: s.api(s.deleteKeySet)},
		{method: "GET", path: "/v1/key-sets/{id}/tokens", summary: "A key set's QR tokens (never their text)", auth: true, handler: s.api(s.listTokens)},
		{method: "POST", path: "/v1/key-sets/{id}/tokens", summary: "Issue a key set's first QR token; its text is answered once", auth: true, handler: s.api(s.issueToken)},
		{method: "POST", path: "/v1/key-sets/{id}/tokens/rotate", summary: "Revoke a key set's valid tokens and issue a new one", auth: true, handler: s.api(s.rotateToken)},
		{method: "DELETE", path: "/v1/key-sets/{id}/tokens", summary: "Revoke a key set's valid tokens", auth: true, handler: s.api(s.revokeTokens)},
		{method: "POST", path: "/v1/labels", summary: "Print QR labels: rotate the tokens of a site's, a cabinet's or the listed key sets and answer the A4 sheets (PDF, or PNG for one page)", auth: true, body: "Labels", raw: "application/pdf", handler: s.api(s.labels)},
		{method: "POST", path: "/v1/members", summary: "Add a member who signs in nowhere (kiosk badge or PIN only); people with accounts come through invites", auth: true, body: "Member", handler: s.api(s.createMember)},
		{method: "PATCH", path: "/v1/members/{id}", summary: "Change a member's site scope and role (both or neither)", auth: true, body: "MemberChange", handler: s.api(s.updateMember)},
		{method: "DELETE", path: "/v1/members/{id}", summary: "Remove a member (or leave, with one's own id)", auth: true, handler: s.api(s.removeMember)},
		{method: "PUT", path: "/v1/members/{id}/pin", summary: "Set a member's kiosk PIN (hashed)", auth: true, body: "PIN", handler: s.api(s.setPIN)},
		{method: "DELETE", path: "/v1/members/{id}/pin", summary: "Remove a member's PIN", auth: true, handler: s.api(s.clearPIN)},
		{method: "GET", path: "/v1/members/{id}/badges", summary: "A member's badges (hashes only)", auth: true, handler: s.api(s.listBadges)},
		{method: "POST", path: "/v1/members/{id}/badges", summary: "Enrol a badge code for a member", auth: true, body: "Badge", handler: s.api(s.addBadge)},
		{method: "DELETE", path: "/v1/members/{id}/badges/{badge}", summary: "Revoke a badge (by its id from the list)", auth: true, handler: s.api(s.revokeBadge)},
		{method: "GET", path: "/v1/jobs", summary: "Contractor jobs", auth: true, query: []string{"member_id"}, handler: s.api(s.listJobs)},
		{method: "POST", path: "/v1/jobs", summary: "Give a contractor key sets for a time window", auth: true, body: "Job", handler: s.api(s.createJob)},
		{method: "DELETE", path: "/v1/jobs/{id}", summary: "End a job at once", auth: true, handler: s.api(s.deleteJob)},
		{method: "GET", path: "/v1/reservations", summary: "A key set's reservations", auth: true, query: []string{"key_set_id"}, handler: s.api(s.listReservations)},
		{method: "POST", path: "/v1/reservations", summary: "Reserve a key set for a member (no overlaps)", auth: true, body: "Reservation", handler: s.api(s.createReservation)},
		{method: "DELETE", path: "/v1/reservations/{id}", summary: "Cancel a reservation", auth: true, handler: s.api(s.deleteReservation)},
		{method: "POST", path: "/v1/cabinets/{id}/enrol-tokens", summary: "Issue a single-use token that enrols one kiosk for the cabinet (24 hours unless ttl_hours says otherwise); its text is answered once, as token and in enrol_code (HQ's URL and the token as one text, keycab-enrol:?hq=...&token=..., which the kiosk's setup screen reads from a QR code)", auth: true, body: "EnrolToken", handler: s.api(s.createEnrolToken)},
		{method: "POST", path: "/v1/kiosks/{id}/revoke", summary: "Revoke a kiosk: its key stops working at once; its log and history stay", auth: true, handler: s.api(s.revokeKiosk)},
		{method: "GET", path: "/v1/admin-log", summary: "HQ's append-only log of admin actions, newest first (owners, admins and auditors)", auth: true, query: []string{"limit"}, handler: s.api(s.listAdminLog)},
		{method: "GET", path: "/v1/kiosks/{id}/log", summary: "A kiosk's log as HQ holds it: origin, verifier key, verified size", auth: true, handler: s.api(s.kioskLog)},
		{method: "GET", path: "/v1/kiosks/{id}/log/checkpoint", summary: "tlog-tiles: the kiosk's signed checkpoint with HQ's cosignature", auth: true, raw: "text/plain", handler: s.api(s.kioskLogCheckpoint)},
		{method: "GET", path: "/v1/kiosks/{id}/log/tile/{path...}", summary: "tlog-tiles: a hash tile (L/N[.p/W]) or entry bundle (entries/N[.p/W])", auth: true, raw: "application/octet-stream", handler: s.api(s.kioskLogTile)},
	}
}

type principalKey struct{}

func principalOf(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// accessToken is the bearer token, or else the session cookie.
func accessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if c, err := r.Cookie(hq.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (s *API) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Auth.Authenticate(r.Context(), accessToken(r))
		if err != nil {
			s.Logger.Warn("denied request", "reason", keycab.ErrorMessage(err), "method", r.Method, "path", r.URL.Path, "ip", hq.ClientIP(r))
			hq.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// optionalPrincipal authenticates the request if it carries a token.
func (s *API) optionalPrincipal(r *http.Request) (*auth.Principal, error) {
	t := accessToken(r)
	if t == "" {
		return nil, nil
	}
	p, err := s.Auth.Authenticate(r.Context(), t)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// setSession answers a completed sign-in: the tokens in the body and the
// access token in the dashboard's cookie.
func (s *API) setSession(w http.ResponseWriter, t auth.Tokens) {
	http.SetCookie(w, &http.Cookie{Name: hq.SessionCookie, Value: t.AccessToken, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Expires: t.ExpiresAt})
	hq.WriteJSON(w, http.StatusOK, t)
}

func (s *API) signup(w http.ResponseWriter, r *http.Request) error {
	var in auth.Signup
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.Signup(r.Context(), in, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

type loginIn struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	OrgID    string `json:"org_id,omitempty"`
}

func (s *API) loginResult(w http.ResponseWriter, res auth.LoginResult) {
	if res.Tokens == nil {
		hq.WriteJSON(w, http.StatusOK, map[string]any{"mfa_required": true, "mfa_token": res.MFAToken})
		return
	}
	s.setSession(w, *res.Tokens)
}

func (s *API) login(w http.ResponseWriter, r *http.Request) error {
	var in loginIn
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	res, err := s.Auth.Login(r.Context(), in.Email, in.Password, in.OrgID, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.loginResult(w, res)
	return nil
}

func (s *API) mfa(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		MFAToken string `json:"mfa_token"`
		Code     string `json:"code"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.VerifyMFA(r.Context(), in.MFAToken, in.Code, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

func (s *API) refresh(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.Refresh(r.Context(), in.RefreshToken, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

func (s *API) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.Logout(r.Context(), principalOf(r.Context())); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: hq.SessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.ChangePassword(r.Context(), principalOf(r.Context()), in.Current, in.New)
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

// accepted is the one answer to link requests, whether the address is
// known or not.
var accepted = map[string]string{"status": "If an account uses this address, a message is on its way."}

func (s *API) requestReset(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.RequestReset(r.Context(), in.Email, hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusAccepted, accepted)
	return nil
}

func (s *API) confirmReset(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.ConfirmReset(r.Context(), in.Token, in.Password, hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, map[string]string{"status": "Password changed. Sign in with it."})
	return nil
}

func (s *API) requestMagic(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.RequestMagicLink(r.Context(), in.Email, hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusAccepted, accepted)
	return nil
}

func (s *API) confirmMagic(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token string `json:"token"`
		OrgID string `json:"org_id,omitempty"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	res, err := s.Auth.ConfirmMagicLink(r.Context(), in.Token, in.OrgID, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.loginResult(w, res)
	return nil
}

func (s *API) mfaSetup(w http.ResponseWriter, r *http.Request) error {
	key, uri, err := s.Auth.BeginTOTP(r.Context(), principalOf(r.Context()))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, map[string]string{"secret": key, "otpauth_uri": uri})
	return nil
}

func (s *API) mfaEnable(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.EnableTOTP(r.Context(), principalOf(r.Context()), in.Code); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, map[string]bool{"mfa": true})
	return nil
}

func (s *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	acct, err := s.Store.GetAccount(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	m, err := s.Store.GetMember(r.Context(), p.Scope(), p.MemberID)
	if err != nil {
		return err
	}
	ms, err := s.Store.Memberships(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	orgs := []string{}
	for _, x := range ms {
		orgs = append(orgs, x.OrgID)
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{
		"account": map[string]any{"id": acct.ID, "email": acct.Email, "name": acct.Name, "mfa": acct.MFA},
		"member":  memberJSON(m),
		"org_ids": orgs,
	})
	return nil
}

func (s *API) org(w http.ResponseWriter, r *http.Request) error {
	o, err := s.Store.GetOrg(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"id": o.ID, "name": o.Name, "caps": map[string]int{
		"key_sets": o.Caps.KeySets, "sites": o.Caps.Sites, "cabinets": o.Caps.Cabinets, "members": o.Caps.Members}})
	return nil
}

func inviteJSON(t store.AuthToken) map[string]any {
	return map[string]any{"id": t.ID, "email": t.Email, "role": t.Role, "site_ids": nonNil(t.SiteIDs),
		"invited_by": t.MemberID, "created_at": t.CreatedAt, "expires_at": t.ExpiresAt}
}

func (s *API) listInvites(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Store.ListInvites(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, t := range ts {
		out = append(out, inviteJSON(t))
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"invites": out})
	return nil
}

func (s *API) invite(w http.ResponseWriter, r *http.Request) error {
	var in auth.Invitation
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.Invite(r.Context(), principalOf(r.Context()), in)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusCreated, inviteJSON(t))
	return nil
}

func (s *API) revokeInvite(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.RevokeInvite(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *API) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	var in auth.Accept
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p, err := s.optionalPrincipal(r)
	if err != nil {
		return err
	}
	t, err := s.Auth.AcceptInvite(r.Context(), in, p, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func siteJSON(st store.Site) map[string]any {
	return map[string]any{"id": st.ID, "name": st.Name, "address": st.Address, "time_zone": st.TimeZone,
		"notes": st.Notes, "notes_redacted": st.NotesRedacted}
}

func (s *API) listSites(w http.ResponseWriter, r *http.Request) error {
	sites, err := s.Store.ListSites(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, st := range sites {
		out = append(out, siteJSON(st))
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"sites": out})
	return nil
}

func (s *API) getSite(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Store.GetSite(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, siteJSON(st))
	return nil
}

func cabinetJSON(c keycab.Cabinet) map[string]any {
	return map[string]any{"id": c.ID, "site_id": c.SiteID, "name": c.Name, "kind": c.Kind}
}

func (s *API) listCabinets(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.Store.ListCabinets(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("site_id"))
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, c := range cs {
		out = append(out, cabinetJSON(c))
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"cabinets": out})
	return nil
}

func (s *API) getCabinet(w http.ResponseWriter, r *http.Request) error {
	sc := principalOf(r.Context()).Scope()
	c, err := s.Store.GetCabinet(r.Context(), sc, r.PathValue("id"))
	if err != nil {
		return err
	}
	slots, err := s.Store.ListSlots(r.Context(), sc, c.ID)
	if err != nil {
		return err
	}
	out := cabinetJSON(c)
	ss := []map[string]any{}
	for _, sl := range slots {
		ss = append(ss, map[string]any{"number": sl.Number, "key_set_id": sl.KeySetID})
	}
	out["slots"] = ss
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func keySetJSON(k keycab.KeySet) map[string]any {
	return map[string]any{"id": k.ID, "site_id": k.SiteID, "label": k.Label, "sensitive": k.Sensitive,
		"pin_required": k.PINRequired, "max_out_seconds": int64(k.MaxOut / time.Second)}
}

func (s *API) listKeySets(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.Store.ListKeySets(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("site_id"))
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, k := range ks {
		out = append(out, keySetJSON(k))
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"key_sets": out})
	return nil
}

func (s *API) getKeySet(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Store.GetKeySet(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, keySetJSON(k))
	return nil
}

func memberJSON(m keycab.Member) map[string]any {
	return map[string]any{"id": m.ID, "name": m.Name, "email": m.Email, "role": m.Role, "site_ids": nonNil(m.SiteIDs),
		"disabled": m.Disabled, "has_pin": m.PINHash != ""}
}

func (s *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.Store.ListMembers(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, m := range ms {
		out = append(out, memberJSON(m))
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"members": out})
	return nil
}

func (s *API) getMember(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Store.GetMember(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, memberJSON(m))
	return nil
}

func eventJSON(e store.Event) map[string]any {
	out := map[string]any{"kiosk_id": e.KioskID, "log_index": e.LogIndex, "kind": e.Kind, "actor_id": e.ActorID,
		"key_set_id": e.KeySetID, "cabinet_id": e.CabinetID, "at": e.At, "detail": e.Detail}
	if !e.DueAt.IsZero() {
		out["due_at"] = e.DueAt
	}
	return out
}

// eventTimeJSON adds to an event of the API (/v1/events) when it happened
// by HQ's clock: hq_not_before (absent when HQ knows no lower bound) and
// hq_not_after, and clock_off when the kiosk's time ("at") lies outside.
func eventTimeJSON(m map[string]any, et store.EventTime) map[string]any {
	if !et.NotBefore.IsZero() {
		m["hq_not_before"] = et.NotBefore
	}
	m["hq_not_after"] = et.NotAfter
	m["clock_off"] = et.Off()
	return m
}

func parseTime(q, name string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, q)
	if err != nil {
		return t, keycab.Errorf(keycab.EINVALID, "%s: want an RFC 3339 time", name)
	}
	return t, nil
}

func (s *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.EventFilter{KeySetID: q.Get("key_set_id"), ActorID: q.Get("actor_id"), Kind: keycab.EventKind(q.Get("kind"))}
	var err error
	if f.Since, err = parseTime(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = parseTime(q.Get("until"), "until"); err != nil {
		return err
	}
	f.Limit = 100
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return keycab.Errorf(keycab.EINVALID, "limit: want 1 to 1000")
		}
	}
	if c := q.Get("cursor"); c != "" {
		if f.Before, err = store.ParseEventCursor(c); err != nil {
			return err
		}
	}
	es, err := s.Store.ListEvents(r.Context(), principalOf(r.Context()).Scope(), f)
	if err != nil {
		return err
	}
	times, err := s.Store.EventTimes(r.Context(), principalOf(r.Context()).Scope(), es)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for i, e := range es {
		out = append(out, eventTimeJSON(eventJSON(e), times[i]))
	}
	body := map[string]any{"events": out}
	if len(es) == f.Limit {
		body["next_cursor"] = store.EventCursor(es[len(es)-1])
	}
	hq.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (s *API) listCustody(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.Store.ListCustody(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	now := time.Now()
	out := []map[string]any{}
	for _, h := range hs {
		m := map[string]any{"key_set_id": h.KeySetID, "member_id": h.MemberID, "kiosk_id": h.KioskID, "site_id": h.SiteID,
			"taken_at": h.TakenAt, "overdue": !h.DueAt.IsZero() && now.After(h.DueAt)}
		if !h.DueAt.IsZero() {
			m["due_at"] = h.DueAt
		}
		out = append(out, m)
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"custody": out})
	return nil
}

func (s *API) listAlarms(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Store.ListAlarms(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("open") == "1" || r.URL.Query().Get("open") == "true")
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, a := range as {
		m := map[string]any{"id": a.ID, "kiosk_id": a.KioskID, "cabinet_id": a.CabinetID, "alarm": a.Alarm,
			"log_index": a.LogIndex, "raised_at": a.RaisedAt, "open": a.ClearedAt.IsZero(), "note": a.Note}
		if !a.ClearedAt.IsZero() {
			m["cleared_at"], m["cleared_by"] = a.ClearedAt, a.ClearedBy
		}
		out = append(out, m)
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"alarms": out})
	return nil
}

func (s *API) listKiosks(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.Store.ListKiosks(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, k := range ks {
		m := map[string]any{"id": k.ID, "cabinet_id": k.CabinetID, "name": k.Name, "enrolled_at": k.EnrolledAt,
			"log_size": k.LogSize, "revoked": !k.RevokedAt.IsZero()}
		if !k.LastSeen.IsZero() {
			m["last_seen"] = k.LastSeen
		}
		out = append(out, m)
	}
	hq.WriteJSON(w, http.StatusOK, map[string]any{"kiosks": out})
	return nil
}
