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
	Policy       Policy
	Branding     Branding
	// BadgeSalt keys BadgeHash for this organisation.
	BadgeSalt []byte
}

// Branding is how the organisation looks on its kiosks.
type Branding struct {
	// Accent is the brand colour as #rrggbb; empty for keycab's own.
	Accent string
	// Logo is a small PNG shown in the kiosk's header; empty for the
	// organisation's initials.
	Logo []byte
}

// Validate reports whether the branding is usable.
func (b Branding) Validate() error {
	if b.Accent != "" {
		if len(b.Accent) != 7 || b.Accent[0] != '#' || strings.Trim(strings.ToLower(b.Accent[1:]), "0123456789abcdef") != "" {
			return Errorf(EINVALID, "accent colour %q is not #rrggbb", b.Accent)
		}
	}
	if len(b.Logo) > 256<<10 {
		return Errorf(EINVALID, "logo is %d bytes; at most 256 KiB", len(b.Logo))
	}
	if len(b.Logo) > 0 && !strings.HasPrefix(string(b.Logo), "\x89PNG\r\n\x1a\n") {
		return Errorf(EINVALID, "logo is not a PNG")
	}
	return nil
}

// Policy holds the organisation's rules that the kiosk enforces.
type Policy struct {
	// PINRoles lists roles that must enter a PIN after their badge.
	PINRoles []Role
	// PINAlways asks everyone for a PIN.
	PINAlways bool
	// MaxFailedPINs locks a member out for LockOut after that many wrong
	// PINs in a row.
	MaxFailedPINs int
	LockOut       time.Duration
	// ScanCoolDown ignores the same code read again within it.
	ScanCoolDown time.Duration
	// DoorHeld raises an alarm when the door stays open longer.
	DoorHeld time.Duration
	// DefaultMaxOut is how long a key set may stay out when it sets none.
	DefaultMaxOut time.Duration
	// BlockWhileOverdue refuses new takes to a member holding an overdue key.
	BlockWhileOverdue bool
	// MaxKeysOut limits how many key sets one member may hold; 0 is none.
	MaxKeysOut int
	// DualReleaseWindow is how long the second member has to confirm.
	DualReleaseWindow time.Duration
	// Reasons are the reason presets offered when taking a key.
	Reasons []string
}

// DefaultPolicy returns the policy a new organisation starts with.
func DefaultPolicy() Policy {
	return Policy{
		PINRoles:          []Role{RoleOwner, RoleAdmin},
		MaxFailedPINs:     5,
		LockOut:           5 * time.Minute,
		ScanCoolDown:      3 * time.Second,
		DoorHeld:          60 * time.Second,
		DefaultMaxOut:     8 * time.Hour,
		BlockWhileOverdue: true,
		DualReleaseWindow: 60 * time.Second,
		Reasons:           []string{"viewing", "maintenance", "inspection", "move-in", "other"},
	}
}
