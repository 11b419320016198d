package api

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The API's bodies, one named type each, from which the OpenAPI document
// is generated (openapi.go). Their JSON is the wire format: a field that
// may be absent says omitempty or omitzero (the document then leaves it
// out of "required"); every other field is always sent. A response
// type's fields are in the order of their JSON names, as the maps they
// replaced were encoded, so the bytes on the wire stayed the same.
// A struct tag doc:"..." describes its field in the document; a type with
// a method openAPI(*openapi3.Schema) adds what tags cannot say.

// Requests.

// SignupRequest is the body of POST /v1/signup (auth.Signup's fields).
type SignupRequest struct {
	OrgName  string `json:"org_name"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	OrgID    string `json:"org_id,omitempty" doc:"the organisation to sign in to, for an account in several"`
}

// MFARequest completes a sign-in with a TOTP code.
type MFARequest struct {
	MFAToken string `json:"mfa_token"`
	Code     string `json:"code"`
}

// RefreshRequest is the body of POST /v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// PasswordRequest changes the signed-in account's password.
type PasswordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// EmailRequest asks for a link to be mailed to an address.
type EmailRequest struct {
	Email string `json:"email"`
}

// ResetConfirmRequest sets a new password with a reset link's token.
type ResetConfirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// MagicConfirmRequest signs in with a sign-in link's token.
type MagicConfirmRequest struct {
	Token string `json:"token"`
	OrgID string `json:"org_id,omitempty"`
}

// CodeRequest is a TOTP code.
type CodeRequest struct {
	Code string `json:"code"`
}

// InvitationRequest invites an email address (auth.Invitation's fields).
type InvitationRequest struct {
	Email   string      `json:"email"`
	Role    keycab.Role `json:"role"`
	SiteIDs []string    `json:"site_ids,omitempty"`
}

// AcceptRequest accepts an invitation (auth.Accept's fields); name and
// password create the account when the caller is not signed in.
type AcceptRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
}

// SiteRequest creates a site or changes the fields it carries.
type SiteRequest struct {
	Name     *string `json:"name,omitempty"`
	Address  *string `json:"address,omitempty"`
	TimeZone *string `json:"time_zone,omitempty" doc:"an IANA time zone, e.g. Europe/London"`
	Notes    *string `json:"notes,omitempty" doc:"sealed at rest; shown to managers, and to staff while they hold a key of the site"`
	Language *string `json:"language,omitempty" doc:"the locale the site's kiosks speak: en-GB, en-US or de; empty: en-GB"`
}

// CabinetRequest creates a cabinet or changes the fields it carries.
type CabinetRequest struct {
	SiteID     *string             `json:"site_id,omitempty" doc:"on create only; a cabinet never moves"`
	Name       *string             `json:"name,omitempty"`
	Kind       *keycab.CabinetKind `json:"kind,omitempty"`
	DoorLock   *string             `json:"door_lock,omitempty"`
	DoorSensor *string             `json:"door_sensor,omitempty"`
}

// SlotRequest creates or replaces a slot.
type SlotRequest struct {
	Lock     string `json:"lock,omitempty"`
	Sensor   string `json:"sensor,omitempty"`
	KeySetID string `json:"key_set_id,omitempty" doc:"the key set homed in the slot"`
}

// KeySetRequest creates a key set or changes the fields it carries.
type KeySetRequest struct {
	SiteID        *string `json:"site_id,omitempty"`
	Label         *string `json:"label,omitempty"`
	Sensitive     *bool   `json:"sensitive,omitempty" doc:"taking it needs a second authorised member (dual release)"`
	TripleRelease *bool   `json:"triple_release,omitempty" doc:"taking it needs two authorised members besides the taker (implies sensitive)"`
	PINRequired   *bool   `json:"pin_required,omitempty"`
	MaxOutSeconds *int64  `json:"max_out_seconds,omitempty" doc:"how long it may stay out; 0: no limit"`
}

func (KeySetRequest) openAPI(s *openapi3.Schema) {
	s.Properties["max_out_seconds"].Value.WithMin(0).WithMax(366 * 24 * 3600)
}

// LabelsRequest chooses the key sets to print labels for.
type LabelsRequest struct {
	SiteID    string   `json:"site_id,omitempty"`
	CabinetID string   `json:"cabinet_id,omitempty"`
	KeySetIDs []string `json:"key_set_ids,omitempty"`
	Format    string   `json:"format,omitempty"`
}

func (LabelsRequest) openAPI(s *openapi3.Schema) {
	s.Description = "exactly one of site_id, cabinet_id, key_set_ids"
	s.Properties["format"].Value.WithEnum("pdf", "png").WithDefault("pdf")
}

// MemberRequest adds a member who signs in nowhere.
type MemberRequest struct {
	Name    string      `json:"name,omitempty"`
	Email   string      `json:"email,omitempty"`
	Role    keycab.Role `json:"role"`
	SiteIDs []string    `json:"site_ids,omitempty"`
	// Language is the member's own locale (en-GB, en-US, de), over the
	// site's at a kiosk; empty follows the site.
	Language string `json:"language,omitempty" doc:"the member's own locale: en-GB, en-US or de; empty: as the site at a kiosk, as the browser on the dashboard"`
}

// MemberChangeRequest changes a member's role and site scope, both or
// neither.
type MemberChangeRequest struct {
	Role    *keycab.Role `json:"role,omitempty"`
	SiteIDs *[]string    `json:"site_ids,omitempty"`
	// Language changes the member's own language, as the member or a
	// manager of the member may; "" follows the site's again.
	Language *string `json:"language,omitempty" doc:"the member's own locale: en-GB, en-US or de; empty: as the site at a kiosk, as the browser on the dashboard"`
}

// PINRequest sets a member's kiosk PIN.
type PINRequest struct {
	PIN string `json:"pin"`
}

func (PINRequest) openAPI(s *openapi3.Schema) {
	s.Properties["pin"].Value.WithPattern(fmt.Sprintf("^[0-9]{%d,%d}$", keycab.MinPIN, keycab.MaxPIN))
}

// maxBadgeCode bounds a badge code's length.
const maxBadgeCode = 256

// BadgeRequest enrols a badge code.
type BadgeRequest struct {
	Kind keycab.BadgeKind `json:"kind"`
	Code string           `json:"code"`
}

func (BadgeRequest) openAPI(s *openapi3.Schema) {
	s.Properties["code"].Value.WithMaxLength(maxBadgeCode)
}

// window is a body's time window, both ends required.
type window struct {
	From  *time.Time `json:"from" openapi:"required"`
	Until *time.Time `json:"until" openapi:"required"`
}

func (in window) check() error {
	if in.From == nil || in.Until == nil {
		return keycab.Errorf(keycab.EINVALID, "from and until: want RFC 3339 times")
	}
	return nil
}

// JobRequest gives a contractor key sets for a time window.
type JobRequest struct {
	MemberID   string   `json:"member_id"`
	KeySetIDs  []string `json:"key_set_ids"`
	Descriptor string   `json:"descriptor,omitempty"`
	window
}

// ReservationRequest reserves a key set for a member.
type ReservationRequest struct {
	KeySetID string `json:"key_set_id"`
	MemberID string `json:"member_id,omitempty" doc:"default: oneself"`
	window
}

// EnrolTokenRequest is the optional body of POST
// /v1/cabinets/{id}/enrol-tokens.
type EnrolTokenRequest struct {
	TTLHours int `json:"ttl_hours,omitempty" doc:"the token's lifetime; default 24"`
}

func (EnrolTokenRequest) openAPI(s *openapi3.Schema) {
	s.Properties["ttl_hours"].Value.WithMin(1).WithMax(float64(store.MaxEnrolTokenTTL / time.Hour))
}

// Responses. A completed sign-in answers auth.Tokens.

// MFAChallenge answers a sign-in that needs a TOTP code next
// (POST /v1/auth/mfa).
type MFAChallenge struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
}

func (MFAChallenge) openAPI(s *openapi3.Schema) {
	s.Properties["mfa_required"].Value.WithEnum(true)
}

// Status is a sentence for people.
type Status struct {
	Status string `json:"status"`
}

// TOTPSetup starts TOTP enrolment.
type TOTPSetup struct {
	OTPAuthURI string `json:"otpauth_uri"`
	Secret     string `json:"secret"`
}

// MFAStatus says whether TOTP is enabled.
type MFAStatus struct {
	MFA bool `json:"mfa"`
	// RecoveryCodes are answered once, when MFA is turned on: each stands
	// in for a TOTP code once.
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// ReauthRequest re-authenticates for an MFA change: the password and a
// current TOTP code or a recovery code.
type ReauthRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// RecoveryCodes are new recovery codes, shown this once.
type RecoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// TokenRequest carries a link's token.
type TokenRequest struct {
	Token string `json:"token"`
}

// EmailChangeRequest asks to change the account's address.
type EmailChangeRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Session is one of the account's signed-in logins.
type Session struct {
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"`
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
	IP        string    `json:"ip"`
	LastUsed  time.Time `json:"last_used_at"`
	OrgID     string    `json:"org_id"`
	UserAgent string    `json:"user_agent"`
}

