package keycab

import (
	"strings"
	"time"
)

// Config is the snapshot a kiosk runs from: everything it needs to decide
// on its own, offline, who may take which key. HQ signs it as a bundle
// with an increasing Version; the kiosk applies only newer ones.
type Config struct {
	Version      int64
	Org          Org
	Site         Site
	Cabinet      Cabinet
	Slots        []Slot
	KeySets      []KeySet
	Tokens       []QRToken
	Members      []Member
	Badges       []Badge
	Reservations []Reservation
	Jobs         []Job
	// Rules are the access rules whose key-set group holds a key set of
	// the kiosk's site.
	Rules    []AccessRule
	Policy   Policy
	Branding Branding
	// BadgeSalt keys BadgeHash for this organisation.
	BadgeSalt []byte
	// ChangesThrough and Refused answer the kiosk's touchscreen changes
	// (sync/wire minor version 2): every admin.change entry of the kiosk's
	// log before index ChangesThrough is in this config, applied by HQ or
	// listed in Refused; the kiosk keeps its own from there on.
	ChangesThrough int64     `json:",omitempty"`
	Refused        []Refusal `json:",omitempty"`
	// Erased, Held and PersonalTextDays carry the organisation's record
	// lifecycle (sync/wire minor version 5). Erased lists every member of
	// the organisation erased at HQ: the kiosk erases each one's personal
	// data (store.DB.Erase) once. Held lists the ids (members, key sets,
	// sites) under an active legal hold; PersonalTextDays is the
	// retention rule for personal texts (0 keeps them): the kiosk deletes
	// those older than it, except held ones.
	Erased           []string `json:",omitempty"`
	Held             []string `json:",omitempty"`
	PersonalTextDays int      `json:",omitempty"`
	// HQCustody (sync/wire minor version 6) is, for each key set of the
	// kiosk's site whose custody changed at HQ (a phone's take, return or
	// hand-over), the newest such change: the kiosk adopts each one once
	// (store.DB.ApplyConfig), so it shows the key set with whoever HQ
	// says has it and raises no alarm for it.
	HQCustody []HQCustody `json:",omitempty"`
	// RevokedPasses (sync/wire minor version 9) lists the ids of the
	// organisation's offline passes (Pass) revoked at HQ and not yet
	// expired: the kiosk refuses each one.
	RevokedPasses []string `json:",omitempty"`
}

// HQCustody is the newest custody change made at HQ of one key set:
// Index is its entry in the organisation's HQ log, At its time (HQ's
// clock), MemberID who has the key set now ("" when it is back), with
// Since and Due as HQ's custody holds them.
type HQCustody struct {
	KeySetID string
	Index    int64
	At       time.Time
	MemberID string    `json:",omitempty"`
	Since    time.Time `json:",omitzero"`
	Due      time.Time `json:",omitzero"`
}

// Refusal is a touchscreen change HQ did not apply: the index of the
// kiosk's admin.change entry, the change it made (Change...), and why.
type Refusal struct {
	Index  int64
	Change string
	Reason string
}

// Branding is how the organisation looks on its kiosks.
type Branding struct {
	// Name is the organisation's name as its kiosks show it; empty for
	// the organisation's own name.
	Name string
	// Accent is the brand colour as #rrggbb; empty for keycab's own.
	Accent string
	// Logo is a small PNG shown in the kiosk's header; empty for the
	// organisation's initials.
	Logo []byte
}

// Validate reports whether the branding is usable.
func (b Branding) Validate() error {
	if len(b.Name) > maxBrandName || !Printable(b.Name) {
		return Errorf(EINVALID, "brand name must be at most %d printable characters", maxBrandName)
	}
	if b.Accent != "" {
		if len(b.Accent) != 7 || b.Accent[0] != '#' || strings.Trim(strings.ToLower(b.Accent[1:]), "0123456789abcdef") != "" {
			return Errorf(EINVALID, "accent colour %q is not #rrggbb", b.Accent)
		}
	}
	if len(b.Logo) > MaxLogo {
		return Errorf(EINVALID, "logo is %d bytes; at most %d KiB", len(b.Logo), MaxLogo>>10)
	}
	if len(b.Logo) > 0 && !strings.HasPrefix(string(b.Logo), "\x89PNG\r\n\x1a\n") {
		return Errorf(EINVALID, "logo is not a PNG")
	}
	return nil
}

