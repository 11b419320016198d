package kiosk

import (
	"time"

	"keycab.dev/keycab"
)

// State names the step the kiosk is at.
type State string

const (
	Idle       State = "idle"       // waiting for a badge
	EnterPIN   State = "pin"        // the member must type their PIN
	Menu       State = "menu"       // choose a key set to take or to return
	Second     State = "second"     // a second member must badge in (dual release)
	Reason     State = "reason"     // choose a reason, optionally a recipient and notes
	Unlocking  State = "unlocking"  // a lock is released; take or put back the key
	Confirming State = "confirming" // open-shelf: show the fob's QR to the camera
	Done       State = "done"       // the change is recorded
	// WrongSlot: a return is recorded, but into another slot than the
	// key set's home; the wrong-slot alarm is raised.
	WrongSlot State = "wrong_slot"
	Message   State = "message"   // a notice (refusal, error) before idle
	Admin     State = "admin"     // the admin menu
	Emergency State = "emergency" // the fire panel released every lock
	// OutOfService: the log refuses appends, so the kiosk takes no
	// custody action until it records again.
	OutOfService State = "out_of_service"
)

// Screen is everything the UI shows. It is a value: the controller sends a
// new one on every change.
type Screen struct {
	State   State
	Title   string // the big line
	Message string // plain-words detail, refusal reasons
	Member  *keycab.Member
	Take    []Choice // key sets the member may take now
	Return  []Choice // key sets the member holds
	// Unavailable are the key sets the member may not take now (and does
	// not hold), each with why in Note ("1 High St is out with Ben since
	// 09:12."), so that "not allowed" and "someone has it" read apart.
	Unavailable []Choice
	Reasons     []string
	Deadline    time.Time // when this step gives up and returns to idle
	Slot        int       // the slot released at this step (unlocking), 0 when none
	// SlotMap is the cabinet's slots, by number, at the unlocking step of
	// a slotted cabinet (the screen shows them with Slot lit); nil at
	// other steps.
	SlotMap []SlotView
	// Returning marks the steps of a return (unlocking, confirming, its
	// done screen), so that a screen tells a return from a take.
	Returning bool
	Alarms    []Alarm // active alarms, newest first
	Admin     *AdminView
	Branding  Branding
	// Warning is a notice over every screen, such as the door-held
	// pre-warning; empty when none.
	Warning string
	// DoorAlarmAt is when the door-held alarm sounds, set while the
	// door-held pre-warning shows (Policy.DoorHeldWarning before the
	// alarm), zero otherwise: a screen counts down to it (DoorAlarmIn).
	DoorAlarmAt time.Time
	// Lang is the locale the screen speaks (internal/i18n): the session
	// member's own language, else the site's. The controller's texts
	// (Title, Message, notes) are in it already; the UI says its own
	// labels in it.
	Lang string
	// Seq increases with every screen, so a UI can drop stale ones.
	Seq uint64
}

// Choice is one key set offered on the menu.
type Choice struct {
	KeySet keycab.KeySet
	Slot   int       // its home slot; 0 on open-shelf cabinets
	Due    time.Time // for keys held: when due back
	Note   string    // e.g. "needs a second person", "PIN required"
}

// Alarm is an active alarm.
type Alarm struct {
	ID     int64 // the log index of its alarm.raised entry
	Kind   string
	Detail string
	Text   string // the alarm in staff-facing words (keycab.DescribeAlarm)
	Since  time.Time
}

// AdminView is what the admin screens show.
type AdminView struct {
	Slots   []SlotView
	Locks   []string
	Members []MemberRef // who badges can be linked to
	Pulse   time.Duration
	LogSize int64
	Config  int64 // applied config version
	Sync    SyncView
	// CameraError is the camera's last error (why its program would not
	// start, ended or stalled, with the end of its stderr), empty when it
	// has had none; CameraErrorAt is when it happened.
	CameraError   string
	CameraErrorAt time.Time
	// Refused lists the newest touchscreen changes HQ refused, each as
	// "change (entry N): reason".
	Refused []string
}

// SyncView is the kiosk's sync with HQ as the admin screen shows it.
type SyncView struct {
	HQ       string    // HQ's URL; empty when the kiosk is not enrolled
	Cosigned int64     // entries HQ has cosigned
	LastPush time.Time // when the log last reached HQ
	LastPull time.Time // when a config bundle last came
}

// MemberRef names a member on the admin screens.
type MemberRef struct {
	ID, Name string
}

// SlotView is one slot of the slot map with its live state.
type SlotView struct {
	Number   int
	KeySet   string // label of the key set whose home it is
	Present  bool   // the key-present sensor
	Out      string // who holds its key set, if out
	Lock     string // its lock output
	Released bool   // the lock output is released now
}

// Branding is the organisation's look on the kiosk.
type Branding struct {
	OrgName  string
	Site     string
	Location *time.Location // the site's time zone: show times in it
	Accent   string         // brand colour #rrggbb, or empty
	Logo     []byte         // PNG, or empty for the initials
}

// DoorAlarmIn is how long before the door-held alarm sounds, counted from
// now and rounded up to whole seconds (a countdown shows 15, 14, ... 1),
// and whether the door-held countdown shows at all.
func (s Screen) DoorAlarmIn(now time.Time) (time.Duration, bool) {
	if s.DoorAlarmAt.IsZero() {
		return 0, false
	}
	left := s.DoorAlarmAt.Sub(now)
	if left <= 0 {
		return 0, true
	}
	return (left + time.Second - 1).Truncate(time.Second), true
}