// SessionList is the account's logins.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

// OrgSecurityRequest sets the organisation's sign-in rules.
type OrgSecurityRequest struct {
	RequireMFA bool `json:"require_mfa"`
}

// Account is a person's sign-in.
type Account struct {
	Email string `json:"email"`
	ID    string `json:"id"`
	MFA   bool   `json:"mfa"`
	// MFARequired: the organisation's rule sends this owner or admin to
	// MFA enrolment; nothing else works until then.
	MFARequired bool   `json:"mfa_required"`
	Name        string `json:"name"`
	// Verified: the email address is verified; until it is, nothing but
	// verifying (or resending the link) works.
	Verified bool `json:"verified"`
}

// Me is the signed-in account, its member in this organisation and the
// organisations it belongs to.
type Me struct {
	Account Account  `json:"account"`
	Member  Member   `json:"member"`
	OrgIDs  []string `json:"org_ids"`
}

// Caps are an organisation's limits.
type Caps struct {
	Cabinets int `json:"cabinets"`
	KeySets  int `json:"key_sets"`
	Members  int `json:"members"`
	Sites    int `json:"sites"`
}

// Org is the organisation.
type Org struct {
	Caps Caps   `json:"caps"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// PublicLogs: anyone may read the organisation's kiosk logs
	// (checkpoint, tiles, entry bundles) without a token.
	PublicLogs bool `json:"public_logs"`
	// RequireMFA: owners and admins must use MFA.
	RequireMFA bool `json:"require_mfa"`
}

// OrgPublicLogsRequest publishes the organisation's kiosk logs, or stops.
type OrgPublicLogsRequest struct {
	PublicLogs bool `json:"public_logs" doc:"anyone may read the kiosks' logs (checkpoint, tiles, entry bundles) without a token"`
}

// OrgDeletionRequest asks for the organisation to be deleted after the
// grace period: owners only, with their password (and a TOTP code when
// MFA is on) and the organisation's name typed.
type OrgDeletionRequest struct {
	Confirm  string `json:"confirm" doc:"the organisation's name, typed"`
	Password string `json:"password"`
	Code     string `json:"code,omitempty" doc:"a TOTP code, when MFA is on for the account"`
}

// OrgDeletion is the organisation's scheduled deletion, if any.
type OrgDeletion struct {
	Scheduled   bool      `json:"scheduled"`
	RequestedAt time.Time `json:"requested_at,omitzero"`
	RequestedBy string    `json:"requested_by,omitempty" doc:"the owner who asked (member id)"`
	DeleteAfter time.Time `json:"delete_after,omitzero" doc:"when HQ removes every row of the organisation; an owner can restore it until then"`
}

// Invite is an open invitation.
type Invite struct {
	CreatedAt time.Time   `json:"created_at"`
	Email     string      `json:"email"`
	ExpiresAt time.Time   `json:"expires_at"`
	ID        string      `json:"id"`
	InvitedBy string      `json:"invited_by" doc:"the inviting member"`
	Role      keycab.Role `json:"role"`
	SiteIDs   []string    `json:"site_ids"`
}

func inviteOf(t store.AuthToken) Invite {
	return Invite{ID: t.ID, Email: t.Email, Role: t.Role, SiteIDs: nonNil(t.SiteIDs), InvitedBy: t.MemberID,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// InviteList is GET /v1/invites.
type InviteList struct {
	Invites []Invite `json:"invites"`
}

// Site is a site; notes_redacted says its notes are withheld from the
// caller.
type Site struct {
	Address       string `json:"address"`
	ID            string `json:"id"`
	Name          string `json:"name"`
	Notes         string `json:"notes"`
	NotesRedacted bool   `json:"notes_redacted"`
	TimeZone      string `json:"time_zone"`
	Language      string `json:"language" doc:"the locale the site's kiosks speak (en-GB, en-US, de); empty: en-GB"`
}

func siteOf(st store.Site) Site {
	return Site{ID: st.ID, Name: st.Name, Address: st.Address, TimeZone: st.TimeZone, Notes: st.Notes, NotesRedacted: st.NotesRedacted, Language: st.Language}
}

// SiteList is GET /v1/sites.
type SiteList struct {
	Sites []Site `json:"sites"`
}

// Cabinet is a cabinet.
type Cabinet struct {
	ID     string             `json:"id"`
	Kind   keycab.CabinetKind `json:"kind"`
	Name   string             `json:"name"`
	SiteID string             `json:"site_id"`
}

func cabinetOf(c keycab.Cabinet) Cabinet {
	return Cabinet{ID: c.ID, SiteID: c.SiteID, Name: c.Name, Kind: c.Kind}
}

// CabinetSlot is a slot as a cabinet lists it.
type CabinetSlot struct {
	KeySetID string `json:"key_set_id"`
	Number   int    `json:"number"`
}

// CabinetDetail is a cabinet and its slots.
type CabinetDetail struct {
	Cabinet
	Slots []CabinetSlot `json:"slots"`
}

// CabinetList is GET /v1/cabinets.
type CabinetList struct {
	Cabinets []Cabinet `json:"cabinets"`
}

// Slot is a slot as set.
type Slot struct {
	CabinetID string `json:"cabinet_id"`
	KeySetID  string `json:"key_set_id"`
	Lock      string `json:"lock"`
	Number    int    `json:"number"`
	Sensor    string `json:"sensor"`
}

// KeySet is a key set.
type KeySet struct {
	ID            string `json:"id"`
	Label         string `json:"label"`
	MaxOutSeconds int64  `json:"max_out_seconds"`
	PINRequired   bool   `json:"pin_required"`
	Sensitive     bool   `json:"sensitive"`
	SiteID        string `json:"site_id"`
	TripleRelease bool   `json:"triple_release"`
}

func keySetOf(k keycab.KeySet) KeySet {
	return KeySet{ID: k.ID, SiteID: k.SiteID, Label: k.Label, Sensitive: k.Sensitive, PINRequired: k.PINRequired,
		MaxOutSeconds: int64(k.MaxOut / time.Second), TripleRelease: k.TripleRelease}
}

// KeySetList is GET /v1/key-sets.
type KeySetList struct {
	KeySets []KeySet `json:"key_sets"`
}

// Member is a member of the organisation.
type Member struct {
	Disabled bool        `json:"disabled"`
	Email    string      `json:"email"`
	HasPIN   bool        `json:"has_pin"`
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Role     keycab.Role `json:"role"`
	SiteIDs  []string    `json:"site_ids" doc:"the sites of a site-scoped role; empty: all"`
	// Set with PUT /v1/members/{id}/access.
	Schedule    []Window   `json:"schedule" doc:"when the member may take keys; empty: any time"`
	AccessUntil *time.Time `json:"access_until,omitempty" doc:"when the member's access to keys ends; absent: never"`
	MaxKeysOut  int        `json:"max_keys_out" doc:"key sets the member may hold at once; 0: the policy's limit"`
	ErasedAt    *time.Time `json:"erased_at,omitempty" doc:"when the member's personal data was erased (POST /v1/members/{id}/erase); absent: never"`
	Language    string     `json:"language" doc:"the member's own locale (en-GB, en-US, de); empty: as the site at a kiosk, as the browser on the dashboard"`
}

func memberOf(m keycab.Member) Member {
	out := Member{ID: m.ID, Name: m.Name, Email: m.Email, Role: m.Role, SiteIDs: nonNil(m.SiteIDs),
		Disabled: m.Disabled, HasPIN: m.PINHash != "", Schedule: windowsOf(m.Schedule), MaxKeysOut: m.MaxKeysOut, Language: m.Language}
	if !m.AccessUntil.IsZero() {
		t := m.AccessUntil.UTC()
		out.AccessUntil = &t
	}
	out.ErasedAt = timePtr(m.ErasedAt)
	return out
}

// timePtr is t in UTC, or nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// EraseRequest confirms an erasure (POST /v1/members/{id}/erase): it
// cannot be undone.
type EraseRequest struct {
	Confirm string `json:"confirm" doc:"the member's id again, typed to confirm"`
}

// HoldRequest places a legal hold (POST /v1/holds).
type HoldRequest struct {
	Target   store.HoldTarget `json:"target"`
	TargetID string           `json:"target_id" doc:"the member, key set or site held"`
	Reason   string           `json:"reason"`
	OwnerID  string           `json:"owner_id" doc:"the member responsible for the hold"`
	Ends     *time.Time       `json:"ends,omitempty" doc:"when the hold ends by itself; absent: when ended"`
}

// Hold is a legal hold: while active it suspends erasure and retention of
// what it covers (a member; a key set and its history; a site and its
// members).
type Hold struct {
	ID        string           `json:"id"`
	Target    store.HoldTarget `json:"target"`
	TargetID  string           `json:"target_id"`
	Reason    string           `json:"reason"`
	OwnerID   string           `json:"owner_id"`
	Ends      *time.Time       `json:"ends,omitempty"`
	Active    bool             `json:"active"`
	CreatedBy string           `json:"created_by"`
	CreatedAt time.Time        `json:"created_at"`
	EndedBy   string           `json:"ended_by,omitempty"`
	EndedAt   *time.Time       `json:"ended_at,omitempty"`
}

func holdOf(h store.Hold, now time.Time) Hold {
	return Hold{ID: h.ID, Target: h.Target, TargetID: h.TargetID, Reason: h.Reason, OwnerID: h.OwnerID, Ends: timePtr(h.Ends),
		Active: h.Active(now), CreatedBy: h.CreatedBy, CreatedAt: h.CreatedAt.UTC(), EndedBy: h.EndedBy, EndedAt: timePtr(h.EndedAt)}
}

// HoldList is the organisation's legal holds, newest first.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// Retention is the organisation's retention rules (GET and PUT
// /v1/retention): each the age in days after which HQ's retention job
// (and, for personal texts, every kiosk) deletes those records; 0 keeps
// them. A legal hold spares what it covers.
type Retention struct {
	PersonalTextDays int `json:"personal_text_days" doc:"personal texts (recipient, notes), by the time of their entry; never the entries"`
	DeliveriesDays   int `json:"deliveries_days" doc:"the organisation's mail delivery log"`
	SessionsDays     int `json:"sessions_days" doc:"sessions and single-use tokens, this long after they expired or were revoked"`
	AdminDetailDays  int `json:"admin_detail_days" doc:"the detail (before and after) of admin-log entries, replaced by \"removed by retention\"; the entries stay"`
}

func (Retention) openAPI(s *openapi3.Schema) {
	for _, p := range s.Properties {
		p.Value.WithMin(0).WithMax(store.MaxRetentionDays)
	}
}

// MemberList is GET /v1/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// Event is one entry of a kiosk's history, with when it happened by
// HQ's clock: hq_not_before (absent when HQ knows no lower bound) and
// hq_not_after, and clock_off when the kiosk's time ("at") lies outside.
type Event struct {
	ActorID     string           `json:"actor_id"`
	At          time.Time        `json:"at" doc:"the kiosk's wall time"`
	CabinetID   string           `json:"cabinet_id"`
	ClockOff    bool             `json:"clock_off"`
	Detail      string           `json:"detail"`
	DueAt       time.Time        `json:"due_at,omitzero"`
	HQNotAfter  time.Time        `json:"hq_not_after"`
	HQNotBefore time.Time        `json:"hq_not_before,omitzero"`
	KeySetID    string           `json:"key_set_id"`
	Kind        keycab.EventKind `json:"kind"`
	KioskID     string           `json:"kiosk_id"`
	LogIndex    int64            `json:"log_index"`
	Reason      string           `json:"reason,omitempty" doc:"key.taken: the reason preset"`
	SecondID    string           `json:"second_id,omitempty" doc:"the second member of a dual or triple release"`
	ThirdID     string           `json:"third_id,omitempty" doc:"the third member of a triple release"`
	Slot        int              `json:"slot,omitempty" doc:"the slot taken from or returned to"`
	Via         string           `json:"via,omitempty" doc:"identified: the reader"`
	Context     string           `json:"context,omitempty" doc:"what an alarm was about; a return's circumstances (wrong slot, for whom)"`
	HomeSlot    int              `json:"home_slot,omitempty" doc:"a return to a wrong slot: the slot of the cabinet its key set is mapped to"`
	Recipient   string           `json:"recipient,omitempty" doc:"personal text: who the key was given to; only for owners and admins, or a member holding a key set of the event's site now"`
	Notes       string           `json:"notes,omitempty" doc:"personal text: the notes of the entry; shown as recipient is"`
	Still       bool             `json:"still,omitempty" doc:"HQ keeps a camera still of the entry, at /v1/kiosks/{kiosk_id}/stills/{log_index}; shown as recipient is"`
}

func eventOf(e store.Event, et store.EventTime) Event {
	return Event{KioskID: e.KioskID, LogIndex: e.LogIndex, Kind: e.Kind, ActorID: e.ActorID, KeySetID: e.KeySetID,
		CabinetID: e.CabinetID, At: e.At, Detail: e.Detail, DueAt: e.DueAt,
		HQNotBefore: et.NotBefore, HQNotAfter: et.NotAfter, ClockOff: et.Off(),
		Reason: e.Reason, SecondID: e.SecondID, ThirdID: e.ThirdID, Slot: e.Slot, Via: e.Via, Context: e.Context,
		HomeSlot: e.HomeSlot, Recipient: e.Recipient, Notes: e.Notes, Still: e.Still}
}

// EventList is a page of GET /v1/events; next_cursor is there when
// another page may follow.
type EventList struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Custody is a key set out now.
type Custody struct {
	DueAt    time.Time `json:"due_at,omitzero"`
	KeySetID string    `json:"key_set_id"`
	KioskID  string    `json:"kiosk_id"`
	MemberID string    `json:"member_id"`
	Overdue  bool      `json:"overdue"`
	SiteID   string    `json:"site_id"`
	TakenAt  time.Time `json:"taken_at"`
}

// CustodyList is GET /v1/custody.
type CustodyList struct {
	Custody []Custody `json:"custody"`
}

// Alarm is an alarm a kiosk raised; cleared_at and cleared_by are there
// once it is cleared.
type Alarm struct {
	Alarm     string    `json:"alarm"`
	CabinetID string    `json:"cabinet_id"`
	ClearedAt time.Time `json:"cleared_at,omitzero"`
	ClearedBy *string   `json:"cleared_by,omitempty"`
	ID        string    `json:"id"`
	KioskID   string    `json:"kiosk_id"`
	LogIndex  int64     `json:"log_index"`
	Note      string    `json:"note"`
	Open      bool      `json:"open"`
	RaisedAt  time.Time `json:"raised_at"`
	KeySetID  string    `json:"key_set_id,omitempty" doc:"the key set the alarm is about, from the entry that raised it"`
	Slot      int       `json:"slot,omitempty" doc:"the slot it is about"`
	Context   string    `json:"context,omitempty" doc:"the kiosk's words on it, e.g. door open longer than 1m0s"`
}

func alarmOf(a store.Alarm) Alarm {
	out := Alarm{ID: a.ID, KioskID: a.KioskID, CabinetID: a.CabinetID, Alarm: a.Alarm, LogIndex: a.LogIndex,
		RaisedAt: a.RaisedAt, Open: a.ClearedAt.IsZero(), Note: a.Note, KeySetID: a.KeySetID, Slot: a.Slot, Context: a.Context}
	if !a.ClearedAt.IsZero() {
		out.ClearedAt, out.ClearedBy = a.ClearedAt, &a.ClearedBy
	}
	return out
}

// AlarmList is GET /v1/alarms.
type AlarmList struct {
	Alarms []Alarm `json:"alarms"`
}

// Kiosk is an enrolled kiosk, and the state of its config.
type Kiosk struct {
	CabinetID         string    `json:"cabinet_id"`
	ConfigAppliedAt   time.Time `json:"config_applied_at,omitzero" doc:"when HQ first heard the kiosk report config_version"`
	ConfigBehindSince time.Time `json:"config_behind_since,omitzero" doc:"when HQ issued a config the kiosk has not applied yet; absent when up to date"`
	ConfigNewest      int64     `json:"config_newest" doc:"the newest config version HQ issued the kiosk"`
	ConfigVersion     int64     `json:"config_version" doc:"the config version the kiosk applied, as its newest heartbeat said"`
	EnrolledAt        time.Time `json:"enrolled_at"`
	ID                string    `json:"id"`
	LastSeen          time.Time `json:"last_seen,omitzero"`
	LogSize           int64     `json:"log_size"`
	Name              string    `json:"name"`
	Revoked           bool      `json:"revoked"`
}

func kioskOf(h store.KioskHealth) Kiosk {
	k := h.Kiosk
	return Kiosk{ID: k.ID, CabinetID: k.CabinetID, Name: k.Name, EnrolledAt: k.EnrolledAt, LogSize: k.LogSize,
		Revoked: !k.RevokedAt.IsZero(), LastSeen: k.LastSeen, ConfigVersion: h.Heartbeat.ConfigVersion,
		ConfigNewest: h.ConfigNewest, ConfigAppliedAt: h.Heartbeat.ConfigAppliedAt, ConfigBehindSince: h.ConfigBehindSince()}
}

// KioskList is GET /v1/kiosks.
type KioskList struct {
	Kiosks []Kiosk `json:"kiosks"`
}

// Token is a key set's QR token, never its text.
type Token struct {
	ID        string    `json:"id"`
	IssuedAt  time.Time `json:"issued_at"`
	KeySetID  string    `json:"key_set_id"`
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Kiosk     string    `json:"enrolled_at_kiosk,omitempty" doc:"the kiosk whose touchscreen enrolled the label (its name); absent when issued at HQ"`
}

func tokenOf(t store.Token) Token {
	return Token{ID: t.ID, KeySetID: t.KeySetID, IssuedAt: t.IssuedAt, Revoked: !t.RevokedAt.IsZero(), RevokedAt: t.RevokedAt, Kiosk: t.Kiosk}
}

// IssuedToken is a new token with its text, answered this once.
type IssuedToken struct {
	Token
	Text string `json:"token"`
}

// TokenList is GET /v1/key-sets/{id}/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// Badge is a member's badge; its id is the code's hash, in hex.
type Badge struct {
	ID        string           `json:"id"`
	Kind      keycab.BadgeKind `json:"kind"`
	MemberID  string           `json:"member_id"`
	Revoked   bool             `json:"revoked"`
	RevokedAt time.Time        `json:"revoked_at,omitzero"`
	Kiosk     string           `json:"linked_at_kiosk,omitempty" doc:"the kiosk whose touchscreen linked the badge (its name); absent when linked at HQ"`
}

func badgeOf(b keycab.Badge) Badge {
	return Badge{ID: hex.EncodeToString(b.Hash), MemberID: b.MemberID, Kind: b.Kind, Revoked: !b.RevokedAt.IsZero(), RevokedAt: b.RevokedAt, Kiosk: b.Kiosk}
}

// BadgeList is GET /v1/members/{id}/badges.
type BadgeList struct {
	Badges []Badge `json:"badges"`
}

// Job is a contractor's job.
type Job struct {
	Descriptor string    `json:"descriptor"`
	From       time.Time `json:"from"`
	ID         string    `json:"id"`
	KeySetIDs  []string  `json:"key_set_ids"`
	MemberID   string    `json:"member_id"`
	Until      time.Time `json:"until"`
}

func jobOf(j keycab.Job) Job {
	return Job{ID: j.ID, MemberID: j.MemberID, KeySetIDs: nonNil(j.KeySetIDs), From: j.From, Until: j.Until, Descriptor: j.Descriptor}
}

// JobList is GET /v1/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

// Reservation is a key set reserved for a member.
type Reservation struct {
	From     time.Time `json:"from"`
	ID       string    `json:"id"`
	KeySetID string    `json:"key_set_id"`
	MemberID string    `json:"member_id"`
	Until    time.Time `json:"until"`
}

func reservationOf(v keycab.Reservation) Reservation {
	return Reservation{ID: v.ID, KeySetID: v.KeySetID, MemberID: v.MemberID, From: v.From, Until: v.Until}
}

// ReservationList is GET /v1/reservations.
type ReservationList struct {
	Reservations []Reservation `json:"reservations"`
}

// EnrolToken is a new kiosk enrolment token, answered this once.
type EnrolToken struct {
	CabinetID string    `json:"cabinet_id"`
	EnrolCode string    `json:"enrol_code" doc:"keycab-enrol:?hq=URL&token=T, for the kiosk's setup screen"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token"`
}

