package kiosk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/store"
)

// refusingLog is the kiosk's real store with appends, takes and returns
// that fail while refuse has set an error, as on a full disk.
type refusingLog struct {
	*store.DB
	mu  sync.Mutex
	err error
}

func (l *refusingLog) refuse(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *refusingLog) refused() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *refusingLog) Append(ctx context.Context, recs ...store.Record) ([]store.Appended, error) {
	if err := l.refused(); err != nil {
		return nil, err
	}
	return l.DB.Append(ctx, recs...)
}

func (l *refusingLog) Take(ctx context.Context, c *keycab.Checkout) error {
	if err := l.refused(); err != nil {
		return err
	}
	return l.DB.Take(ctx, c)
}

func (l *refusingLog) ReturnKey(ctx context.Context, r store.Returned) (int64, error) {
	if err := l.refused(); err != nil {
		return 0, err
	}
	return l.DB.ReturnKey(ctx, r)
}

var _ kiosk.Log = (*refusingLog)(nil)

func hasAlarm(s kiosk.Screen, kind string) bool {
	for _, a := range s.Alarms {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// TestLogRefusesAppends: while the log refuses appends (a full disk) the
// kiosk says it is out of service, greets nobody and opens nothing; the
// sensors' alarms still show, the heartbeat's alarms name the fault; once
// the log works again the kiosk records the outage and serves again.
func TestLogRefusesAppends(t *testing.T) {
	var rl *refusingLog
	r := newRig(t, testConfig(t), func(kc *kiosk.Config) {
		rl = &refusingLog{DB: kc.Store}
		kc.Log = rl
		kc.LogRetry = coolDown
	})
	rl.refuse(errors.New("database or disk is full"))

	r.badge("BADGE-BEN")
	s := r.await(kiosk.OutOfService)
	if strings.HasPrefix(s.Title, "Hello") || !hasAlarm(s, keycab.AlarmLogFailed) {
		t.Fatalf("screen while the log refuses: %+v", s)
	}
	for _, st := range r.cab.Locks.States() {
		if st.Unlocked {
			t.Fatalf("lock %s released while nothing can be recorded", st.Name)
		}
	}
	// Another badge, the touchscreen: still nothing happens.
	r.badge("BADGE-BEN")
	r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
	r.door(true)
	if s := r.c.Screen(); !hasAlarm(s, keycab.AlarmDoorForced) || s.State != kiosk.OutOfService {
		t.Fatalf("door forced while out of service: %+v", s)
	}
	r.door(false)
	for _, st := range r.cab.Locks.States() {
		if st.Unlocked && st.Name != "buzzer" {
			t.Fatalf("lock %s released while nothing can be recorded", st.Name)
		}
	}
	if n := len(r.keysOut()); n != 0 {
		t.Fatalf("%d keys out", n)
	}

	// It tried again every LogRetry, and tries once more.
	rl.refuse(nil)
	r.advance(coolDown)
	r.await(kiosk.Idle)
	var outage bool
	for _, a := range r.events(keycab.EventAlarmRaised) {
		if a.Detail["alarm"] == keycab.AlarmLogFailed && strings.Contains(a.Detail["detail"], "disk is full") {
			outage = true
		}
	}
	if !outage {
		t.Fatal("no log_failed alarm recorded once the log worked again")
	}
	r.take("BADGE-BEN", "ks-1", 1)
	if out := r.keysOut(); len(out) != 1 || out[0].KeySetID != "ks-1" {
		t.Fatalf("custody after recovery: %+v", out)
	}
	r.verify()
}
