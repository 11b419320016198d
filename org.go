package keycab

import (
	"fmt"
	"time"
)

// Org is a tenant: one business with its sites, cabinets, keys and people.
type Org struct {
	ID   string
	Name string
	Caps Caps
}

// Caps limits how much one organisation may create.
type Caps struct {
	KeySets  int
	Sites    int
	Cabinets int
	Members  int
}

// Site is a property or building; cabinets stand at a site and key sets
// open doors at a site.
type Site struct {
	ID       string
	OrgID    string
	Name     string
	Address  string
	TimeZone string // IANA name; schedules are evaluated in it
	// Language is the locale the site's kiosks speak (internal/i18n:
	// en-GB, en-US, de); empty is en-GB. Sent to kiosks from sync/wire
	// minor version 7.
	Language string `json:",omitempty"`
}

// CabinetKind says how a cabinet knows which key moved.
type CabinetKind string

const (
	// Slotted cabinets have a lock output and a key-present input per slot.
	Slotted CabinetKind = "slotted"
	// OpenShelf cabinets have one door lock; keys are identified by the QR
	// label on their fob, read at the camera.
	OpenShelf CabinetKind = "open-shelf"
)

// Validate reports whether k is a known cabinet kind.
func (k CabinetKind) Validate() error {
	switch k {
	case Slotted, OpenShelf:
		return nil
	}
	return Errorf(EINVALID, "unknown cabinet kind %q (want %q or %q)", k, Slotted, OpenShelf)
}

// Cabinet is one key cabinet, driven by one kiosk.
type Cabinet struct {
	ID     string
	OrgID  string
	SiteID string
	Name   string
	Kind   CabinetKind
	// DoorLock and DoorSensor name the door's lock output and door-closed
	// input (periph pin names or expander pin names).
	DoorLock   string
	DoorSensor string
}

// Slot is one position in a slotted cabinet. Number counts from 1.
type Slot struct {
	CabinetID string
	Number    int
	Lock      string // lock output pin name; empty on open-shelf cabinets
	Sensor    string // key-present input pin name
	KeySetID  string // the key set whose home this slot is; empty when free
}

// KeySet is a set of keys on one fob: the unit that is taken and returned.
type KeySet struct {
	ID     string
	OrgID  string
	SiteID string
	Label  string // short text printed on the fob, e.g. "12 High St, front"
	// Sensitive key sets need a second authorised member (dual release).
	Sensitive bool
	// Groups lists the key-set groups the key set belongs to (by id); a
	// key set in any is taken only by members an access rule reaches.
	Groups []string
	// TripleRelease key sets need two authorised members besides the
	// taker (triple release); it implies Sensitive.
	TripleRelease bool
	// PINRequired asks for the taker's PIN whatever their role.
	PINRequired bool
	// MaxOut is how long the key set may stay out before it is overdue;
	// zero means the organisation's default.
	MaxOut time.Duration
}

// Approvers returns how many members besides the taker must confirm a
// take of k: 2 for a triple release, 1 for a sensitive key set, else 0.
func (k KeySet) Approvers() int {
	switch {
	case k.TripleRelease:
		return 2
	case k.Sensitive:
		return 1
	}
	return 0
}

// QRToken is the secret printed as a QR code on a key fob's label. The
// kiosk stores only its hash; a rotated or revoked token no longer matches.
type QRToken struct {
	KeySetID  string
	Hash      []byte // TokenHash of the printed text
	IssuedAt  time.Time
	RevokedAt time.Time // zero while valid
	// Kiosk is the kiosk whose touchscreen enrolled it; empty when issued
	// at HQ. HQ fills it in its own answers, never in a bundle.
	Kiosk string `json:",omitempty"`
}

// Valid reports whether the token has not been revoked.
func (t QRToken) Valid() bool { return t.RevokedAt.IsZero() }

// SlotName is how people refer to a slot on screen and in logs.
func SlotName(n int) string { return fmt.Sprintf("slot %d", n) }
