package keycab

import "time"

// PolicyOverride is what one level of HQ's policy sets: the organisation
// over DefaultPolicy, a site over its organisation, a cabinet over its
// site. A nil field inherits from the level above. It is also the JSON
// document HQ's API reads and writes, so durations are whole seconds.
type PolicyOverride struct {
	PINRoles                 *[]Role   `json:"pin_roles,omitempty" doc:"roles asked for a PIN after their badge"`
	PINAlways                *bool     `json:"pin_always,omitempty" doc:"ask everyone for a PIN"`
	MaxFailedPINs            *int      `json:"max_failed_pins,omitempty" doc:"wrong PINs in a row before a lock-out; 0: never"`
	LockOutSeconds           *int64    `json:"lock_out_seconds,omitempty"`
	ScanCoolDownSeconds      *int64    `json:"scan_cool_down_seconds,omitempty" doc:"the same code read again within it is ignored"`
	DoorHeldSeconds          *int64    `json:"door_held_seconds,omitempty" doc:"the door-held alarm after the door stays open this long"`
	DoorHeldWarningSeconds   *int64    `json:"door_held_warning_seconds,omitempty" doc:"warn this long before the door-held alarm; 0: no warning"`
	DefaultMaxOutSeconds     *int64    `json:"default_max_out_seconds,omitempty" doc:"return-by for key sets that set none; 0: none"`
	Curfew                   *Curfew   `json:"curfew,omitempty" doc:"every key back by this time of day, HH:MM in the site's zone or HH:MM Area/City; empty: none"`
	BlockWhileOverdue        *bool     `json:"block_while_overdue,omitempty" doc:"refuse takes to a member holding an overdue key"`
	MaxKeysOut               *int      `json:"max_keys_out,omitempty" doc:"key sets one member may hold at once; 0: no limit"`
	DualReleaseWindowSeconds *int64    `json:"dual_release_window_seconds,omitempty" doc:"how long the second and third member have to confirm"`
	ApproverRole             *Role     `json:"approver_role,omitempty" doc:"least role that may confirm a dual or triple release; empty: anyone who may take it"`
	ApproverGroup            *string   `json:"approver_group,omitempty" doc:"a member group whose members may confirm; empty: none"`
	Reasons                  *[]string `json:"reasons,omitempty" doc:"reason presets offered when taking a key"`
	RemoteRelease            *bool     `json:"remote_release,omitempty" doc:"let HQ release a slot or the door remotely"`
	Stills                   *bool     `json:"stills,omitempty" doc:"keep a camera still with each take, return and alarm"`
	BrandName                *string   `json:"brand_name,omitempty" doc:"the name kiosks show; empty: the organisation's"`
	Accent                   *string   `json:"accent,omitempty" doc:"brand colour as #rrggbb; empty: keycab's"`
	Logo                     *[]byte   `json:"logo,omitempty" doc:"a PNG of at most 32 KiB for the kiosk's header, base64"`
}

// IsZero reports whether o sets nothing.
func (o PolicyOverride) IsZero() bool { return o == PolicyOverride{} }

