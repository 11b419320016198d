package keycab

import (
	"strings"
	"testing"
	"time"
)

// TestDescribeCovers fails when an event kind or an alarm has no text in
// the shared table.
func TestDescribeCovers(t *testing.T) {
	if len(eventKinds) == 0 || len(Alarms) == 0 {
		t.Fatal("no kinds or alarms to check")
	}
	for k := range eventKinds {
		if !hasMessage(eventTitles[k]) {
			t.Errorf("event kind %s has no text in eventTitles and the catalogue", k)
		}
	}
	for k := range eventTitles {
		if !k.Known() {
			t.Errorf("eventTitles has %s, which is no event kind", k)
		}
	}
	for _, a := range Alarms {
		if !hasMessage(alarmTitles[a]) {
			t.Errorf("alarm %s has no text in alarmTitles and the catalogue", a)
		}
	}
	if len(alarmTitles) != len(Alarms) {
		t.Errorf("alarmTitles has %d texts for %d alarms", len(alarmTitles), len(Alarms))
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		kind   EventKind
		detail map[string]string
		want   string
	}{
		{EventAlarmRaised, map[string]string{"alarm": AlarmDoorHeld, "detail": "door open longer than 1m0s", "for": "1m0s"}, "Alarm: Door held open longer than 1 minute"},
		{EventAlarmRaised, map[string]string{"alarm": AlarmDoorHeld, "detail": "door open longer than 1m0s"}, "Alarm: Door held open too long"},
		{EventAlarmRaised, map[string]string{"alarm": AlarmWrongSlot, "detail": "Van 1 returned to slot 4 (home 3)"}, "Alarm: Key returned to the wrong slot: Van 1 returned to slot 4 (home 3)"},
		{EventAlarmCleared, map[string]string{"alarm": AlarmTamper, "raised_at": "12"}, "Alarm cleared: Cabinet tampered with"},
		{EventIdentified, map[string]string{"via": "rdm6300"}, "Signed in with a badge"},
		{EventIdentified, map[string]string{"via": "qr"}, "Signed in with a QR code"},
		{EventIdentifyFail, map[string]string{"reason": "unknown badge", "badge": "fd22f69e", "reader": "sim"}, "Sign-in failed: unknown badge"},
		{EventIdentifyFail, map[string]string{"reason": "wrong PIN", "attempt": "2"}, "Sign-in failed: wrong PIN (attempt 2)"},
		{EventLockedOut, map[string]string{"for": "5m0s"}, "Locked out for 5 minutes"},
		{EventLockPulsed, map[string]string{"lock": "L2", "for": "2s"}, "Lock test of lock L2"},
		{EventBoot, map[string]string{"keys_out": "2"}, "Kiosk started, 2 keys out"},
		{EventAdminChange, map[string]string{"change": ChangeSlotMapped, "slot": "3"}, "Slot 3 assigned"},
		{EventKeyTaken, nil, "Key taken"},
		{"future.kind", map[string]string{"x": "y"}, "future.kind"},
	} {
		if got := Describe(c.kind, c.detail); got != c.want {
			t.Errorf("Describe(%s, %v) = %q, want %q", c.kind, c.detail, got, c.want)
		}
	}
	for k := range eventKinds {
		d := Describe(k, map[string]string{"badge": "fd22f69e", "token_hash": "abcd"})
		if strings.Contains(d, "fd22f69e") || strings.Contains(d, "abcd") || strings.Contains(d, string(k)) {
			t.Errorf("Describe(%s) = %q shows an internal name or hash", k, d)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1 minute", 90 * time.Second: "90 seconds", 2 * time.Hour: "2 hours",
		time.Second: "1 second", 1500 * time.Millisecond: "2 seconds",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
