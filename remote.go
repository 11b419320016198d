package keycab

import (
	"slices"
	"time"
)

// RemoteKind names what a remote action asks a kiosk to do. The names are
// part of the kiosk protocol (sync/wire, minor version 3): never rename
// one, only add.
type RemoteKind string

const (
	RemoteReleaseSlot  RemoteKind = "release_slot"  // release one slot's lock
	RemoteReleaseDoor  RemoteKind = "release_door"  // release the cabinet door
	RemoteMarkReturned RemoteKind = "mark_returned" // a key set out is back (or accounted for)
	RemoteMarkLost     RemoteKind = "mark_lost"     // a key set out is lost
	RemoteHandOver     RemoteKind = "hand_over"     // a key set out now belongs to another member
	RemoteReplaceFob   RemoteKind = "replace_fob"   // a key set's fob was replaced: its new token
)

// RemoteKinds lists every remote action kind.
var RemoteKinds = []RemoteKind{RemoteReleaseSlot, RemoteReleaseDoor, RemoteMarkReturned,
	RemoteMarkLost, RemoteHandOver, RemoteReplaceFob}

// Releases reports whether the kind opens a lock: a kiosk honours it only
// where its policy allows (Policy.RemoteRelease).
func (k RemoteKind) Releases() bool { return k == RemoteReleaseSlot || k == RemoteReleaseDoor }

// Remote action outcomes, as the kiosk reports them.
const (
	RemotePending = ""        // not yet answered by the kiosk
	RemoteDone    = "done"    // the kiosk acted and logged it
	RemoteRefused = "refused" // the kiosk refused and logged why
)

// Remote action bounds.
const (
	MaxRemoteReason = 200
	// RemoteReleaseTTL is how long a release may wait for its kiosk: a
	// door that opens an hour after it was asked for opens for nobody.
	RemoteReleaseTTL = 5 * time.Minute
	// RemoteActionTTL is how long other actions wait for an offline
	// kiosk.
	RemoteActionTTL = 7 * 24 * time.Hour
)

// RemoteAction is one thing HQ asks a kiosk to do: release a slot or the
// door, settle a key set's custody (returned, lost, handed over), or take
// a key set's new fob. HQ signs it (sync/wire), the kiosk checks the
// signature and its own policy, acts, records it in its log with who
// asked, and reports the outcome.
type RemoteAction struct {
	ID          string
	OrgID       string
	KioskID     string
	Kind        RemoteKind
	Slot        int    // release_slot
	KeySetID    string // mark_returned, mark_lost, hand_over, replace_fob
	MemberID    string // hand_over: the new holder
	Token       string // replace_fob: the new fob's token text
	Reason      string
	RequestedBy string // the member at HQ who asked
	RequestedAt time.Time
	Expires     time.Time // the kiosk refuses the action after this (HQ's time)

	// The kiosk's answer.
	Outcome  string // RemotePending, RemoteDone or RemoteRefused
	Refusal  string // why it refused
	LogIndex int64  // the kiosk's log entry that recorded it (done or refused)
	DoneAt   time.Time
}

// Validate reports what is wrong with the request part of an action, as
// an EINVALID error naming the field, or nil.
func (a RemoteAction) Validate() error {
	bad := func(format string, args ...any) error { return Errorf(EINVALID, "remote action: "+format, args...) }
	switch {
	case !slices.Contains(RemoteKinds, a.Kind):
		return bad("kind %.40q is not one of release_slot, release_door, mark_returned, mark_lost, hand_over, replace_fob", a.Kind)
	case a.KioskID == "":
		return bad("kiosk is required")
	case a.Kind == RemoteReleaseSlot && a.Slot <= 0:
		return bad("release_slot needs a slot number, 1 or more")
	case a.Kind != RemoteReleaseSlot && a.Slot != 0:
		return bad("slot is only for release_slot")
	case !a.Kind.Releases() && a.KeySetID == "":
		return bad("%s needs a key set", a.Kind)
	case a.Kind.Releases() && a.KeySetID != "":
		return bad("key_set is not for %s", a.Kind)
	case a.Kind == RemoteHandOver && a.MemberID == "":
		return bad("hand_over needs the member who now holds the key set")
	case a.Kind != RemoteHandOver && a.MemberID != "":
		return bad("member is only for hand_over")
	case a.Kind.Releases() && a.Reason == "":
		return bad("a release needs a reason")
	case len(a.Reason) > MaxRemoteReason:
		return bad("reason is longer than %d bytes", MaxRemoteReason)
	case !Printable(a.Reason) || !Printable(a.KeySetID) || !Printable(a.MemberID) || !Printable(a.Token):
		return bad("text fields must be printable UTF-8")
	}
	return nil
}

// RemoteOutcome is what a kiosk did with a remote action: Outcome
// RemoteDone or RemoteRefused, why it refused, and the log entry that
// recorded it. An empty Outcome means the kiosk could not record
// anything and will take the action again later.
type RemoteOutcome struct {
	Outcome  string
	Refusal  string
	LogIndex int64
}
