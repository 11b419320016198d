package kiosk

import (
	"context"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

func (c *Controller) isAdmin() bool {
	return c.s != nil && c.s.member.Role.AtLeast(keycab.RoleAdmin)
}

func (c *Controller) onOpenAdmin(ctx context.Context) {
	if c.s == nil || c.s.state != Menu {
		return
	}
	if !c.isAdmin() {
		c.setStep(Menu, c.cfg.StepTimeout, Screen{Title: "Administrators only", Message: "Your role cannot open the admin screens."})
		return
	}
	if !c.s.pinOK {
		c.askPIN(c.s.member, func(c *Controller) { c.showAdmin("") })
		return
	}
	c.showAdmin("")
}

func (c *Controller) showAdmin(msg string) {
	v := &AdminView{Locks: c.locks.Names(), LogSize: c.db.Size(), Config: c.conf.Version}
	for _, s := range c.conf.Slots {
		sv := SlotView{Number: s.Number, Present: c.present[s.Number]}
		if k := c.keySet(s.KeySetID); k != nil {
			sv.KeySet = k.Label
			if o, ok := c.out[k.ID]; ok {
				sv.Out = o.MemberID
				if m := c.member(o.MemberID); m != nil && m.Name != "" {
					sv.Out = keycab.ShortName(m.Name)
				}
			}
		}
		v.Slots = append(v.Slots, sv)
	}
	c.setStep(Admin, 3*c.cfg.StepTimeout, Screen{Title: "Administration", Message: msg, Admin: v})
}

func (c *Controller) onClearAlarm(ctx context.Context, a ClearAlarm) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	if a.Note == "" {
		c.showAdmin("Clearing an alarm needs a note.")
		return
	}
	for i, al := range c.alarms {
		if al.ID != a.ID {
			continue
		}
		_, err := c.record(ctx, store.Record{
			Event: &audit.Event{Kind: keycab.EventAlarmCleared, Actor: c.s.member.ID, Detail: map[string]string{"alarm": al.Kind, "raised_at": strconv.FormatInt(al.ID, 10)}},
			Notes: a.Note,
		})
		if err != nil {
			c.showAdmin("Could not record clearing the alarm.")
			return
		}
		c.alarms = append(c.alarms[:i:i], c.alarms[i+1:]...)
		c.showAdmin("Alarm cleared.")
		return
	}
}

func (c *Controller) onPulse(ctx context.Context, name string) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	const pulse = 2 * time.Second
	if err := c.locks.Unlock(name, pulse); err != nil {
		c.showAdmin("Lock " + name + " failed: " + err.Error())
		return
	}
	c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventLockPulsed, Actor: c.s.member.ID, Detail: map[string]string{"lock": name, "for": pulse.String()}}})
	c.showAdmin("Lock " + name + " pulsed.")
}
