package keycab

import "time"

// EventKind names what an audit log entry records. The names are part of
// the log format (audit/doc.go): never rename one, only add.
type EventKind string

const (
	EventBoot          EventKind = "kiosk.boot"      // the kiosk program started
	EventShutdown      EventKind = "kiosk.shutdown"  // it stopped cleanly
	EventConfigApplied EventKind = "config.applied"  // a signed config bundle took effect
	EventKeyRotate     EventKind = "key.rotate"      // the kiosk's signing key changed
	EventKeyTaken      EventKind = "key.taken"       // a key set left the cabinet
	EventKeyReturned   EventKind = "key.returned"    // a key set came back
	EventIdentified    EventKind = "auth.identified" // a member identified at the kiosk
	EventIdentifyFail  EventKind = "auth.failed"     // an unknown badge or a wrong PIN
	EventLockedOut     EventKind = "auth.locked_out" // too many failures
	EventDoorOpened    EventKind = "door.opened"     // the door opened
	EventDoorClosed    EventKind = "door.closed"     // the door closed
	EventAlarmRaised   EventKind = "alarm.raised"    // an alarm started; Detail["alarm"] says which
	EventAlarmCleared  EventKind = "alarm.cleared"   // an admin cleared an alarm with a note
	EventEmergency     EventKind = "emergency.on"    // the fire panel input released every lock
	EventEmergencyOff  EventKind = "emergency.off"   // it cleared and the cabinet resecured
	EventAdminChange   EventKind = "admin.change"    // a slot map, fob or badge change at the kiosk
	EventMemberErased  EventKind = "member.erased"   // a member's personal data was erased
	// EventTextsExpired records that retention deleted the personal texts
	// of entries older than Detail["before"] (Unix ms), but held ones.
	EventTextsExpired  EventKind = "personal.expired"
	EventLogEpoch      EventKind = "log.epoch"          // a restored kiosk began a new log epoch
	EventCosigned      EventKind = "sync.cosigned"      // HQ cosigned a checkpoint
	EventClockAnchored EventKind = "clock.anchored"     // a trusted time was learnt
	EventLockPulsed    EventKind = "hardware.lock_test" // an admin tested a lock
	// Remote actions from HQ (RemoteAction); Detail[RemoteActionID] and
	// Detail[RemoteBy] say which action and who asked at HQ.
	EventKeyLost       EventKind = "key.lost"        // a key set out was marked lost
	EventKeyHandedOver EventKind = "key.handed_over" // a key set out passed to another member (Second)
	EventRemoteRelease EventKind = "remote.release"  // HQ released a slot or the door
	EventRemoteRefused EventKind = "remote.refused"  // the kiosk refused a remote action; Detail[RemoteRefusal] says why
	EventRemoteDone    EventKind = "remote.done"     // the kiosk carried out a remote action of no other kind (a fob replaced)
	// EventCustodyFromHQ: the kiosk adopted a custody change made at HQ
	// (a phone's take or hand-over, Config.HQCustody): KeySet is now with
	// Second, or back when Second is empty; Detail["hq_index"] is the
	// entry of the organisation's HQ log and Detail["holder"] the holder
	// before, if any.
	EventCustodyFromHQ EventKind = "custody.hq"
	// Offline passes (Pass, sync/wire minor version 9). EventPassUsed: a
	// member identified with a pass HQ signed (Actor; Detail[PassID],
	// Detail[PassKeySets], Detail[PassUntil], Detail["via"]); the session
	// may take only the pass's key sets. EventPassRefused: a pass was
	// refused; Detail["reason"] says why in plain words, Detail[PassID]
	// which pass when its signature verified (never a forged one's claim).
	EventPassUsed    EventKind = "pass.used"
	EventPassRefused EventKind = "pass.refused"
)

// Detail keys of pass entries.
const (
	PassID      = "pass"
	PassKeySets = "key_sets" // the pass's key set ids, comma-separated
	PassUntil   = "until"    // the end of the pass's window, Unix seconds
)