// Policy holds the organisation's rules that the kiosk enforces. HQ
// keeps it per organisation with overrides per site and per cabinet
// (PolicyOverride); a kiosk receives the result in its bundle.
type Policy struct {
	// PINRoles lists roles that must enter a PIN after their badge.
	PINRoles []Role
	// PINAlways asks everyone for a PIN.
	PINAlways bool
	// MaxFailedPINs locks a member out for LockOut after that many wrong
	// PINs in a row; zero never locks out.
	MaxFailedPINs int
	LockOut       time.Duration
	// ScanCoolDown ignores the same code read again within it.
	ScanCoolDown time.Duration
	// DoorHeld raises an alarm when the door stays open longer.
	DoorHeld time.Duration
	// DoorHeldWarning warns at the kiosk this long before the door-held
	// alarm; zero does not warn.
	DoorHeldWarning time.Duration
	// DefaultMaxOut is how long a key set may stay out when it sets none.
	DefaultMaxOut time.Duration
	// Curfew is a time of day by which every key set out must be back;
	// one still out after it is overdue. Empty sets none.
	Curfew Curfew
	// BlockWhileOverdue refuses new takes to a member holding an overdue key.
	BlockWhileOverdue bool
	// MaxKeysOut limits how many key sets one member may hold; 0 is none.
	MaxKeysOut int
	// DualReleaseWindow is how long the second (and third) member has to
	// confirm.
	DualReleaseWindow time.Duration
	// ApproverRole and ApproverGroup say who may confirm a dual or triple
	// release: a member of at least ApproverRole's rank or of the member
	// group ApproverGroup. With both empty anyone who may take the key
	// set may confirm. Never the taker.
	ApproverRole  Role
	ApproverGroup string
	// Reasons are the reason presets offered when taking a key.
	Reasons []string
	// RemoteRelease lets HQ release a slot or the door of the kiosk
	// remotely; off, the kiosk refuses (and records) such a request.
	RemoteRelease bool
	// Stills has the kiosk keep a still from its camera with each take,
	// return and alarm: its SHA-256 in the entry, the JPEG beside the log
	// as personal data (docs/DESIGN.md, "Camera stills"). Off by default.
	Stills bool
}

// DefaultPolicy returns the policy a new organisation starts with.
func DefaultPolicy() Policy {
	return Policy{
		PINRoles:          []Role{RoleOwner, RoleAdmin},
		MaxFailedPINs:     5,
		LockOut:           5 * time.Minute,
		ScanCoolDown:      3 * time.Second,
		DoorHeld:          60 * time.Second,
		DoorHeldWarning:   15 * time.Second,
		DefaultMaxOut:     8 * time.Hour,
		BlockWhileOverdue: true,
		DualReleaseWindow: 60 * time.Second,
		Reasons:           []string{"viewing", "maintenance", "inspection", "move-in", "other"},
	}
}

// Bounds of a policy's values; Validate refuses anything outside them.
const (
	MaxLockOut         = 24 * time.Hour
	MaxScanCoolDown    = time.Minute
	MinDoorHeld        = 5 * time.Second
	MaxDoorHeld        = time.Hour
	MaxMaxOut          = 366 * 24 * time.Hour
	MinReleaseWindow   = 10 * time.Second
	MaxReleaseWindow   = 10 * time.Minute
	MaxFailedPINsLimit = 100
	MaxKeysOutLimit    = 1000
	MaxReasons         = 20
	MaxReasonLength    = 40
	maxBrandName       = 60
	// MaxLogo bounds the kiosk header's PNG logo, in bytes.
	MaxLogo    = 32 << 10
	maxGroupID = 64
)

