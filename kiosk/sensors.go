package kiosk

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/store"
)

// sense records an input's state without acting on it.
func (c *Controller) sense(k input.Kind, slot int, active bool) {
	switch k {
	case input.Door:
		c.doorOpen = active
	case input.KeyPresent:
		c.present[slot] = active
	}
}

func (c *Controller) onSensor(ctx context.Context, ev input.Event) {
	defer c.refreshAdmin()
	switch ev.Kind {
	case input.Door:
		if ev.Active == c.doorOpen {
			return
		}
		c.sense(ev.Kind, ev.Slot, ev.Active)
		c.onDoor(ctx, ev.Active)
	case input.KeyPresent:
		if c.present[ev.Slot] == ev.Active {
			return
		}
		c.sense(ev.Kind, ev.Slot, ev.Active)
		if ev.Active {
			c.onKeyIn(ctx, ev.Slot)
		} else {
			c.onKeyOut(ctx, ev.Slot)
		}
	case input.Tamper:
		if ev.Active {
			c.raise(ctx, keycab.AlarmTamper, "tamper input "+ev.Input)
		}
	case input.Emergency:
		if ev.Active && !c.emergency {
			c.emergencyOn(ctx)
		} else if !ev.Active && c.emergency {
			c.emergencyOff(ctx)
		}
	}
}

func (c *Controller) onDoor(ctx context.Context, open bool) {
	if !open {
		c.doorGen++
		c.doorAlarmAt = time.Time{}
		if c.doorWarning != "" {
			c.doorWarning = ""
			c.publish(c.Screen())
		}
		c.note(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventDoorClosed}})
		return
	}
	// The timers first: they count from the moment the door opened,
	// whatever recording it costs.
	c.doorGen++
	gen := c.doorGen
	held, warn := c.conf.Policy.DoorHeld, c.conf.Policy.DoorHeldWarning
	if held > 0 {
		c.doorAlarmAt = c.clock.Now().Add(held)
		c.clock.AfterFunc(held, func() { c.events <- doorHeld{gen} })
		if warn > 0 && warn < held {
			c.clock.AfterFunc(held-warn, func() { c.events <- doorWarn{gen} })
		}
	}
	c.note(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventDoorOpened}})
	door := c.conf.Cabinet.DoorLock
	if door != "" && !c.isReleased(door) && !c.emergency {
		c.raise(ctx, keycab.AlarmDoorForced, "the door opened while locked")
	}
}

// onKeyOut handles a key leaving slot n: the take the session waits for,
// or a removal without a session.
func (c *Controller) onKeyOut(ctx context.Context, n int) {
	if s := c.s; s != nil && s.state == Unlocking && s.taking && s.slot == n {
		c.completeTake(ctx, n)
		return
	}
	label, keySet := keycab.SlotName(n), ""
	if sl := c.slot(n); sl != nil {
		if k := c.keySet(sl.KeySetID); k != nil {
			label, keySet = k.Label+" from "+label, k.ID
		}
	}
	if c.emergency {
		label += " during the emergency release"
	}
	c.raiseAbout(ctx, keycab.AlarmKeyRemoved, keySet, n, label, label)
}

// onKeyIn handles a key arriving in slot n: the return the session waits
// for, into its home slot or, flagged, another.
func (c *Controller) onKeyIn(ctx context.Context, n int) {
	if s := c.s; s != nil && s.state == Unlocking && !s.taking {
		c.completeReturn(ctx, n, n != s.slot)
		return
	}
	c.log.Info("key put in without a return session", "slot", n)
}

// raise starts an alarm: it is logged, shown, and sounds the buzzer.
func (c *Controller) raise(ctx context.Context, kind, detail string) {
	c.raiseAbout(ctx, kind, "", 0, detail, detail)
}

// raiseAbout starts an alarm about key set keySet and slot (either may be
// none: "", 0), which its entry names for HQ's alarm list; the entry's
// detail is logged, and the screen shows shown instead (a member's name,
// which no entry holds).
func (c *Controller) raiseAbout(ctx context.Context, kind, keySet string, slot int, logged, shown string) {
	d := map[string]string{"alarm": kind, "detail": logged}
	if kind == keycab.AlarmDoorHeld {
		d["for"] = c.conf.Policy.DoorHeld.String() // DescribeAlarm says it in words
	}
	// An alarm the log refuses (the kiosk is out of service then) is
	// still shown, sounded and sent to HQ in the heartbeat.
	r := store.Record{Event: &audit.Event{Kind: keycab.EventAlarmRaised, KeySet: keySet, Slot: uint(max(slot, 0)), Detail: d}}
	r.Still, r.StillMissing = c.still()
	index, _ := c.record(ctx, r)
	onScreen := maps.Clone(d)
	onScreen["detail"] = shown
	c.alarms = append([]Alarm{{ID: index, Kind: kind, Detail: shown, Text: keycab.DescribeAlarm(kind, onScreen), Since: c.clock.Now()}}, c.alarms...)
	c.log.Warn("alarm", "alarm", kind, "detail", logged)
	if c.cfg.Buzzer != "" {
		if err := c.locks.Unlock(c.cfg.Buzzer, 3*c.cfg.ShowDone/2); err != nil {
			c.log.Error("buzzer", "err", err)
		}
	}
	c.republish()
}

// republish shows the current screen again with fresh alarms.
func (c *Controller) republish() { c.publish(c.Screen()) }

func (c *Controller) emergencyOn(ctx context.Context) {
	c.emergency = true
	c.note(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventEmergency}}) // released whether or not it is recorded
	c.s = nil
	c.releaseAll()
	c.idle("", "")
}

// releaseAll hands every lock but the buzzer to the driver's emergency
// release, which keeps it open until emergencyOff secures it: fail-safe
// locks de-energised throughout, fail-secure ones energised and rested in
// turn so that none exceeds its maximum energised time.
func (c *Controller) releaseAll() {
	for _, n := range c.locks.Names() {
		if n == c.cfg.Buzzer {
			continue
		}
		if err := c.locks.Emergency(n); err != nil {
			c.log.Error("emergency release", "lock", n, "err", err)
		}
	}
}

func (c *Controller) emergencyOff(ctx context.Context) {
	c.emergency = false
	c.secureAll()
	c.note(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventEmergencyOff}})
	c.idle("", "")
}

// checkOverdue raises one alarm for each checkout past its due time.
func (c *Controller) checkOverdue(ctx context.Context) {
	now := c.clock.Now()
	for _, o := range c.sortedOut() {
		if o.Overdue(now) && !c.overdue[o.LogIndex] {
			c.overdue[o.LogIndex] = true
			label := o.KeySetID
			if k := c.keySet(o.KeySetID); k != nil {
				label = k.Label
			}
			due := keycab.ShortTime(o.DueAt, c.clock.Now(), c.loc)
			// The entry says who by the take it points to, never by name:
			// a leaf is never erased. The screen names the holder.
			logged := fmt.Sprintf("%s, due %s (entry %s)", label, due, strconv.FormatInt(o.LogIndex, 10))
			shown := logged
			if m := c.member(o.MemberID); m != nil && m.Name != "" {
				shown = fmt.Sprintf("%s with %s, due %s (entry %s)", label, keycab.ShortName(m.Name), due, strconv.FormatInt(o.LogIndex, 10))
			}
			c.raiseAbout(ctx, keycab.AlarmOverdue, o.KeySetID, 0, logged, shown)
		}
	}
}
