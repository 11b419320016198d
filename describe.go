package keycab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The one table of staff-facing texts for log entries and alarms, shared
// by the kiosk's screens and history, its console and HQ's dashboard, so
// that everyone reads the same words for the same thing ("Door held open
// longer than 1 minute", not "door_held: door open longer than 1m0s").
// Every EventKind and every alarm name has an entry (TestDescribeCovers).

// eventTitles says each event kind in a few words, for lists and filters.
var eventTitles = map[EventKind]string{
	EventBoot:          "Kiosk started",
	EventShutdown:      "Kiosk stopped",
	EventConfigApplied: "Settings updated",
	EventKeyRotate:     "Kiosk signing key changed",
	EventKeyTaken:      "Key taken",
	EventKeyReturned:   "Key returned",
	EventIdentified:    "Signed in",
	EventIdentifyFail:  "Sign-in failed",
	EventLockedOut:     "Locked out",
	EventDoorOpened:    "Door opened",
	EventDoorClosed:    "Door closed",
	EventAlarmRaised:   "Alarm",
	EventAlarmCleared:  "Alarm cleared",
	EventEmergency:     "Emergency release",
	EventEmergencyOff:  "Emergency over",
	EventAdminChange:   "Admin change",
	EventMemberErased:  "Personal data erased",
	EventTextsExpired:  "Old personal texts deleted",
	EventLogEpoch:      "Log restarted after restore",
	EventCosigned:      "Log confirmed by HQ",
	EventClockAnchored: "Clock confirmed",
	EventLockPulsed:    "Lock test",
	EventKeyLost:       "Key marked lost",
	EventKeyHandedOver: "Key handed over",
	EventRemoteRelease: "Released from HQ",
	EventRemoteRefused: "HQ request refused",
	EventRemoteDone:    "HQ request carried out",
	EventCustodyFromHQ: "Key changed hands at HQ",
}

// alarmTitles says each alarm in a sentence.
var alarmTitles = map[string]string{
	AlarmDoorHeld:     "Door held open too long",
	AlarmDoorForced:   "Door forced open while locked",
	AlarmKeyRemoved:   "Key removed without signing in",
	AlarmWrongSlot:    "Key returned to the wrong slot",
	AlarmTamper:       "Cabinet tampered with",
	AlarmOverdue:      "Key overdue",
	AlarmEquivocation: "Kiosk log does not match HQ's copy",
	AlarmKioskOffline: "Kiosk offline",
	AlarmLogFailed:    "Kiosk cannot record: call an administrator",
}

// EventTitle says kind in a few words ("Key taken"); a kind this version
// does not know is shown as it is.
func EventTitle(kind EventKind) string {
	if t, ok := eventTitles[kind]; ok {
		return t
	}
	return string(kind)
}

// AlarmTitle says an alarm in a sentence ("Door held open too long"); an
// unknown name is shown as it is.
func AlarmTitle(name string) string {
	if t, ok := alarmTitles[name]; ok {
		return t
	}
	return name
}

// DescribeAlarm says an alarm in a sentence with what its detail tells:
// a door-held alarm whose detail has "for" (a Go duration) reads "Door
// held open longer than 1 minute"; "detail" (the kiosk's own wording of
// the case) follows the title.
func DescribeAlarm(name string, detail map[string]string) string {
	if name == AlarmDoorHeld {
		if d, err := time.ParseDuration(detail["for"]); err == nil && d > 0 {
			return "Door held open longer than " + Duration(d)
		}
	}
	t := AlarmTitle(name)
	if name == AlarmDoorHeld {
		return t // the detail only restates it
	}
	if s := strings.TrimSpace(detail["detail"]); s != "" {
		t += ": " + s
	}
	return t
}

// Describe says a log entry in a staff-facing sentence from its kind and
// detail: "Signed in with a badge", "Alarm: Door held open longer than 1
// minute", "Sign-in failed: wrong PIN (attempt 2)". It never shows a hash
// or an internal key name.
func Describe(kind EventKind, detail map[string]string) string {
	t := EventTitle(kind)
	switch kind {
	case EventIdentified:
		if v := detail["via"]; v != "" {
			return t + " with " + viaWords(v)
		}
	case EventIdentifyFail:
		if r := detail["reason"]; r != "" {
			t += ": " + r
		}
		if a := detail["attempt"]; a != "" {
			t += " (attempt " + a + ")"
		}
	case EventLockedOut:
		if d, err := time.ParseDuration(detail["for"]); err == nil && d > 0 {
			t += " for " + Duration(d)
		}
	case EventLockPulsed:
		if l := detail["lock"]; l != "" {
			t += " of lock " + l
		}
	case EventAlarmRaised:
		if a := detail["alarm"]; a != "" {
			return "Alarm: " + DescribeAlarm(a, detail)
		}
	case EventAlarmCleared:
		if a := detail["alarm"]; a != "" {
			return "Alarm cleared: " + AlarmTitle(a)
		}
	case EventBoot:
		if n, err := strconv.Atoi(detail["keys_out"]); err == nil {
			t += fmt.Sprintf(", %s out", plural(n, "key"))
		}
	case EventAdminChange:
		switch detail["change"] {
		case ChangeTokenEnrolled:
			return "New key label enrolled"
		case ChangeBadgeLinked:
			return "New badge linked"
		case ChangeSlotMapped:
			return "Slot " + detail["slot"] + " assigned"
		case ChangeRefused:
			return "Change refused by HQ"
		}
	case EventRemoteRefused:
		if r := detail[RemoteRefusal]; r != "" {
			t += ": " + r
		}
	}
	return t
}

// viaWords says how a member identified: the source of the badge read
// ("qr" for the camera, else the reader).
func viaWords(v string) string {
	switch strings.ToLower(v) {
	case "pin":
		return "a PIN"
	case "qr":
		return "a QR code"
	}
	return "a badge" // a reader's name: rdm6300, wiegand, ...
}

// Duration says d in words, to the largest whole unit that fits: "1
// minute", "90 seconds", "2 hours".
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.String()
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d.Round(time.Second)/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