// Validate reports, as one EINVALID error naming the field, the first
// value of p that is out of bounds.
func (p Policy) Validate() error {
	for _, r := range p.PINRoles {
		if err := r.Validate(); err != nil {
			return Errorf(EINVALID, "pin_roles: %s", err)
		}
	}
	if p.ApproverRole != "" {
		if err := p.ApproverRole.Validate(); err != nil || p.ApproverRole == RoleContractor || p.ApproverRole == RoleAuditor {
			return Errorf(EINVALID, "approver_role: %q cannot confirm a release (owner, admin, site_manager or staff)", p.ApproverRole)
		}
	}
	if len(p.ApproverGroup) > maxGroupID {
		return Errorf(EINVALID, "approver_group: at most %d characters", maxGroupID)
	}
	durations := []struct {
		name     string
		d        time.Duration
		min, max time.Duration
		zero     bool // zero switches it off
	}{
		{"lock_out", p.LockOut, time.Second, MaxLockOut, true},
		{"scan_cool_down", p.ScanCoolDown, 0, MaxScanCoolDown, true},
		{"door_held", p.DoorHeld, MinDoorHeld, MaxDoorHeld, false},
		{"door_held_warning", p.DoorHeldWarning, time.Second, MaxDoorHeld, true},
		{"default_max_out", p.DefaultMaxOut, time.Minute, MaxMaxOut, true},
		{"dual_release_window", p.DualReleaseWindow, MinReleaseWindow, MaxReleaseWindow, false},
	}
	for _, d := range durations {
		if d.zero && d.d == 0 {
			continue
		}
		if d.d < d.min || d.d > d.max {
			return Errorf(EINVALID, "%s: %s is out of range (%s to %s)", d.name, d.d, d.min, d.max)
		}
	}
	if p.DoorHeldWarning >= p.DoorHeld && p.DoorHeldWarning > 0 {
		return Errorf(EINVALID, "door_held_warning: %s must be shorter than door_held (%s)", p.DoorHeldWarning, p.DoorHeld)
	}
	if p.MaxFailedPINs < 0 || p.MaxFailedPINs > MaxFailedPINsLimit {
		return Errorf(EINVALID, "max_failed_pins: %d is out of range (0 to %d)", p.MaxFailedPINs, MaxFailedPINsLimit)
	}
	if p.MaxFailedPINs > 0 && p.LockOut == 0 {
		return Errorf(EINVALID, "lock_out: a lock-out needs a length when max_failed_pins is set")
	}
	if p.MaxKeysOut < 0 || p.MaxKeysOut > MaxKeysOutLimit {
		return Errorf(EINVALID, "max_keys_out: %d is out of range (0 to %d)", p.MaxKeysOut, MaxKeysOutLimit)
	}
	if err := p.Curfew.Validate(); err != nil {
		return err
	}
	if len(p.Reasons) > MaxReasons {
		return Errorf(EINVALID, "reasons: at most %d presets", MaxReasons)
	}
	seen := map[string]bool{}
	for _, r := range p.Reasons {
		switch {
		case strings.TrimSpace(r) != r || r == "":
			return Errorf(EINVALID, "reasons: %q is empty or has spaces around it", r)
		case len([]rune(r)) > MaxReasonLength || !Printable(r):
			return Errorf(EINVALID, "reasons: %q must be at most %d printable characters", r, MaxReasonLength)
		case seen[r]:
			return Errorf(EINVALID, "reasons: %q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// DueAt returns when a key set k taken at taken becomes overdue: its own
// MaxOut or else DefaultMaxOut after the take, or the next curfew if
// that comes first (in loc, the site's zone, unless the curfew names its
// own). Zero means never.
func (p Policy) DueAt(taken time.Time, k KeySet, loc *time.Location) time.Time {
	max := k.MaxOut
	if max == 0 {
		max = p.DefaultMaxOut
	}
	var due time.Time
	if max > 0 {
		due = taken.Add(max)
	}
	if c := p.Curfew.Next(taken, loc); !c.IsZero() && (due.IsZero() || c.Before(due)) {
		due = c
	}
	return due
}

// Curfew is a time of day, "18:00" in the site's time zone or
// "18:00 Europe/London" in a named one.
type Curfew string

// parse returns the curfew's minutes after midnight and its zone (nil for
// the site's).
func (c Curfew) parse() (minutes int, loc *time.Location, err error) {
	clock, zone, _ := strings.Cut(string(c), " ")
	t, perr := time.Parse("15:04", clock)
	if perr != nil || len(clock) != 5 {
		return 0, nil, Errorf(EINVALID, "curfew: %q is not a time of day as HH:MM (24-hour), optionally with a time zone", string(c))
	}
	if zone != "" {
		if loc, err = time.LoadLocation(zone); err != nil || zone == "Local" || strings.ContainsAny(zone, " \x00") {
			return 0, nil, Errorf(EINVALID, "curfew: %q is not a known time zone", zone)
		}
	}
	return t.Hour()*60 + t.Minute(), loc, nil
}

// Validate reports whether c is empty or a valid curfew.
func (c Curfew) Validate() error {
	if c == "" {
		return nil
	}
	_, _, err := c.parse()
	return err
}

// Next returns the first curfew instant after t, using site as the zone
// unless the curfew names one; zero for no curfew (or an invalid one).
func (c Curfew) Next(t time.Time, site *time.Location) time.Time {
	if c == "" {
		return time.Time{}
	}
	minutes, loc, err := c.parse()
	if err != nil {
		return time.Time{}
	}
	if loc == nil {
		loc = site
	}
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	next := time.Date(y, m, d, minutes/60, minutes%60, 0, 0, loc)
	for i := 0; !next.After(t) && i < 3; i++ {
		next = time.Date(y, m, d+1+i, minutes/60, minutes%60, 0, 0, loc)
	}
	return next
}