// AdminAction is an entry of HQ's log of admin actions.
type AdminAction struct {
	Action    string    `json:"action"`
	ActorID   string    `json:"actor_id" doc:"a member's, a kiosk's, an API key's or a SCIM token's id"`
	ActorRole string    `json:"actor_role"`
	At        time.Time `json:"at"`
	Detail    string    `json:"detail"`
	ID        string    `json:"id"`
	Target    string    `json:"target"`
}

// AdminLog is GET /v1/admin-log.
type AdminLog struct {
	Actions []AdminAction `json:"actions"`
}

// KioskRefusal is a touchscreen change HQ refused (sync/wire minor 2).
type KioskRefusal struct {
	At     time.Time `json:"at"`
	Change string    `json:"change" doc:"token.enrolled or badge.linked"`
	Index  int64     `json:"log_index" doc:"the index of the kiosk's admin.change entry"`
	Reason string    `json:"reason"`
}

// KioskRefusalList is GET /v1/kiosks/{id}/refusals.
type KioskRefusalList struct {
	Refusals []KioskRefusal `json:"refusals"`
}

// KioskWitnesses is GET /v1/kiosks/{id}/log/witnesses: what each
// external witness last said about the kiosk's log, and every
// cosignature HQ holds from them.
type KioskWitnesses struct {
	Cosignatures []WitnessCosignature `json:"cosignatures"`
	Witnesses    []WitnessStatus      `json:"witnesses"`
}