// Detail keys of the entries a remote action leaves in a kiosk's log.
const (
	RemoteActionID = "remote_action"
	// RemoteUnverifiedID is the id a refused action's note claimed when
	// its signature failed or it named another kiosk: never the id of
	// an action HQ asked of this kiosk.
	RemoteUnverifiedID = "unverified_action"
	RemoteBy           = "requested_by"
	RemoteKindKey      = "remote_kind"
	RemoteRefusal      = "refusal"
)

// Changes at a kiosk's touchscreen, carried in an admin.change entry's
// Detail["change"]; HQ applies them (sync/wire minor version 2).
// token.enrolled names the key set (KeySet) and Detail["token_hash"] (hex
// TokenHash); badge.linked names Detail["member"], Detail["badge_kind"]
// and the badge: from sync/wire minor 8 Detail["badge_ref"], a salted
// reference to the hex BadgeHash kept off the log (audit.BadgeRefKey),
// before it Detail["badge_hash"] (hex BadgeHash under the bundle's salt);
// slot.mapped names Detail["slot"] (its number) and the key set it homes
// now (KeySet; empty for none).
// change.refused records HQ's refusal of the change at Detail["index"].
const (
	ChangeTokenEnrolled = "token.enrolled"
	ChangeBadgeLinked   = "badge.linked"
	ChangeSlotMapped    = "slot.mapped"
	ChangeRefused       = "change.refused"
)

// Alarm names, carried in an alarm event's Detail["alarm"].
const (
	AlarmDoorHeld     = "door_held"
	AlarmDoorForced   = "door_forced"
	AlarmKeyRemoved   = "key_removed_without_session"
	AlarmWrongSlot    = "wrong_slot_return"
	AlarmTamper       = "tamper"
	AlarmOverdue      = "overdue"
	AlarmEquivocation = "log_equivocation"
	AlarmKioskOffline = "kiosk_offline"
	// AlarmLogFailed: the kiosk's log refused appends (a full or failing
	// disk); the kiosk is out of service until it records again.
	AlarmLogFailed = "log_failed"
)

// Alarms lists every alarm name, for whatever checks a reported one.
var Alarms = []string{AlarmDoorHeld, AlarmDoorForced, AlarmKeyRemoved, AlarmWrongSlot, AlarmTamper,
	AlarmOverdue, AlarmEquivocation, AlarmKioskOffline, AlarmLogFailed}

// Epoch is a time before any keycab kiosk ran: an event a kiosk's clock
// dates before it was logged while that clock was not set (a Pi without
// a clock battery boots at 1970 until network time answers).
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Detail keys of a clock.anchored entry that a kiosk logs when it stores
// HQ's cosignature: HQ's cosignature time (Unix seconds) and the size of
// the checkpoint it cosigned. Every later entry happened after that time.
const (
	AnchorHQTime = "hq_time"
	AnchorSize   = "size"
)

var eventKinds = func() map[EventKind]bool {
	m := map[EventKind]bool{}
	for _, k := range []EventKind{
		EventBoot, EventShutdown, EventConfigApplied, EventKeyRotate,
		EventKeyTaken, EventKeyReturned, EventIdentified, EventIdentifyFail,
		EventLockedOut, EventDoorOpened, EventDoorClosed, EventAlarmRaised,
		EventAlarmCleared, EventEmergency, EventEmergencyOff, EventAdminChange,
		EventMemberErased, EventLogEpoch, EventCosigned, EventClockAnchored,
		EventLockPulsed, EventKeyLost, EventKeyHandedOver, EventRemoteRelease,
		EventRemoteRefused, EventRemoteDone, EventTextsExpired, EventCustodyFromHQ,
		EventPassUsed, EventPassRefused,
	} {
		m[k] = true
	}
	return m
}()

// Known reports whether k is an event kind this version defines. Logs may
// hold kinds from newer versions; readers show them as they are.
func (k EventKind) Known() bool { return eventKinds[k] }

// Custody reports whether events of kind k change who holds a key.
func (k EventKind) Custody() bool {
	return k == EventKeyTaken || k == EventKeyReturned || k == EventKeyLost || k == EventKeyHandedOver || k == EventCustodyFromHQ
}
