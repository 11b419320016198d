package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

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
	// DeletionGrace is how long a deleted organisation can be restored;
	// zero means store.DefaultDeletionGrace.
	DeletionGrace time.Duration
	// Webhooks, when set, is woken when a webhook test or resend is
	// queued, so it goes at once rather than at the sender's next round.
	Webhooks interface{ Wake() }

	doc *openapi3.T // made by Register
}

// Register adds the API's routes, and /openapi.json, to mux.
func (s *API) Register(mux hq.Mux) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	for _, rt := range s.routes() {
		h := rt.handler
		switch {
		case rt.public:
			h = s.publicOrAuthenticated(h, rt)
		case rt.auth:
			h = s.authenticated(h, rt)
		}
		mux.Handle(rt.method+" "+rt.path, h)
	}
	doc, err := s.openAPIDoc()
	if err != nil {
		return err
	}
	s.doc = doc
	mux.Handle("GET /openapi.json", http.HandlerFunc(s.openAPI))
	return nil
}

// route is one JSON API endpoint; the OpenAPI document is made from the
// same table.
type route struct {
	method, path string
	summary      string
	auth         bool       // needs a session
	public       bool       // with auth: also served without one, as a published log (api_log.go)
	allow        auth.Allow // what the session's standing must be (auth.Principal.Gate)
	in           any        // the JSON request body's type (a zero value), if any
	optionalIn   bool       // the body may be left out
	query        []string   // query parameters
	status       int        // the status of success
	out          any        // the JSON answer's type (a zero value, or oneOf), if any
	raw          []string   // the media types of a non-JSON answer
	handler      http.Handler
}

type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts f, logging failures that are HQ's fault (the client gets
// only "Internal error.").
func (s *API) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(auth.WithClient(r.Context(), auth.Client{IP: hq.ClientIP(r), UserAgent: r.UserAgent()}))
		if err := f(w, r); err != nil {
			if keycab.ErrorCode(err) == keycab.EINTERNAL && !hq.ClientGone(r) {
				s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			hq.WriteError(w, r, err)
		}
	})
}