// WitnessStatus is what HQ last heard from one witness about a log.
type WitnessStatus struct {
	At      time.Time `json:"at"`
	Size    int64     `json:"size" doc:"the size the witness holds (its last cosignature, or its 409)"`
	Status  string    `json:"status" doc:"cosigned, unknown log (404), no trusted signature (403), refused (a split view: HQ sends it this log no more), ahead of HQ"`
	Witness string    `json:"witness" doc:"the witness's name (its key's)"`
}

// WitnessCosignature is one witness's cosignature of the kiosk's log.
type WitnessCosignature struct {
	At         time.Time `json:"at"`
	Checkpoint string    `json:"checkpoint" doc:"the kiosk's signed checkpoint with the witness's cosignature lines (C2SP signed note)"`
	Size       int64     `json:"size"`
	Witness    string    `json:"witness"`
}

// LogEvidenceList is GET /v1/kiosks/{id}/log/evidence.
type LogEvidenceList struct {
	Evidence []LogEvidence `json:"evidence"`
}

// LogEvidence is what HQ kept when a kiosk's log forked or a witness
// refused a split view: both signed notes (or leaves).
type LogEvidence struct {
	At     time.Time `json:"at"`
	ID     string    `json:"id"`
	Ours   string    `json:"ours" doc:"what HQ held or presented (base64)"`
	Theirs string    `json:"theirs" doc:"what the kiosk sent, or the checkpoint of that size the witness cosigned (base64; empty when HQ holds none)"`
	What   string    `json:"what"`
}

