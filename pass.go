package keycab

import (
	"slices"
	"time"
)

// Pass is a signed offline pass (sync/wire minor version 9): HQ issues it
// to a contractor, a member of the organisation, for some of its key sets
// and a time window, signed by HQ's config key (the key every kiosk pinned
// at enrolment for bundles), printed or mailed as a QR code. A kiosk checks
// it offline (wire.OpenPass): the contractor may take only the pass's key
// sets, and only from From until Until. HQ revokes a pass through the
// bundle (Config.RevokedPasses).
type Pass struct {
	ID        string
	OrgID     string
	MemberID  string
	KeySetIDs []string
	From      time.Time
	Until     time.Time
	IssuedAt  time.Time
	IssuedBy  string
	// Note says what the pass is for (a work order), at most MaxPassNote
	// bytes; it is HQ's, not in the signed pass.
	Note      string    `json:",omitempty"`
	RevokedAt time.Time `json:",omitzero"`
	RevokedBy string    `json:",omitempty"`
}

// Bounds of a pass.
const (
	// MaxPassWindow is the longest window a pass may cover.
	MaxPassWindow = 31 * 24 * time.Hour
	// MaxPassKeySets bounds the key sets one pass names (and its QR
	// code's size).
	MaxPassKeySets = 10
	// MaxPassNote bounds a pass's note.
	MaxPassNote = 200
	// PassCoolDown is how long after a pass identified someone at a kiosk
	// it is refused there: a pass opens one session, and a copy shown
	// right after (a photo passed on) is refused and logged. The kiosk
	// keeps each pass's last use in its database, so a restart does not
	// reset it. It is longer than the scan cool-down, which ignores the
	// same code held in view.
	PassCoolDown = time.Minute
)

// Validate reports whether the pass's fields are usable to issue it.
func (p Pass) Validate() error {
	switch {
	case p.MemberID == "" || !Printable(p.MemberID):
		return Errorf(EINVALID, "pass: member_id is required")
	case len(p.KeySetIDs) == 0:
		return Errorf(EINVALID, "pass: name at least one key set")
	case len(p.KeySetIDs) > MaxPassKeySets:
		return Errorf(EINVALID, "pass: at most %d key sets", MaxPassKeySets)
	case p.From.IsZero() || p.Until.IsZero():
		return Errorf(EINVALID, "pass: not_before and not_after are required")
	case !p.Until.After(p.From):
		return Errorf(EINVALID, "pass: not_after must be after not_before")
	case p.Until.Sub(p.From) > MaxPassWindow:
		return Errorf(EINVALID, "pass: the window is at most %d days", int(MaxPassWindow/(24*time.Hour)))
	case len(p.Note) > MaxPassNote || !Printable(p.Note):
		return Errorf(EINVALID, "pass: note must be at most %d printable characters", MaxPassNote)
	}
	for i, k := range p.KeySetIDs {
		if k == "" || !Printable(k) {
			return Errorf(EINVALID, "pass: key_set_ids has an empty or unprintable id")
		}
		if slices.Contains(p.KeySetIDs[:i], k) {
			return Errorf(EINVALID, "pass: key set %s is named twice", k)
		}
	}
	return nil
}

// Covers reports whether the pass is for key set id.
func (p Pass) Covers(id string) bool { return slices.Contains(p.KeySetIDs, id) }

// ValidAt reports whether t is inside the pass's window.
func (p Pass) ValidAt(t time.Time) bool { return !t.Before(p.From) && t.Before(p.Until) }

// Pass states, as HQ shows them.
const (
	PassValid   = "valid"
	PassNotYet  = "not_yet"
	PassExpired = "expired"
	PassRevoked = "revoked"
)

// State says where the pass stands at now (HQ's clock): PassRevoked,
// PassNotYet, PassExpired or PassValid.
func (p Pass) State(now time.Time) string {
	switch {
	case !p.RevokedAt.IsZero():
		return PassRevoked
	case now.Before(p.From):
		return PassNotYet
	case !now.Before(p.Until):
		return PassExpired
	}
	return PassValid
}