// Apply returns p and b with what o sets.
func (o PolicyOverride) Apply(p Policy, b Branding) (Policy, Branding) {
	set := func(dst *time.Duration, s *int64) {
		if s != nil {
			*dst = time.Duration(*s) * time.Second
		}
	}
	if o.PINRoles != nil {
		p.PINRoles = append([]Role(nil), *o.PINRoles...)
	}
	if o.PINAlways != nil {
		p.PINAlways = *o.PINAlways
	}
	if o.MaxFailedPINs != nil {
		p.MaxFailedPINs = *o.MaxFailedPINs
	}
	set(&p.LockOut, o.LockOutSeconds)
	set(&p.ScanCoolDown, o.ScanCoolDownSeconds)
	set(&p.DoorHeld, o.DoorHeldSeconds)
	set(&p.DoorHeldWarning, o.DoorHeldWarningSeconds)
	set(&p.DefaultMaxOut, o.DefaultMaxOutSeconds)
	if o.Curfew != nil {
		p.Curfew = *o.Curfew
	}
	if o.BlockWhileOverdue != nil {
		p.BlockWhileOverdue = *o.BlockWhileOverdue
	}
	if o.MaxKeysOut != nil {
		p.MaxKeysOut = *o.MaxKeysOut
	}
	set(&p.DualReleaseWindow, o.DualReleaseWindowSeconds)
	if o.ApproverRole != nil {
		p.ApproverRole = *o.ApproverRole
	}
	if o.ApproverGroup != nil {
		p.ApproverGroup = *o.ApproverGroup
	}
	if o.Reasons != nil {
		p.Reasons = append([]string(nil), *o.Reasons...)
	}
	if o.RemoteRelease != nil {
		p.RemoteRelease = *o.RemoteRelease
	}
	if o.Stills != nil {
		p.Stills = *o.Stills
	}
	if o.BrandName != nil {
		b.Name = *o.BrandName
	}
	if o.Accent != nil {
		b.Accent = *o.Accent
	}
	if o.Logo != nil {
		b.Logo = append([]byte(nil), *o.Logo...)
	}
	return p, b
}

// Validate reports whether o is usable on top of the policy and branding
// it overrides: each value in bounds, and the result consistent (a
// warning shorter than the alarm it warns of).
func (o PolicyOverride) Validate(p Policy, b Branding) error {
	for _, d := range []struct {
		name string
		s    *int64
	}{
		{"lock_out_seconds", o.LockOutSeconds}, {"scan_cool_down_seconds", o.ScanCoolDownSeconds},
		{"door_held_seconds", o.DoorHeldSeconds}, {"door_held_warning_seconds", o.DoorHeldWarningSeconds},
		{"default_max_out_seconds", o.DefaultMaxOutSeconds}, {"dual_release_window_seconds", o.DualReleaseWindowSeconds},
	} {
		// Bound before multiplying, so that no value wraps round.
		if d.s != nil && (*d.s < 0 || *d.s > int64(MaxMaxOut/time.Second)) {
			return Errorf(EINVALID, "%s: %d is out of range (0 to %d)", d.name, *d.s, int64(MaxMaxOut/time.Second))
		}
	}
	p, b = o.Apply(p, b)
	if err := p.Validate(); err != nil {
		return err
	}
	return b.Validate()
}

// OverrideOf returns the override that sets every field to p's and b's
// values: a whole policy in PolicyOverride's JSON form.
func OverrideOf(p Policy, b Branding) PolicyOverride {
	secs := func(d time.Duration) *int64 { s := int64(d / time.Second); return &s }
	roles := append([]Role{}, p.PINRoles...)
	reasons := append([]string{}, p.Reasons...)
	logo := append([]byte{}, b.Logo...)
	return PolicyOverride{
		PINRoles: &roles, PINAlways: &p.PINAlways, MaxFailedPINs: &p.MaxFailedPINs,
		LockOutSeconds: secs(p.LockOut), ScanCoolDownSeconds: secs(p.ScanCoolDown),
		DoorHeldSeconds: secs(p.DoorHeld), DoorHeldWarningSeconds: secs(p.DoorHeldWarning),
		DefaultMaxOutSeconds: secs(p.DefaultMaxOut), Curfew: &p.Curfew,
		BlockWhileOverdue: &p.BlockWhileOverdue, MaxKeysOut: &p.MaxKeysOut,
		DualReleaseWindowSeconds: secs(p.DualReleaseWindow),
		ApproverRole:             &p.ApproverRole, ApproverGroup: &p.ApproverGroup, Reasons: &reasons,
		RemoteRelease: &p.RemoteRelease, Stills: &p.Stills, BrandName: &b.Name, Accent: &b.Accent, Logo: &logo,
	}
}