// KioskLog is a kiosk's log as HQ holds it; quarantined_at and
// quarantine_reason are there when it forked.
type KioskLog struct {
	CabinetID        string    `json:"cabinet_id"`
	KioskID          string    `json:"kiosk_id"`
	Origin           string    `json:"origin"`
	QuarantineReason *string   `json:"quarantine_reason,omitempty"`
	Quarantined      bool      `json:"quarantined"`
	QuarantinedAt    time.Time `json:"quarantined_at,omitzero"`
	Size             int64     `json:"size" doc:"the entries HQ holds and has verified"`
	VerifierKey      string    `json:"verifier_key"`
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// ImportRequest is a CSV file to import (or preview).
type ImportRequest struct {
	CSV   string `json:"csv" doc:"the file: a header line naming the columns, then one row per line (RFC 4180)"`
	Apply bool   `json:"apply,omitempty" doc:"store the rows (all or nothing); false previews"`
}

// ImportRow is what one line of the file adds, or why it cannot.
type ImportRow struct {
	Line  int    `json:"line"`
	What  string `json:"what,omitempty" doc:"what the line adds, in words"`
	ID    string `json:"id,omitempty" doc:"the id it got, once applied"`
	Error string `json:"error,omitempty" doc:"why the line cannot be imported, in the language Accept-Language asks for"`
}

// ImportResult is the outcome of an import's preview, or of the import.
type ImportResult struct {
	Kind    string      `json:"kind"`
	Applied bool        `json:"applied"`
	Errors  int         `json:"errors"`
	Rows    []ImportRow `json:"rows"`
}

func (ImportResult) openAPI(s *openapi3.Schema) {
	s.Properties["kind"].Value.WithEnum(store.ImportPeople, store.ImportKeySets, store.ImportBadges)
}

func importResultOf(r store.ImportResult, lang string) ImportResult {
	out := ImportResult{Kind: string(r.Kind), Applied: r.Applied, Errors: r.Errors, Rows: make([]ImportRow, len(r.Rows))}
	for i, row := range r.Rows {
		out.Rows[i] = ImportRow{Line: row.Line, What: row.What, ID: row.ID, Error: row.Error}
		if row.Err != nil {
			out.Rows[i].Error = keycab.ErrorMessageIn(row.Err, lang)
		}
	}
	return out
}

// APIKey is a service account's key (its secret is shown once, at
// creation).
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes" doc:"history:read, custody:write, people:write, cabinets:write"`
	Role       string     `json:"role" doc:"the most the store lets the key do: auditor for a read-only key, admin otherwise"`
	CreatedBy  string     `json:"created_by" doc:"the member who created it"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty" doc:"absent: never"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"to the minute; absent: never used"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// APIKeyList is GET /v1/api-keys.
type APIKeyList struct {
	APIKeys []APIKey `json:"api_keys"`
}

// APIKeyRequest is POST /v1/api-keys.
type APIKeyRequest struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes" doc:"at least one of history:read, custody:write, people:write, cabinets:write"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"absent: never"`
}

// IssuedAPIKey is a new key with its text, answered once: send it as
// Authorization: Bearer TOKEN.
type IssuedAPIKey struct {
	APIKey
	Token string `json:"token"`
}

// SCIMToken is an identity provider's SCIM provisioning token (its
// secret is shown once, at creation).
type SCIMToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedBy  string     `json:"created_by" doc:"the member who created it"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"to the minute; absent: never used"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// SCIMTokenList is GET /v1/scim-tokens.
type SCIMTokenList struct {
	SCIMTokens []SCIMToken `json:"scim_tokens"`
}

// SCIMTokenRequest is POST /v1/scim-tokens.
type SCIMTokenRequest struct {
	Name string `json:"name"`
}

// IssuedSCIMToken is a new SCIM token with its text, answered once: the
// identity provider's SCIM client sends it as Authorization: Bearer
// TOKEN to the base URL.
type IssuedSCIMToken struct {
	SCIMToken
	Token   string `json:"token"`
	BaseURL string `json:"base_url" doc:"the SCIM base URL to give the identity provider: /scim/v2/ on this HQ"`
}
