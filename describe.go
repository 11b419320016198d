package keycab

import (
	"strconv"
	"strings"
	"time"
)

// The one table of staff-facing texts for log entries and alarms, shared
// by the kiosk's screens and history, its console and HQ's dashboard, so
// that everyone reads the same words for the same thing ("Door held open
// longer than 1 minute", not "door_held: door open longer than 1m0s").
// Every EventKind and every alarm name has an entry (TestDescribeCovers).

// eventTitles has the message id (catalogue.go) of each event kind in a
// few words, for lists and filters.
var eventTitles = map[EventKind]string{
	EventBoot:          "event.boot",
	EventShutdown:      "event.shutdown",
	EventConfigApplied: "event.config_applied",
	EventKeyRotate:     "event.key_rotate",
	EventKeyTaken:      "event.key_taken",
	EventKeyReturned:   "event.key_returned",
	EventIdentified:    "event.identified",
	EventIdentifyFail:  "event.identify_fail",
	EventLockedOut:     "event.locked_out",
	EventDoorOpened:    "event.door_opened",
	EventDoorClosed:    "event.door_closed",
	EventAlarmRaised:   "event.alarm_raised",
	EventAlarmCleared:  "event.alarm_cleared",
	EventEmergency:     "event.emergency",
	EventEmergencyOff:  "event.emergency_off",
	EventAdminChange:   "event.admin_change",
	EventMemberErased:  "event.member_erased",
	EventTextsExpired:  "event.texts_expired",
	EventLogEpoch:      "event.log_epoch",
	EventCosigned:      "event.cosigned",
	EventClockAnchored: "event.clock_anchored",
	EventLockPulsed:    "event.lock_pulsed",
	EventKeyLost:       "event.key_lost",
	EventKeyHandedOver: "event.key_handed_over",
	EventRemoteRelease: "event.remote_release",
	EventRemoteRefused: "event.remote_refused",
	EventRemoteDone:    "event.remote_done",
	EventCustodyFromHQ: "event.custody_from_hq",
	EventPassUsed:      "event.pass_used",
	EventPassRefused:   "event.pass_refused",
}

// alarmTitles has the message id of each alarm in a sentence.
var alarmTitles = map[string]string{
	AlarmDoorHeld:     "alarm.door_held",
	AlarmDoorForced:   "alarm.door_forced",
	AlarmKeyRemoved:   "alarm.key_removed",
	AlarmWrongSlot:    "alarm.wrong_slot",
	AlarmTamper:       "alarm.tamper",
	AlarmOverdue:      "alarm.overdue",
	AlarmEquivocation: "alarm.equivocation",
	AlarmKioskOffline: "alarm.kiosk_offline",
	AlarmLogFailed:    "alarm.log_failed",
}

// EventTitle says kind in a few words in English ("Key taken"); a kind
// this version does not know is shown as it is.
func EventTitle(kind EventKind) string { return EventTitleIn(English, kind) }

// EventTitleIn says kind in a few words in l's language.
func EventTitleIn(l Texts, kind EventKind) string {
	if id, ok := eventTitles[kind]; ok {
		return l.T(id)
	}
	return string(kind)
}

// AlarmTitle says an alarm in a sentence in English ("Door held open too
// long"); an unknown name is shown as it is.
func AlarmTitle(name string) string { return AlarmTitleIn(English, name) }

// AlarmTitleIn says an alarm in a sentence in l's language.
func AlarmTitleIn(l Texts, name string) string {
	if id, ok := alarmTitles[name]; ok {
		return l.T(id)
	}
	return name
}

// DescribeAlarm says an alarm in English in a sentence with what its
// detail tells: a door-held alarm whose detail has "for" (a Go duration)
// reads "Door held open longer than 1 minute"; "detail" (the kiosk's own
// wording of the case) follows the title.
func DescribeAlarm(name string, detail map[string]string) string {
	return DescribeAlarmIn(English, name, detail)
}

