package kiosk

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/store"
)

// isAdmin reports whether the session's member may use the admin screen;
// never in a session a pass opened (a pass is for its key sets only).
func (c *Controller) isAdmin() bool {
	return c.s != nil && c.s.pass == nil && c.s.member.Role.MayAdminKiosk()
}

func (c *Controller) onOpenAdmin(ctx context.Context) {
	if c.s == nil || c.s.state != Menu {
		return
	}
	if !c.isAdmin() {
		c.setStep(Menu, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.admins_only"), Message: c.tr().T("screen.admins_only_msg")})
		return
	}
	if !c.s.pinOK {
		c.askPIN(c.s.member, func(c *Controller) { c.showAdmin("") })
		return
	}
	c.showAdmin("")
}

// lockStates is what lock.Bank offers beyond Locks: the live outputs.
type lockStates interface {
	States() []lock.State
}

const pulseFor = 2 * time.Second

func (c *Controller) showAdmin(msg string) {
	c.setStep(Admin, 3*c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.administration"), Message: msg, Admin: c.adminView()})
}

// adminView reads the admin screen's live state.
func (c *Controller) adminView() *AdminView {
	v := &AdminView{Locks: c.locks.Names(), LogSize: c.db.Size(), Config: c.conf.Version, Pulse: pulseFor}
	if st, err := c.db.SyncState(context.Background()); err == nil {
		v.Sync = SyncView{HQ: st.HQURL, Cosigned: st.CosignedSize, LastPush: st.LastPush, LastPull: st.LastPull}
	}
	for _, sc := range c.cfg.Scanners {
		if t, ok := sc.(cameraTrouble); ok {
			if at, err := t.LastError(); err != nil && !at.Before(v.CameraErrorAt) {
				v.CameraError, v.CameraErrorAt = err.Error(), at
			}
		}
	}
	released := map[string]bool{}
	if ls, ok := c.locks.(lockStates); ok {
		for _, st := range ls.States() {
			released[st.Name] = st.Unlocked
		}
	}
	for _, r := range c.conf.Refused {
		v.Refused = append(v.Refused, fmt.Sprintf("%s (entry %d): %s", r.Change, r.Index, r.Reason))
	}
	for _, m := range c.conf.Members {
		if m.ErasedAt.IsZero() {
			v.Members = append(v.Members, MemberRef{ID: m.ID, Name: m.Name})
		}
	}
	for _, s := range c.conf.Slots {
		sv := SlotView{Number: s.Number, Present: c.present[s.Number], Lock: s.Lock, Released: released[s.Lock]}
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
	return v
}

// showAdminKeep republishes the admin view with live state in one screen,
// without moving the step's deadline: a refresh is not a new step.
func (c *Controller) showAdminKeep(msg string, deadline time.Time) {
	scr := Screen{State: Admin, Title: c.tr().T("screen.administration"), Message: msg, Admin: c.adminView(), Deadline: deadline}
	if c.s != nil {
		scr.Member = c.s.member
	}
	c.publish(scr)
}

func (c *Controller) onClearAlarm(ctx context.Context, a ClearAlarm) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	if a.Note == "" {
		c.showAdmin(c.tr().T("admin.clear_needs_note"))
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
			return // out of service; the alarm stays
		}
		c.alarms = append(c.alarms[:i:i], c.alarms[i+1:]...)
		c.showAdmin(c.tr().T("admin.alarm_cleared"))
		return
	}
}

func (c *Controller) onPulse(ctx context.Context, name string) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	pulse := pulseFor
	if err := c.locks.Unlock(name, pulse); err != nil {
		c.showAdmin(c.tr().T("admin.lock_failed", "Lock", name, "Error", err.Error()))
		return
	}
	if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventLockPulsed, Actor: c.s.member.ID, Detail: map[string]string{"lock": name, "for": pulse.String()}}}); err != nil {
		// Out of service: a test that cannot be recorded ends now.
		if err := c.locks.Lock(name); err != nil {
			c.log.Error("secure lock", "lock", name, "err", err)
		}
		return
	}
	c.showAdmin(c.tr().T("admin.lock_pulsed", "Lock", name))
}

func (c *Controller) onEnrolFob(slot int) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	s := c.slot(slot)
	if s == nil || c.keySet(s.KeySetID) == nil {
		c.showAdmin(c.tr().T("admin.slot_no_keyset", "Slot", slot))
		return
	}
	c.s.enrol, c.s.link = slot, ""
	c.showAdmin(c.tr().T("admin.show_label", "Label", c.keySet(s.KeySetID).Label))
}

func (c *Controller) onLinkBadge(member string) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	m := c.member(member)
	if m == nil {
		c.showAdmin(c.tr().T("admin.no_member"))
		return
	}
	c.s.link, c.s.enrol = member, 0
	c.showAdmin(c.tr().T("admin.present_badge", "Name", firstName(m.Name)))
}

// onMapSlot records a slot's new key set and reloads the config so it
// works at once.
func (c *Controller) onMapSlot(ctx context.Context, m MapSlot) {
	if c.s == nil || c.s.state != Admin || !c.isAdmin() {
		return
	}
	done := c.tr().T("admin.slot_empty", "Slot", m.Slot)
	if m.KeySetID != "" {
		k := c.keySet(m.KeySetID)
		if k == nil {
			c.showAdmin(c.tr().T("admin.no_keyset"))
			return
		}
		done = c.tr().T("admin.slot_homes", "Slot", m.Slot, "Label", k.Label)
	}
	if err := c.db.MapSlot(ctx, c.s.member.ID, m.Slot, m.KeySetID); err != nil {
		c.showAdmin(keycab.ErrorMessageIn(err, c.tr().Lang()))
		return
	}
	c.reload(ctx) // the same path as a bundle from HQ
	if c.s != nil && c.s.state == Admin {
		c.showAdmin(done)
	}
}

// onEnrolScan takes the code read while enrolling a label or linking a
// badge, records it, and reloads the config so it works at once.
func (c *Controller) onEnrolScan(ctx context.Context, b badge.Badge) {
	var err error
	var done string
	switch {
	case c.s.enrol > 0:
		ks := c.keySet(c.slot(c.s.enrol).KeySetID)
		err = c.db.EnrolToken(ctx, c.s.member.ID, ks.ID, b.Code)
		done = c.tr().T("admin.label_enrolled", "Label", ks.Label)
	default:
		kind := keycab.BadgeRFID
		if b.Source == "qr" {
			kind = keycab.BadgeQR
		}
		m := c.member(c.s.link)
		err = c.db.LinkBadge(ctx, c.s.member.ID, m.ID, kind, b.Code)
		done = c.tr().T("admin.badge_linked", "Name", m.Name)
	}
	c.s.enrol, c.s.link = 0, ""
	if err != nil {
		c.showAdmin(keycab.ErrorMessageIn(err, c.tr().Lang()))
		return
	}
	c.reload(ctx) // the same path as a bundle from HQ
	if c.s != nil && c.s.state == Admin {
		c.showAdmin(done)
	}
}

// refreshAdmin shows the admin screen again with live state, keeping the
// step's deadline, when a sensor changed while an admin looks at it.
func (c *Controller) refreshAdmin() {
	if c.s == nil || c.s.state != Admin {
		return
	}
	scr := c.Screen()
	c.showAdminKeep(scr.Message, scr.Deadline)
}
