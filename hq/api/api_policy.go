package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The policy endpoints: one level each of the organisation's kiosk
// policy (store.SetPolicy), and a member's own limits.

// PolicyRequest is what one level of the policy sets (PUT
// /v1/policy, /v1/sites/{id}/policy, /v1/cabinets/{id}/policy); a field
// left out inherits from the level above, and an empty object inherits
// everything.
type PolicyRequest keycab.PolicyOverride

func (PolicyRequest) openAPI(s *openapi3.Schema) {
	for _, name := range []string{"lock_out_seconds", "scan_cool_down_seconds", "door_held_seconds", "door_held_warning_seconds",
		"default_max_out_seconds", "dual_release_window_seconds"} {
		s.Properties[name].Value.WithMin(0).WithMax(float64(keycab.MaxMaxOut / time.Second))
	}
	s.Properties["max_failed_pins"].Value.WithMin(0).WithMax(keycab.MaxFailedPINsLimit)
	s.Properties["max_keys_out"].Value.WithMin(0).WithMax(keycab.MaxKeysOutLimit)
	s.Properties["reasons"].Value.WithMaxItems(keycab.MaxReasons)
	// Empty: anyone who may take the key set may approve.
	ar := *s.Properties["approver_role"].Value
	ar.Enum = append(append([]any{}, ar.Enum...), "")
	s.Properties["approver_role"] = openapi3.NewSchemaRef("", &ar)
	s.Properties["accent"].Value.WithPattern("^(#[0-9a-fA-F]{6})?$")
	s.Properties["curfew"].Value.WithPattern(`^([0-2][0-9]:[0-5][0-9]( [A-Za-z_+\-/0-9]+)?)?$`)
}

// Policy is one level of the policy with what is in effect there.
type Policy struct {
	Level     store.PolicyLevel `json:"level" doc:"org, site or cabinet"`
	ScopeID   string            `json:"scope_id" doc:"the site or cabinet; empty for the organisation"`
	Settings  PolicyRequest     `json:"settings" doc:"what this level sets; the rest it inherits"`
	Effective PolicyRequest     `json:"effective" doc:"the policy in effect here, every field set (at a cabinet: what its kiosks run)"`
	UpdatedAt *time.Time        `json:"updated_at,omitempty"`
	UpdatedBy string            `json:"updated_by,omitempty" doc:"the member who last changed this level"`
}

func policyOf(p store.PolicySettings) Policy {
	out := Policy{Level: p.Level, ScopeID: p.ScopeID, Settings: PolicyRequest(p.Settings),
		Effective: PolicyRequest(keycab.OverrideOf(p.Policy, p.Branding)), UpdatedBy: p.UpdatedBy}
	if !p.UpdatedAt.IsZero() {
		t := p.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	return out
}

// policyLevel reads the level a request's path names.
func policyLevel(r *http.Request) (store.PolicyLevel, string) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/sites/"):
		return store.PolicySite, r.PathValue("id")
	case strings.HasPrefix(r.URL.Path, "/v1/cabinets/"):
		return store.PolicyCabinet, r.PathValue("id")
	}
	return store.PolicyOrg, ""
}

func (s *API) getPolicy(w http.ResponseWriter, r *http.Request) error {
	level, id := policyLevel(r)
	p, err := s.Store.GetPolicy(r.Context(), principalOf(r.Context()).Scope(), level, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, policyOf(p))
	return nil
}

func (s *API) setPolicy(w http.ResponseWriter, r *http.Request) error {
	var in PolicyRequest
	if r.Method != http.MethodDelete {
		if err := hq.Decode(r, &in); err != nil {
			return err
		}
	}
	level, id := policyLevel(r)
	p, err := s.Store.SetPolicy(r.Context(), principalOf(r.Context()).Scope(), level, id, keycab.PolicyOverride(in))
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, policyOf(p))
	return nil
}

// Window is a weekly window of a member's schedule, in the site's time
// zone.
type Window struct {
	Days  []int  `json:"days" doc:"days of the week, 0 Sunday to 6 Saturday"`
	From  string `json:"from" doc:"opens at HH:MM"`
	Until string `json:"until" doc:"closes at HH:MM (24:00 for midnight); before from for a window past midnight"`
}

func (Window) openAPI(s *openapi3.Schema) {
	s.Properties["days"].Value.WithMinItems(1).WithMaxItems(7).Items.Value.WithMin(0).WithMax(6)
	s.Properties["from"].Value.WithPattern("^[0-2][0-9]:[0-5][0-9]$")
	s.Properties["until"].Value.WithPattern("^[0-2][0-9]:[0-5][0-9]$")
}

func windowOf(w keycab.Window) Window {
	out := Window{Days: []int{}, From: clockOf(w.From), Until: clockOf(w.Until)}
	for _, d := range w.Days {
		out.Days = append(out.Days, int(d))
	}
	return out
}

func clockOf(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

func (w Window) window(i int) (keycab.Window, error) {
	var out keycab.Window
	var err error
	if out.From, err = keycab.ParseClock(fmt.Sprintf("schedule[%d].from", i), w.From); err != nil {
		return out, err
	}
	if out.Until, err = keycab.ParseClock(fmt.Sprintf("schedule[%d].until", i), w.Until); err != nil {
		return out, err
	}
	for _, d := range w.Days {
		out.Days = append(out.Days, time.Weekday(d))
	}
	return out, out.Validate()
}

// scheduleOf reads a schedule of the API.
func scheduleOf(ws []Window) ([]keycab.Window, error) {
	if len(ws) > keycab.MaxWindows {
		return nil, keycab.Errorf(keycab.EINVALID, "schedule: at most %d windows", keycab.MaxWindows)
	}
	var out []keycab.Window
	for i, w := range ws {
		kw, err := w.window(i)
		if err != nil {
			return nil, err
		}
		out = append(out, kw)
	}
	return out, nil
}

// windowsOf is a schedule as the API answers it.
func windowsOf(ws []keycab.Window) []Window {
	out := []Window{}
	for _, w := range ws {
		out = append(out, windowOf(w))
	}
	return out
}

// MemberAccessRequest replaces a member's schedule, access expiry and
// limit on key sets held (PUT /v1/members/{id}/access).
type MemberAccessRequest struct {
	Schedule    []Window   `json:"schedule" doc:"when the member may take keys; empty: any time"`
	AccessUntil *time.Time `json:"access_until,omitempty" doc:"when the member's access to keys ends; absent: never"`
	MaxKeysOut  int        `json:"max_keys_out" doc:"key sets the member may hold at once; 0: the policy's limit"`
}

func (MemberAccessRequest) openAPI(s *openapi3.Schema) {
	s.Properties["schedule"].Value.WithMaxItems(keycab.MaxWindows)
	s.Properties["max_keys_out"].Value.WithMin(0).WithMax(keycab.MaxKeysOutLimit)
}

func (s *API) setMemberAccess(w http.ResponseWriter, r *http.Request) error {
	var in MemberAccessRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	sched, err := scheduleOf(in.Schedule)
	if err != nil {
		return err
	}
	a := store.MemberAccess{MaxKeysOut: in.MaxKeysOut, Schedule: sched}
	if in.AccessUntil != nil {
		a.AccessUntil = *in.AccessUntil
	}
	ctx, sc, id := r.Context(), principalOf(r.Context()).Scope(), r.PathValue("id")
	if err := s.Store.SetMemberAccess(ctx, sc, id, a); err != nil {
		return err
	}
	m, err := s.Store.GetMember(ctx, sc, id)
	if err != nil {
		return err
	}
	hq.WriteJSON(w, http.StatusOK, memberOf(m))
	return nil
}