func (s *API) routes() []route {
	return []route{
		{method: "POST", path: "/v1/signup", summary: "Create an organisation and its owner account; signs in", in: SignupRequest{}, status: 200, out: auth.Tokens{}, handler: s.api(s.signup)},
		{method: "POST", path: "/v1/auth/login", summary: "Sign in with email and password (then /v1/auth/mfa if asked)", in: LoginRequest{}, status: 200, out: oneOf{auth.Tokens{}, MFAChallenge{}}, handler: s.api(s.login)},
		{method: "POST", path: "/v1/auth/mfa", summary: "Complete a sign-in with a TOTP code", in: MFARequest{}, status: 200, out: auth.Tokens{}, handler: s.api(s.mfa)},
		{method: "POST", path: "/v1/auth/refresh", summary: "Rotate a refresh token for a new token pair", in: RefreshRequest{}, status: 200, out: auth.Tokens{}, handler: s.api(s.refresh)},
		{method: "POST", path: "/v1/auth/logout", summary: "Sign out this login", auth: true, allow: auth.AllowUnverified, status: 204, handler: s.api(s.logout)},
		{method: "POST", path: "/v1/auth/password", summary: "Change the password; signs out everywhere else", auth: true, in: PasswordRequest{}, status: 200, out: auth.Tokens{}, handler: s.api(s.changePassword)},
		{method: "POST", path: "/v1/auth/reset", summary: "Request a password reset link (same answer for any address)", in: EmailRequest{}, status: 202, out: Status{}, handler: s.api(s.requestReset)},
		{method: "POST", path: "/v1/auth/reset/confirm", summary: "Set a new password with a reset link's token", in: ResetConfirmRequest{}, status: 200, out: Status{}, handler: s.api(s.confirmReset)},
		{method: "POST", path: "/v1/auth/magic", summary: "Request a sign-in link (same answer for any address)", in: EmailRequest{}, status: 202, out: Status{}, handler: s.api(s.requestMagic)},
		{method: "POST", path: "/v1/auth/magic/confirm", summary: "Sign in with a sign-in link's token", in: MagicConfirmRequest{}, status: 200, out: oneOf{auth.Tokens{}, MFAChallenge{}}, handler: s.api(s.confirmMagic)},
		{method: "POST", path: "/v1/me/mfa/setup", summary: "Start TOTP enrolment", auth: true, allow: auth.AllowEnrol, status: 200, out: TOTPSetup{}, handler: s.api(s.mfaSetup)},
		{method: "POST", path: "/v1/me/mfa/enable", summary: "Confirm TOTP enrolment with a code; answers the ten recovery codes, shown this once", auth: true, allow: auth.AllowEnrol, in: CodeRequest{}, status: 200, out: MFAStatus{}, handler: s.api(s.mfaEnable)},
		{method: "POST", path: "/v1/me/mfa/disable", summary: "Turn MFA off, with the password and a current TOTP code or a recovery code", auth: true, in: ReauthRequest{}, status: 200, out: MFAStatus{}, handler: s.api(s.mfaDisable)},
		{method: "POST", path: "/v1/me/mfa/recovery-codes", summary: "Replace the recovery codes, with the password and a current TOTP code or a recovery code; answers the new ones, shown this once", auth: true, in: ReauthRequest{}, status: 200, out: RecoveryCodes{}, handler: s.api(s.regenerateRecoveryCodes)},
		{method: "GET", path: "/v1/me", summary: "The signed-in account, member and memberships", auth: true, allow: auth.AllowUnverified, status: 200, out: Me{}, handler: s.api(s.me)},
		{method: "POST", path: "/v1/me/verify/resend", summary: "Send a new link that verifies the account's email address (rate-limited)", auth: true, allow: auth.AllowUnverified, status: 202, out: Status{}, handler: s.api(s.resendVerification)},
		{method: "POST", path: "/v1/auth/verify", summary: "Verify an email address with its link's token: the signup address, or a new address, which then replaces the old", in: TokenRequest{}, status: 200, out: Status{}, handler: s.api(s.confirmEmail)},
		{method: "POST", path: "/v1/me/email", summary: "Change the email address, with the password: the new address gets a link and takes effect when it is opened; the old one is told", auth: true, in: EmailChangeRequest{}, status: 202, out: Status{}, handler: s.api(s.changeEmail)},
		{method: "GET", path: "/v1/me/sessions", summary: "The account's signed-in logins, newest first (current marked)", auth: true, status: 200, out: SessionList{}, handler: s.api(s.listSessions)},
		{method: "DELETE", path: "/v1/me/sessions/{id}", summary: "Sign out one of the account's logins", auth: true, status: 204, handler: s.api(s.revokeSession)},
		{method: "DELETE", path: "/v1/members/{id}/mfa", summary: "Reset another member's MFA (owners and admins; an owner's by an owner only), in the admin log", auth: true, status: 204, handler: s.api(s.resetMemberMFA)},
		{method: "PUT", path: "/v1/org/security", summary: "Set whether owners and admins must use MFA (owners and admins)", auth: true, in: OrgSecurityRequest{}, status: 200, out: Org{}, handler: s.api(s.setOrgSecurity)},
		{method: "GET", path: "/v1/org", summary: "The organisation", auth: true, status: 200, out: Org{}, handler: s.api(s.org)},
		{method: "GET", path: "/v1/org/deletion", summary: "The organisation's scheduled deletion, if any", auth: true, status: 200, out: OrgDeletion{}, handler: s.api(s.orgDeletion)},
		{method: "POST", path: "/v1/org/deletion", summary: "Delete the organisation after the grace period (owners; re-authenticates); its kiosks and other members are refused at once", auth: true, in: OrgDeletionRequest{}, status: 202, out: OrgDeletion{}, handler: s.api(s.deleteOrg)},
		{method: "DELETE", path: "/v1/org/deletion", summary: "Restore the organisation during the grace period (owners)", auth: true, status: 200, out: OrgDeletion{}, handler: s.api(s.restoreOrg)},
		{method: "GET", path: "/v1/invites", summary: "Open invitations", auth: true, status: 200, out: InviteList{}, handler: s.api(s.listInvites)},
		{method: "POST", path: "/v1/invites", summary: "Invite an email address with a role", auth: true, in: InvitationRequest{}, status: 201, out: Invite{}, handler: s.api(s.invite)},
		{method: "DELETE", path: "/v1/invites/{id}", summary: "Withdraw an invitation", auth: true, status: 204, handler: s.api(s.revokeInvite)},
		{method: "POST", path: "/v1/invites/accept", summary: "Accept an invitation (signed in with its email, or creating the account)", in: AcceptRequest{}, status: 200, out: auth.Tokens{}, handler: s.api(s.acceptInvite)},
		{method: "GET", path: "/v1/sites", summary: "Sites", auth: true, status: 200, out: SiteList{}, handler: s.api(s.listSites)},
		{method: "GET", path: "/v1/sites/{id}", summary: "A site", auth: true, status: 200, out: Site{}, handler: s.api(s.getSite)},
		{method: "GET", path: "/v1/cabinets", summary: "Cabinets", auth: true, query: []string{"site_id"}, status: 200, out: CabinetList{}, handler: s.api(s.listCabinets)},
		{method: "GET", path: "/v1/cabinets/{id}", summary: "A cabinet and its slots", auth: true, status: 200, out: CabinetDetail{}, handler: s.api(s.getCabinet)},
		{method: "GET", path: "/v1/key-sets", summary: "Key sets", auth: true, query: []string{"site_id"}, status: 200, out: KeySetList{}, handler: s.api(s.listKeySets)},
		{method: "GET", path: "/v1/key-sets/{id}", summary: "A key set", auth: true, status: 200, out: KeySet{}, handler: s.api(s.getKeySet)},
		{method: "GET", path: "/v1/members", summary: "Members", auth: true, status: 200, out: MemberList{}, handler: s.api(s.listMembers)},
		{method: "GET", path: "/v1/members/{id}", summary: "A member", auth: true, status: 200, out: Member{}, handler: s.api(s.getMember)},
		{method: "GET", path: "/v1/events", summary: "History, newest first, keyset-paginated (pass next_cursor as cursor)", auth: true,
			query: []string{"key_set_id", "actor_id", "kind", "since", "until", "limit", "cursor"}, status: 200, out: EventList{}, handler: s.api(s.listEvents)},
		{method: "GET", path: "/v1/events.jsonl", summary: "The whole history the filter selects as JSON Lines, one event per line, newest first", auth: true,
			query: []string{"key_set_id", "actor_id", "kind", "since", "until"}, raw: []string{"application/jsonl"}, status: 200, handler: s.api(s.exportEvents)},
		{method: "GET", path: "/v1/custody", summary: "Key sets out now", auth: true, status: 200, out: CustodyList{}, handler: s.api(s.listCustody)},
		{method: "GET", path: "/v1/alarms", summary: "Alarms", auth: true, query: []string{"open"}, status: 200, out: AlarmList{}, handler: s.api(s.listAlarms)},
		{method: "GET", path: "/v1/kiosks", summary: "Kiosks", auth: true, status: 200, out: KioskList{}, handler: s.api(s.listKiosks)},
		{method: "POST", path: "/v1/sites", summary: "Create a site (owners and admins)", auth: true, in: SiteRequest{}, status: 201, out: Site{}, handler: s.api(s.createSite)},
		{method: "PATCH", path: "/v1/sites/{id}", summary: "Change a site's name, address, time zone, kiosk language or notes", auth: true, in: SiteRequest{}, status: 200, out: Site{}, handler: s.api(s.updateSite)},
		{method: "DELETE", path: "/v1/sites/{id}", summary: "Delete a site with nothing left in it", auth: true, status: 204, handler: s.api(s.deleteSite)},
		{method: "POST", path: "/v1/cabinets", summary: "Create a cabinet at a site", auth: true, in: CabinetRequest{}, status: 201, out: Cabinet{}, handler: s.api(s.createCabinet)},
		{method: "PATCH", path: "/v1/cabinets/{id}", summary: "Change a cabinet's name, kind or door pins", auth: true, in: CabinetRequest{}, status: 200, out: Cabinet{}, handler: s.api(s.updateCabinet)},
		{method: "DELETE", path: "/v1/cabinets/{id}", summary: "Delete a cabinet and its slots", auth: true, status: 204, handler: s.api(s.deleteCabinet)},
		{method: "PUT", path: "/v1/cabinets/{id}/slots/{number}", summary: "Create or replace a slot", auth: true, in: SlotRequest{}, status: 200, out: Slot{}, handler: s.api(s.setSlot)},
		{method: "DELETE", path: "/v1/cabinets/{id}/slots/{number}", summary: "Delete a slot", auth: true, status: 204, handler: s.api(s.deleteSlot)},
		{method: "POST", path: "/v1/key-sets", summary: "Create a key set at a site", auth: true, in: KeySetRequest{}, status: 201, out: KeySet{}, handler: s.api(s.createKeySet)},
		{method: "PATCH", path: "/v1/key-sets/{id}", summary: "Change a key set's label, flags or maximum time out", auth: true, in: KeySetRequest{}, status: 200, out: KeySet{}, handler: s.api(s.updateKeySet)},
		{method: "DELETE", path: "/v1/key-sets/{id}", summary: "Delete a key set that is not in use", auth: true, status: 204, handler: s.api(s.deleteKeySet)},
		{method: "GET", path: "/v1/key-sets/{id}/tokens", summary: "A key set's QR tokens (never their text)", auth: true, status: 200, out: TokenList{}, handler: s.api(s.listTokens)},
		{method: "POST", path: "/v1/key-sets/{id}/tokens", summary: "Issue a key set's first QR token; its text is answered once", auth: true, status: 201, out: IssuedToken{}, handler: s.api(s.issueToken)},
		{method: "POST", path: "/v1/key-sets/{id}/tokens/rotate", summary: "Revoke a key set's valid tokens and issue a new one", auth: true, status: 201, out: IssuedToken{}, handler: s.api(s.rotateToken)},
		{method: "DELETE", path: "/v1/key-sets/{id}/tokens", summary: "Revoke a key set's valid tokens", auth: true, status: 204, handler: s.api(s.revokeTokens)},
		{method: "POST", path: "/v1/labels", summary: "Print QR labels: rotate the tokens of a site's, a cabinet's or the listed key sets and answer the A4 sheets (PDF, or PNG for one page)", auth: true, in: LabelsRequest{}, raw: []string{"application/pdf", "image/png"}, status: 200, handler: s.api(s.labels)},
		{method: "POST", path: "/v1/members", summary: "Add a member who signs in nowhere (kiosk badge or PIN only); people with accounts come through invites", auth: true, in: MemberRequest{}, status: 201, out: Member{}, handler: s.api(s.createMember)},
		{method: "PATCH", path: "/v1/members/{id}", summary: "Change a member's site scope and role (both or neither), or their own language", auth: true, in: MemberChangeRequest{}, status: 200, out: Member{}, handler: s.api(s.updateMember)},
		{method: "DELETE", path: "/v1/members/{id}", summary: "Remove a member (or leave, with one's own id)", auth: true, status: 204, handler: s.api(s.removeMember)},
		{method: "POST", path: "/v1/members/{id}/erase", summary: "Erase a member's personal data at HQ and on every kiosk (refused under legal hold or while they hold a key set); the member stays as a tombstone", auth: true, in: EraseRequest{}, status: 200, out: Member{}, handler: s.api(s.eraseMember)},
		{method: "GET", path: "/v1/holds", summary: "Legal holds, newest first", auth: true, status: 200, out: HoldList{}, handler: s.api(s.listHolds)},
		{method: "POST", path: "/v1/holds", summary: "Place a legal hold on a member, key set or site", auth: true, in: HoldRequest{}, status: 201, out: Hold{}, handler: s.api(s.createHold)},
		{method: "POST", path: "/v1/holds/{id}/end", summary: "End a legal hold", auth: true, status: 200, out: Hold{}, handler: s.api(s.endHold)},
		{method: "POST", path: "/v1/import/{kind}", summary: "Preview or apply a CSV import of people (with badges), key sets or badges: all or nothing, errors by line", auth: true, in: ImportRequest{}, status: 200, out: ImportResult{}, handler: s.api(s.importCSV)},
		{method: "GET", path: "/v1/retention", summary: "The organisation's retention rules", auth: true, status: 200, out: Retention{}, handler: s.api(s.getRetention)},
		{method: "PUT", path: "/v1/retention", summary: "Replace the organisation's retention rules", auth: true, in: Retention{}, status: 200, out: Retention{}, handler: s.api(s.setRetention)},
		{method: "GET", path: "/v1/members/{id}/subject-access", summary: "Everything HQ holds about a member (owners and admins; anyone about themself), as JSON and CSV in one zip", auth: true, raw: []string{"application/zip"}, status: 200, handler: s.api(s.subjectAccess)},
		{method: "PUT", path: "/v1/members/{id}/pin", summary: "Set a member's kiosk PIN (hashed)", auth: true, in: PINRequest{}, status: 204, handler: s.api(s.setPIN)},
		{method: "DELETE", path: "/v1/members/{id}/pin", summary: "Remove a member's PIN", auth: true, status: 204, handler: s.api(s.clearPIN)},
		{method: "GET", path: "/v1/members/{id}/badges", summary: "A member's badges (hashes only)", auth: true, status: 200, out: BadgeList{}, handler: s.api(s.listBadges)},
		{method: "POST", path: "/v1/members/{id}/badges", summary: "Enrol a badge code for a member", auth: true, in: BadgeRequest{}, status: 201, out: Badge{}, handler: s.api(s.addBadge)},
		{method: "DELETE", path: "/v1/members/{id}/badges/{badge}", summary: "Revoke a badge (by its id from the list)", auth: true, status: 204, handler: s.api(s.revokeBadge)},
		{method: "GET", path: "/v1/jobs", summary: "Contractor jobs", auth: true, query: []string{"member_id"}, status: 200, out: JobList{}, handler: s.api(s.listJobs)},
		{method: "POST", path: "/v1/jobs", summary: "Give a contractor key sets for a time window", auth: true, in: JobRequest{}, status: 201, out: Job{}, handler: s.api(s.createJob)},
		{method: "DELETE", path: "/v1/jobs/{id}", summary: "End a job at once", auth: true, status: 204, handler: s.api(s.deleteJob)},
		{method: "GET", path: "/v1/reservations", summary: "A key set's reservations", auth: true, query: []string{"key_set_id"}, status: 200, out: ReservationList{}, handler: s.api(s.listReservations)},
		{method: "POST", path: "/v1/reservations", summary: "Reserve a key set for a member (no overlaps)", auth: true, in: ReservationRequest{}, status: 201, out: Reservation{}, handler: s.api(s.createReservation)},
		{method: "DELETE", path: "/v1/reservations/{id}", summary: "Cancel a reservation", auth: true, status: 204, handler: s.api(s.deleteReservation)},
		{method: "POST", path: "/v1/cabinets/{id}/enrol-tokens", summary: "Issue a single-use token that enrols one kiosk for the cabinet (24 hours unless ttl_hours says otherwise); its text is answered once, as token and in enrol_code (HQ's URL and the token as one text, keycab-enrol:?hq=...&token=..., which the kiosk's setup screen reads from a QR code)", auth: true, in: EnrolTokenRequest{}, optionalIn: true, status: 201, out: EnrolToken{}, handler: s.api(s.createEnrolToken)},
		{method: "POST", path: "/v1/kiosks/{id}/revoke", summary: "Revoke a kiosk: its key stops working at once; its log and history stay", auth: true, status: 204, handler: s.api(s.revokeKiosk)},
		{method: "GET", path: "/v1/policy", summary: "The organisation's kiosk policy and branding, and what is in effect", auth: true, status: 200, out: Policy{}, handler: s.api(s.getPolicy)},
		{method: "PUT", path: "/v1/policy", summary: "Replace what the organisation's policy sets over keycab's defaults (owners and admins)", auth: true, in: PolicyRequest{}, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "DELETE", path: "/v1/policy", summary: "Go back to keycab's default policy for the organisation", auth: true, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "GET", path: "/v1/sites/{id}/policy", summary: "What a site's policy overrides, and what is in effect there", auth: true, status: 200, out: Policy{}, handler: s.api(s.getPolicy)},
		{method: "PUT", path: "/v1/sites/{id}/policy", summary: "Replace what a site overrides of the organisation's policy (owners, admins, the site's managers)", auth: true, in: PolicyRequest{}, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "DELETE", path: "/v1/sites/{id}/policy", summary: "Remove a site's overrides", auth: true, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "GET", path: "/v1/cabinets/{id}/policy", summary: "What a cabinet's policy overrides, and what its kiosks run", auth: true, status: 200, out: Policy{}, handler: s.api(s.getPolicy)},
		{method: "PUT", path: "/v1/cabinets/{id}/policy", summary: "Replace what a cabinet overrides of its site's policy (owners, admins, the site's managers)", auth: true, in: PolicyRequest{}, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "DELETE", path: "/v1/cabinets/{id}/policy", summary: "Remove a cabinet's overrides", auth: true, status: 200, out: Policy{}, handler: s.api(s.setPolicy)},
		{method: "PUT", path: "/v1/members/{id}/access", summary: "Replace a member's weekly schedule, access expiry and limit on key sets held", auth: true, in: MemberAccessRequest{}, status: 200, out: Member{}, handler: s.api(s.setMemberAccess)},
		{method: "GET", path: "/v1/groups", summary: "Member groups and key-set groups, with what they hold", auth: true, status: 200, out: GroupList{}, handler: s.api(s.listGroups)},
		{method: "POST", path: "/v1/groups", summary: "Create a member group or a key-set group (organisation-wide: owners and admins; of a site: also its managers)", auth: true, in: GroupRequest{}, status: 201, out: Group{}, handler: s.api(s.createGroup)},
		{method: "GET", path: "/v1/groups/{id}", summary: "A group and what it holds", auth: true, status: 200, out: Group{}, handler: s.api(s.getGroup)},
		{method: "PUT", path: "/v1/groups/{id}/entries", summary: "Replace a group's members (member group) or key sets (key-set group)", auth: true, in: GroupEntriesRequest{}, status: 200, out: Group{}, handler: s.api(s.setGroupEntries)},
		{method: "DELETE", path: "/v1/groups/{id}", summary: "Delete a group, its entries and its rules", auth: true, status: 204, handler: s.api(s.deleteGroup)},
		{method: "GET", path: "/v1/access-rules", summary: "Which member groups may take which key-set groups, when", auth: true, status: 200, out: AccessRuleList{}, handler: s.api(s.listAccessRules)},
		{method: "POST", path: "/v1/access-rules", summary: "Let a member group take a key-set group's key sets (whoever manages the key-set group)", auth: true, in: AccessRuleRequest{}, status: 201, out: AccessRule{}, handler: s.api(s.createAccessRule)},
		{method: "DELETE", path: "/v1/access-rules/{id}", summary: "Remove an access rule", auth: true, status: 204, handler: s.api(s.deleteAccessRule)},
		{method: "GET", path: "/v1/members/{id}/may-take/{key_set}", summary: "Whether a member may take a key set now, decided as a kiosk would", auth: true, status: 200, out: Decision{}, handler: s.api(s.mayTake)},
		{method: "POST", path: "/v1/kiosks/{id}/actions", summary: "Ask a kiosk to release a slot or its door (where its policy allows remote release), or to mark a key set out returned, lost or handed over to another member, or to take a key set's replacement fob (HQ issues its token); HQ signs it and the kiosk records it in its log (owners, admins, the site's managers)", auth: true, in: RemoteActionRequest{}, status: 201, out: RemoteAction{}, handler: s.api(s.createRemoteAction)},
		{method: "GET", path: "/v1/kiosks/{id}/actions", summary: "A kiosk's remote actions, newest first, with the kiosk's answers (owners, admins, auditors, the site's managers)", auth: true, query: []string{"limit"}, status: 200, out: RemoteActionList{}, handler: s.api(s.listRemoteActions)},
		{method: "POST", path: "/v1/passes", summary: "Issue a contractor an offline pass for some key sets and a time window, signed by HQ's config key; kiosks check it offline (owners, admins, the key sets' site managers); in the admin log", auth: true, in: PassRequest{}, status: 201, out: Pass{}, handler: s.api(s.createPass)},
		{method: "GET", path: "/v1/passes", summary: "The organisation's offline passes, newest first (owners, admins, auditors; site managers: their sites')", auth: true, query: []string{"limit"}, status: 200, out: PassList{}, handler: s.api(s.listPasses)},
		{method: "POST", path: "/v1/passes/{id}/revoke", summary: "Revoke an offline pass: the next bundles list it and kiosks refuse it; in the admin log", auth: true, status: 200, out: Pass{}, handler: s.api(s.revokePass)},
		{method: "GET", path: "/v1/admin-log", summary: "HQ's append-only log of admin actions, newest first (owners, admins and auditors)", auth: true, query: []string{"limit"}, status: 200, out: AdminLog{}, handler: s.api(s.listAdminLog)},
		{method: "GET", path: "/v1/kiosks/{id}/refusals", summary: "The touchscreen changes (fobs enrolled, badges linked at the kiosk) HQ refused, newest first, with why", auth: true, status: 200, out: KioskRefusalList{}, handler: s.api(s.kioskRefusals)},
		{method: "GET", path: "/v1/kiosks/{id}/stills/{index}", summary: "The camera still (JPEG) of entry index of a kiosk's log, to whoever may see the entry's personal text (owners and admins; others only at a site where they hold a key set now, for events their history shows); 404 otherwise, or once erased or expired", auth: true, raw: []string{"image/jpeg"}, status: 200, handler: s.api(s.kioskStill)},
		{method: "GET", path: "/v1/kiosks/{id}/log", summary: "A kiosk's log as HQ holds it: origin, verifier key, verified size", auth: true, status: 200, out: KioskLog{}, handler: s.api(s.kioskLog)},
		{method: "GET", path: "/v1/kiosks/{id}/log/witnesses", summary: "What each external witness (keycab-hq serve --witness) last said about the kiosk's log, and the cosignatures HQ holds from them", auth: true, status: 200, out: KioskWitnesses{}, handler: s.api(s.kioskWitnesses)},
		{method: "GET", path: "/v1/kiosks/{id}/log/evidence", summary: "Evidence HQ kept of the kiosk's log: a fork (what the kiosk sent and what HQ held) or a split view a witness refused (what HQ presented and what the witness had cosigned), oldest first", auth: true, status: 200, out: LogEvidenceList{}, handler: s.api(s.kioskLogEvidence)},
		{method: "GET", path: "/v1/kiosks/{id}/log/checkpoint", summary: "tlog-tiles: the kiosk's signed checkpoint with every cosignature HQ holds; without a token when the organisation publishes its logs", auth: true, public: true, raw: []string{"text/plain"}, status: 200, handler: s.api(s.kioskLogCheckpoint)},
		{method: "GET", path: "/v1/kiosks/{id}/log/tile/{path...}", summary: "tlog-tiles: a hash tile (L/N[.p/W]) or entry bundle (entries/N[.p/W], gzip-encoded when accepted); full tiles are immutable; without a token when the organisation publishes its logs", auth: true, public: true, raw: []string{"application/octet-stream"}, status: 200, handler: s.api(s.kioskLogTile)},
		{method: "GET", path: "/v1/reports/usage", summary: "Use over a period (since, until; at most 366 days): by key set (takes, hours out, utilisation, overdue), by person and by UTC day, as the reader may see the history (staff and contractors see their own)", auth: true, query: []string{"since", "until", "site_id"}, status: 200, out: UsageReport{}, handler: s.api(s.usageReport)},
		{method: "POST", path: "/v1/scan", summary: "What a key set's QR label (or id) is: the key set, its home, who has it, and what the member may do with it now", auth: true, in: ScanRequest{}, status: 200, out: KeySetStatus{}, handler: s.api(s.scan)},
		{method: "POST", path: "/v1/custody", summary: "Take, return or hand over a key set at HQ (a phone scanning its label, or another app), decided by the kiosk's rules and recorded in the organisation's HQ log; a scan of the same key set again within the scan cool-down is ignored, and a request_id sent again answers its first outcome", auth: true, in: CustodyRequest{}, status: 200, out: CustodyResult{}, handler: s.api(s.recordCustody)},
		{method: "GET", path: "/v1/org/log", summary: "The organisation's HQ log (custody changes made at HQ): origin, verifier key, size", auth: true, status: 200, out: OrgLog{}, handler: s.api(s.orgLog)},
		{method: "GET", path: "/v1/org/log/checkpoint", summary: "tlog-tiles: the HQ log's signed checkpoint", auth: true, raw: []string{"text/plain"}, status: 200, handler: s.api(s.orgLogCheckpoint)},
		{method: "GET", path: "/v1/org/log/tile/{path...}", summary: "tlog-tiles: a hash tile or entry bundle of the HQ log", auth: true, raw: []string{"application/octet-stream"}, status: 200, handler: s.api(s.orgLogTile)},
		{method: "GET", path: "/v1/sso", summary: "The organisation's single sign-on (OpenID Connect) configuration, never its client secret (owners)", auth: true, status: 200, out: SSOConfig{}, handler: s.api(s.getSSO)},
		{method: "PUT", path: "/v1/sso", summary: "Set the organisation's single sign-on: provider, verified domains, groups to roles, enforcement (owners), in the admin log with before and after", auth: true, in: SSOConfigRequest{}, status: 200, out: SSOConfig{}, handler: s.api(s.putSSO)},
		{method: "DELETE", path: "/v1/sso", summary: "Remove the organisation's single sign-on and its enforcement (owners), in the admin log", auth: true, status: 204, handler: s.api(s.deleteSSO)},
		{method: "GET", path: "/v1/webhooks", summary: "The organisation's webhooks, never their secrets (owners and admins)", auth: true, status: 200, out: WebhookList{}, handler: s.api(s.listWebhooks)},
		{method: "POST", path: "/v1/webhooks", summary: "Register a webhook endpoint for event types; its signing secret is answered this once (owners and admins), in the admin log", auth: true, in: WebhookRequest{}, status: 201, out: WebhookSecret{}, handler: s.api(s.createWebhook)},
		{method: "GET", path: "/v1/webhooks/{id}", summary: "A webhook (owners and admins)", auth: true, status: 200, out: Webhook{}, handler: s.api(s.getWebhook)},
		{method: "PUT", path: "/v1/webhooks/{id}", summary: "Replace a webhook's URL, description and event types, or enable or disable it (owners and admins), in the admin log", auth: true, in: WebhookRequest{}, status: 200, out: Webhook{}, handler: s.api(s.updateWebhook)},
		{method: "DELETE", path: "/v1/webhooks/{id}", summary: "Delete a webhook and its delivery log (owners and admins), in the admin log", auth: true, status: 204, handler: s.api(s.deleteWebhook)},
		{method: "POST", path: "/v1/webhooks/{id}/rotate", summary: "Give a webhook a new signing secret, answered this once; the previous one keeps signing beside it (both signatures sent) for keep_old_seconds (owners and admins), in the admin log", auth: true, in: RotateRequest{}, optionalIn: true, status: 200, out: WebhookSecret{}, handler: s.api(s.rotateWebhook)},
		{method: "GET", path: "/v1/webhooks/{id}/deliveries", summary: "A webhook's delivery log, newest first: state, attempts, last answer, next attempt (owners and admins)", auth: true, query: []string{"limit"}, status: 200, out: WebhookDeliveryList{}, handler: s.api(s.listWebhookDeliveries)},
		{method: "POST", path: "/v1/webhooks/{id}/test", summary: "Queue a webhook.test event for the webhook (owners and admins)", auth: true, status: 202, out: WebhookDelivery{}, handler: s.api(s.testWebhook)},
		{method: "POST", path: "/v1/webhooks/{id}/deliveries/{delivery}/resend", summary: "Send a delivery again, with the same message id and body, as a new series of attempts (owners and admins)", auth: true, status: 202, out: Status{}, handler: s.api(s.resendWebhookDelivery)},
		{method: "GET", path: "/v1/api-keys", summary: "The organisation's API keys, revoked ones too (owners, admins and auditors)", auth: true, status: 200, out: APIKeyList{}, handler: s.api(s.listAPIKeys)},
		{method: "POST", path: "/v1/api-keys", summary: "Create an API key for a service account (owners and admins, signed in): its scopes say which routes it may call; its token is answered once; in the admin log", auth: true, in: APIKeyRequest{}, status: 201, out: IssuedAPIKey{}, handler: s.api(s.createAPIKey)},
		{method: "POST", path: "/v1/api-keys/{id}/revoke", summary: "Revoke an API key at once (owners and admins); in the admin log", auth: true, status: 200, out: APIKey{}, handler: s.api(s.revokeAPIKey)},
		{method: "GET", path: "/v1/scim-tokens", summary: "The organisation's SCIM provisioning tokens, revoked ones too (owners, admins and auditors)", auth: true, status: 200, out: SCIMTokenList{}, handler: s.api(s.listSCIMTokens)},
		{method: "POST", path: "/v1/scim-tokens", summary: "Create a SCIM token for an identity provider's SCIM client at /scim/v2/ (owners and admins, signed in): its token is answered once; in the admin log", auth: true, in: SCIMTokenRequest{}, status: 201, out: IssuedSCIMToken{}, handler: s.api(s.createSCIMToken)},
		{method: "POST", path: "/v1/scim-tokens/{id}/revoke", summary: "Revoke a SCIM token at once (owners and admins); in the admin log", auth: true, status: 200, out: SCIMToken{}, handler: s.api(s.revokeSCIMToken)},
		{method: "PUT", path: "/v1/org/public-logs", summary: "Publish the organisation's kiosk logs to anyone without a token, or stop (owners and admins), in the admin log", auth: true, in: OrgPublicLogsRequest{}, status: 200, out: Org{}, handler: s.api(s.setOrgPublicLogs)},
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

// authenticated serves rt to a signed-in person whose standing rt
// allows, or to an API key one of whose scopes grants rt.
func (s *API) authenticated(next http.Handler, rt route) http.Handler {
	name := rt.method + " " + rt.path
	scopes := keyScopes(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Auth.AuthenticateAPI(r.Context(), accessToken(r))
		if err == nil {
			err = p.Gate(rt.allow)
		}
		if err == nil {
			err = keyMay(p, name, scopes)
		}
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
	var in SignupRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.Signup(r.Context(), auth.Signup(in), hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

func (s *API) loginResult(w http.ResponseWriter, res auth.LoginResult) {
	if res.Tokens == nil {
		hq.WriteJSON(w, http.StatusOK, MFAChallenge{MFARequired: true, MFAToken: res.MFAToken})
		return
	}
	s.setSession(w, *res.Tokens)
}

func (s *API) login(w http.ResponseWriter, r *http.Request) error {
	var in LoginRequest
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
	var in MFARequest
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
	var in RefreshRequest
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
	var in PasswordRequest
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
var accepted = Status{Status: "If an account uses this address, a message is on its way."}

func (s *API) requestReset(w http.ResponseWriter, r *http.Request) error {
	var in EmailRequest
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
	var in ResetConfirmRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	if err := s.Auth.ConfirmReset(r.Context(), in.Token, in.Password, hq.ClientIP(r)); err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Status{Status: "Password changed. Sign in with it."})
	return nil
}

func (s *API) requestMagic(w http.ResponseWriter, r *http.Request) error {
	var in EmailRequest
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
	var in MagicConfirmRequest
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
	hq.WriteJSON(w, http.StatusOK, TOTPSetup{Secret: key, OTPAuthURI: uri})
	return nil
}

func (s *API) mfaEnable(w http.ResponseWriter, r *http.Request) error {
	var in CodeRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	codes, err := s.Auth.EnableTOTP(r.Context(), principalOf(r.Context()), in.Code)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, MFAStatus{MFA: true, RecoveryCodes: codes})
	return nil
}

func (s *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	acct, err := s.Store.Accounts().GetAccount(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	m, err := s.Store.GetMember(r.Context(), p.Scope(), p.MemberID)
	if err != nil {
		return err
	}
	ms, err := s.Store.Accounts().Memberships(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	orgs := []string{}
	for _, x := range ms {
		orgs = append(orgs, x.OrgID)
	}
	hq.WriteJSON(w, http.StatusOK, Me{
		Account: Account{ID: acct.ID, Email: acct.Email, Name: acct.Name, MFA: acct.MFA, Verified: acct.Verified(),
			MFARequired: p.Standing.NeedsMFA()},
		Member: memberOf(m),
		OrgIDs: orgs,
	})
	return nil
}

func (s *API) org(w http.ResponseWriter, r *http.Request) error {
	return s.writeOrg(w, r)
}

func (s *API) writeOrg(w http.ResponseWriter, r *http.Request) error {
	sc := principalOf(r.Context()).Scope()
	o, err := s.Store.GetOrg(r.Context(), sc)
	if err != nil {
		return err
	}
	rule, err := s.Store.Accounts().RequireMFA(r.Context(), sc)
	if err != nil {
		return err
	}
	public, err := s.Store.KioskLogs().PublicLogs(r.Context(), sc)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, Org{ID: o.ID, Name: o.Name, RequireMFA: rule, PublicLogs: public, Caps: Caps{
		KeySets: o.Caps.KeySets, Sites: o.Caps.Sites, Cabinets: o.Caps.Cabinets, Members: o.Caps.Members}})
	return nil
}

func (s *API) listInvites(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Store.Accounts().ListInvites(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := InviteList{Invites: []Invite{}}
	for _, t := range ts {
		out.Invites = append(out.Invites, inviteOf(t))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) invite(w http.ResponseWriter, r *http.Request) error {
	var in InvitationRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	t, err := s.Auth.Invite(r.Context(), principalOf(r.Context()), auth.Invitation(in))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusCreated, inviteOf(t))
	return nil
}

func (s *API) revokeInvite(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.Accounts().RevokeInvite(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *API) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	var in AcceptRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	p, err := s.optionalPrincipal(r)
	if err != nil {
		return err
	}
	t, err := s.Auth.AcceptInvite(r.Context(), auth.Accept(in), p, hq.ClientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, t)
	return nil
}

func (s *API) listSites(w http.ResponseWriter, r *http.Request) error {
	sites, err := s.Store.ListSites(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := SiteList{Sites: []Site{}}
	for _, st := range sites {
		out.Sites = append(out.Sites, siteOf(st))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) getSite(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Store.GetSite(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, siteOf(st))
	return nil
}

func (s *API) listCabinets(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.Store.ListCabinets(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("site_id"))
	if err != nil {
		return err
	}
	out := CabinetList{Cabinets: []Cabinet{}}
	for _, c := range cs {
		out.Cabinets = append(out.Cabinets, cabinetOf(c))
	}
	hq.WriteJSON(w, http.StatusOK, out)
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
	out := CabinetDetail{Cabinet: cabinetOf(c), Slots: []CabinetSlot{}}
	for _, sl := range slots {
		out.Slots = append(out.Slots, CabinetSlot{Number: sl.Number, KeySetID: sl.KeySetID})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) listKeySets(w http.ResponseWriter, r *http.Request) error {
	ks, err := s.Store.ListKeySets(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("site_id"))
	if err != nil {
		return err
	}
	out := KeySetList{KeySets: []KeySet{}}
	for _, k := range ks {
		out.KeySets = append(out.KeySets, keySetOf(k))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) getKeySet(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Store.GetKeySet(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, keySetOf(k))
	return nil
}

func (s *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.Store.ListMembers(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	out := MemberList{Members: []Member{}}
	for _, m := range ms {
		out.Members = append(out.Members, memberOf(m))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) getMember(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Store.GetMember(r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, memberOf(m))
	return nil
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

// eventFilter reads the history filter of GET /v1/events and its JSON
// Lines export.
func eventFilter(q url.Values) (store.EventFilter, error) {
	f := store.EventFilter{KeySetID: q.Get("key_set_id"), ActorID: q.Get("actor_id"), Kind: keycab.EventKind(q.Get("kind"))}
	var err error
	if f.Since, err = parseTime(q.Get("since"), "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q.Get("until"), "until"); err != nil {
		return f, err
	}
	return f, nil
}

func (s *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := eventFilter(q)
	if err != nil {
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
	es, err := s.eventPage(r.Context(), f)
	if err != nil {
		return err
	}
	out := EventList{Events: es}
	if len(es) == f.Limit {
		out.NextCursor = store.EventCursor(storeKey(es[len(es)-1]))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

// eventPage reads a page of history as the API answers it.
func (s *API) eventPage(ctx context.Context, f store.EventFilter) ([]Event, error) {
	sc := principalOf(ctx).Scope()
	es, err := s.Store.ListEvents(ctx, sc, f)
	if err != nil {
		return nil, err
	}
	times, err := s.Store.KioskLogs().EventTimes(ctx, sc, es)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(es))
	for i, e := range es {
		out = append(out, eventOf(e, times[i]))
	}
	return out, nil
}

// storeKey is the page position of an event the API answered.
func storeKey(e Event) store.Event {
	return store.Event{At: e.At, KioskID: e.KioskID, LogIndex: e.LogIndex}
}

// exportEvents answers the whole history the filter selects as JSON
// Lines (https://jsonlines.org): one Event object per line, newest first,
// every field GET /v1/events has, personal text where the reader may see
// it (the store decides, as for GET /v1/events). The first page is read
// before the 200, so a bad filter or principal is an error body.
func (s *API) exportEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := eventFilter(r.URL.Query())
	if err != nil {
		return err
	}
	f.Limit = 1000
	es, err := s.eventPage(r.Context(), f)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="keycab-history.jsonl"`)
	enc := json.NewEncoder(w)
	for {
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return nil // the client went away
			}
		}
		if len(es) < f.Limit {
			return nil
		}
		last := storeKey(es[len(es)-1])
		f.Before = &last
		if es, err = s.eventPage(r.Context(), f); err != nil {
			s.Logger.Error("events export", "err", err)
			return nil // the 200 is sent: the export ends short
		}
	}
}

func (s *API) listCustody(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.Store.ListCustody(r.Context(), principalOf(r.Context()).Scope())
	if err != nil {
		return err
	}
	now := time.Now()
	out := CustodyList{Custody: []Custody{}}
	for _, h := range hs {
		out.Custody = append(out.Custody, Custody{KeySetID: h.KeySetID, MemberID: h.MemberID, KioskID: h.KioskID, SiteID: h.SiteID,
			TakenAt: h.TakenAt, DueAt: h.DueAt, Overdue: !h.DueAt.IsZero() && now.After(h.DueAt)})
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) listAlarms(w http.ResponseWriter, r *http.Request) error {
	as, err := s.Store.ListAlarms(r.Context(), principalOf(r.Context()).Scope(), r.URL.Query().Get("open") == "1" || r.URL.Query().Get("open") == "true")
	if err != nil {
		return err
	}
	out := AlarmList{Alarms: []Alarm{}}
	for _, a := range as {
		out.Alarms = append(out.Alarms, alarmOf(a))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *API) listKiosks(w http.ResponseWriter, r *http.Request) error {
	// Online is the dashboard's and the notifier's word; the API answers
	// last_seen instead, so no threshold is needed here.
	ks, err := s.Store.KioskLogs().ListKioskHealth(r.Context(), principalOf(r.Context()).Scope(), 0)
	if err != nil {
		return err
	}
	out := KioskList{Kiosks: []Kiosk{}}
	for _, k := range ks {
		out.Kiosks = append(out.Kiosks, kioskOf(k))
	}
	hq.WriteJSON(w, http.StatusOK, out)
	return nil
}
