package keycab

import (
	"crypto/hmac"
	"crypto/sha256"
	"time"
)

// Role is what a member may do. Roles are ordered by rank for the
// "nobody grants above their own" rule; auditor is read-only and ranks
// below site manager.
type Role string

const (
	RoleOwner       Role = "owner"
	RoleAdmin       Role = "admin"
	RoleSiteManager Role = "site_manager"
	RoleAuditor     Role = "auditor"
	RoleStaff       Role = "staff"
	RoleContractor  Role = "contractor"
	// RoleKiosk is the device principal of an enrolled kiosk.
	RoleKiosk Role = "kiosk"
)

var roleRank = map[Role]int{
	RoleOwner:       60,
	RoleAdmin:       50,
	RoleSiteManager: 40,
	RoleAuditor:     30,
	RoleStaff:       20,
	RoleContractor:  10,
}

// Validate reports whether r is a role a person can hold.
func (r Role) Validate() error {
	if _, ok := roleRank[r]; !ok {
		return Errorf(EINVALID, "unknown role %q", r)
	}
	return nil
}

// AtLeast reports whether r ranks at or above o. The kiosk role ranks
// below every person's role.
func (r Role) AtLeast(o Role) bool { return roleRank[r] >= roleRank[o] && roleRank[r] > 0 }

// MayAdminKiosk reports whether the role may open a kiosk's admin
// screens (owners and admins): the kiosk offers its Admin button to them
// alone, and refuses anyone else who asks.
func (r Role) MayAdminKiosk() bool { return r.AtLeast(RoleAdmin) }

// CanTakeKeys reports whether the role may take keys at a kiosk at all
// (auditors are read-only).
func (r Role) CanTakeKeys() bool { return r != RoleAuditor && r != RoleKiosk && roleRank[r] > 0 }

// Member is a person of an organisation.
type Member struct {
	ID    string
	OrgID string
	Name  string // personal data: erasable
	Email string // personal data: erasable
	Role  Role
	// SiteIDs scopes a site manager, staff member or contractor; empty
	// means every site of the organisation.
	SiteIDs []string
	PINHash string // encoded PIN hash; empty when the member has no PIN
	// MaxKeysOut limits how many key sets the member may hold at once;
	// zero means no limit beyond the organisation's policy.
	MaxKeysOut int
	// Schedule limits when the member may take keys, in the site's time
	// zone; empty means any time.
	Schedule []Window
	// AccessUntil ends the member's access to keys; zero never does.
	AccessUntil time.Time
	// Groups lists the member groups the member belongs to (by id).
	Groups   []string
	Disabled bool
	ErasedAt time.Time // personal data erased; the ID stays for history
	// Language is the member's own locale (en-GB, en-US, de), over the
	// site's at a kiosk and the browser's on the dashboard; empty
	// follows those. Sent to kiosks from sync/wire minor version 7.
	Language string `json:",omitempty"`
}

// AtSite reports whether the member's scope includes site.
func (m Member) AtSite(site string) bool {
	if len(m.SiteIDs) == 0 {
		return true
	}
	for _, s := range m.SiteIDs {
		if s == site {
			return true
		}
	}
	return false
}

// BadgeKind names the reader technology a badge is read by.
type BadgeKind string

const (
	BadgeRFID     BadgeKind = "rfid"     // 125 kHz EM4100 via RDM6300 and the like
	BadgeWiegand  BadgeKind = "wiegand"  // 26 or 34 bit Wiegand readers
	BadgeBarcode  BadgeKind = "barcode"  // serial barcode modules, keyboard wedges
	BadgeQR       BadgeKind = "qr"       // a QR badge shown at the camera
	BadgeKeyboard BadgeKind = "keyboard" // typed in at the kiosk
)

// BadgeKinds returns the readers a badge may be enrolled for.
func BadgeKinds() []BadgeKind {
	return []BadgeKind{BadgeRFID, BadgeWiegand, BadgeBarcode, BadgeQR, BadgeKeyboard}
}

// MinPIN and MaxPIN bound the length of a PIN, in digits.
const MinPIN, MaxPIN = 4, 12

// CheckPIN returns an EINVALID error unless pin is MinPIN to MaxPIN
// decimal digits.
func CheckPIN(pin string) error {
	ok := len(pin) >= MinPIN && len(pin) <= MaxPIN
	for _, c := range pin {
		ok = ok && c >= '0' && c <= '9'
	}
	if !ok {
		return Errorf(EINVALID, "a PIN is %d to %d digits", MinPIN, MaxPIN)
	}
	return nil
}

// Badge links a credential to a member. Kiosk and HQ keep only the hash of
// the code, never the code itself.
type Badge struct {
	Hash      []byte // BadgeHash(salt, code)
	MemberID  string
	Kind      BadgeKind
	RevokedAt time.Time
	// Kiosk is the kiosk whose touchscreen linked it; empty when linked
	// at HQ. HQ fills it in its own answers, never in a bundle.
	Kiosk string `json:",omitempty"`
}

// BadgeHash returns the stored form of a badge code: HMAC-SHA-256 keyed
// with the organisation's badge salt, so that a copied database does not
// give away the short codes of 125 kHz cards.
func BadgeHash(salt []byte, code string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// TokenHash returns the stored form of a key fob's QR token.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte("keycab qr token\x00" + token))
	return h[:]
}