// DescribeAlarmIn is DescribeAlarm in l's language.
func DescribeAlarmIn(l Texts, name string, detail map[string]string) string {
	if name == AlarmDoorHeld {
		if d, err := time.ParseDuration(detail["for"]); err == nil && d > 0 {
			return l.T("describe.door_held_for", "For", DurationIn(l, d))
		}
	}
	t := AlarmTitleIn(l, name)
	if name == AlarmDoorHeld {
		return t // the detail only restates it
	}
	if s := strings.TrimSpace(detail["detail"]); s != "" {
		t = l.T("describe.with_detail", "Title", t, "Detail", s)
	}
	return t
}

// Describe says a log entry in an English staff-facing sentence from its
// kind and detail: "Signed in with a badge", "Alarm: Door held open
// longer than 1 minute", "Sign-in failed: wrong PIN (attempt 2)". It
// never shows a hash or an internal key name.
func Describe(kind EventKind, detail map[string]string) string {
	return DescribeIn(English, kind, detail)
}

// DescribeIn is Describe in l's language.
func DescribeIn(l Texts, kind EventKind, detail map[string]string) string {
	t := EventTitleIn(l, kind)
	switch kind {
	case EventIdentified:
		if v := detail["via"]; v != "" {
			return l.T(viaID(v))
		}
	case EventIdentifyFail:
		if r := detail["reason"]; r != "" {
			t = l.T("describe.with_detail", "Title", t, "Detail", r)
		}
		if a := detail["attempt"]; a != "" {
			t = l.T("describe.attempt", "Text", t, "Attempt", a)
		}
	case EventLockedOut:
		if d, err := time.ParseDuration(detail["for"]); err == nil && d > 0 {
			t = l.T("describe.locked_out_for", "For", DurationIn(l, d))
		}
	case EventLockPulsed:
		if lk := detail["lock"]; lk != "" {
			t = l.T("describe.lock_test_of", "Lock", lk)
		}
	case EventAlarmRaised:
		if a := detail["alarm"]; a != "" {
			return l.T("describe.alarm", "Alarm", DescribeAlarmIn(l, a, detail))
		}
	case EventAlarmCleared:
		if a := detail["alarm"]; a != "" {
			return l.T("describe.alarm_cleared", "Alarm", AlarmTitleIn(l, a))
		}
	case EventBoot:
		if n, err := strconv.Atoi(detail["keys_out"]); err == nil {
			t = l.N("describe.boot_keys_out", n)
		}
	case EventAdminChange:
		switch detail["change"] {
		case ChangeTokenEnrolled:
			return l.T("describe.token_enrolled")
		case ChangeBadgeLinked:
			return l.T("describe.badge_linked")
		case ChangeSlotMapped:
			return l.T("describe.slot_mapped", "Slot", detail["slot"])
		case ChangeRefused:
			return l.T("describe.change_refused")
		}
	case EventPassRefused:
		if r := detail["reason"]; r != "" {
			t = l.T("describe.with_detail", "Title", t, "Detail", r)
		}
	case EventRemoteRefused:
		if r := detail[RemoteRefusal]; r != "" {
			t = l.T("describe.with_detail", "Title", t, "Detail", r)
		}
	}
	return t
}

// viaID is the message id of how a member identified: the source of the
// badge read ("qr" for the camera, else the reader).
func viaID(v string) string {
	switch strings.ToLower(v) {
	case "pin":
		return "describe.signed_in_pin"
	case "qr":
		return "describe.signed_in_qr"
	}
	return "describe.signed_in_badge" // a reader's name: rdm6300, wiegand, ...
}

// Duration says d in English words, to the largest whole unit that fits:
// "1 minute", "90 seconds", "2 hours" (i18n.Localizer.Duration in other
// languages).
func Duration(d time.Duration) string { return DurationIn(English, d) }
