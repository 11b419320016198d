package kiosk

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// onScan handles a scanned code: a badge identifies a member (or the
// second member of a dual release); a key fob's QR confirms an open-shelf
// take or return; an offline pass opens a session limited to it (onPass).
func (c *Controller) onScan(ctx context.Context, b badge.Badge) {
	now := c.clock.Now()
	if last, ok := c.lastScan[b.Code]; ok && now.Sub(last) < c.conf.Policy.ScanCoolDown {
		return // the same code again within the cool-down: one scan, one action
	}
	c.lastScan[b.Code] = now
	for code, t := range c.lastScan {
		if now.Sub(t) > c.conf.Policy.ScanCoolDown {
			delete(c.lastScan, code)
		}
	}
	if wire.IsPass(b.Code) {
		// Ahead of the admin's enrol scans: a pass is never linked as a
		// badge or a label (it would outlive its window).
		c.onPass(ctx, b)
		return
	}
	if c.s != nil && c.s.state == Admin && (c.s.enrol > 0 || c.s.link != "") {
		c.onEnrolScan(ctx, b)
		return
	}
	if m, h := c.badgeMember(b.Code); m != nil {
		c.onBadge(ctx, m, h, b.Source)
		return
	}
	if k := c.tokenKeySet(b.Code); k != nil {
		c.onFob(ctx, k)
		return
	}
	if c.s != nil && c.s.state != Second {
		return // a stray code during a session is not worth interrupting it
	}
	// An unknown badge: logged without the code itself, only a short hash
	// so repeated attempts can be told apart.
	h := keycab.BadgeHash(c.conf.BadgeSalt, b.Code)
	if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentifyFail, Detail: map[string]string{"reason": "unknown badge", "reader": b.Source, "badge": fmt.Sprintf("%x", h[:4])}}}); err != nil {
		return // out of service
	}
	if c.s == nil {
		c.idle(c.tr().T("screen.badge_unknown"), c.tr().T("screen.badge_unknown_msg"))
	}
}

// badgeMember returns the member a badge code belongs to, and the code's
// hash; nil for a code no valid badge has.
func (c *Controller) badgeMember(code string) (*keycab.Member, []byte) {
	h := keycab.BadgeHash(c.conf.BadgeSalt, code)
	return c.badgeHolder(h), h
}

// badgeHolder returns the member whose valid badge has hash h, or nil.
func (c *Controller) badgeHolder(h []byte) *keycab.Member {
	for _, b := range c.conf.Badges {
		if b.RevokedAt.IsZero() && bytes.Equal(b.Hash, h) {
			return c.member(b.MemberID)
		}
	}
	return nil
}

func (c *Controller) tokenKeySet(code string) *keycab.KeySet {
	h := keycab.TokenHash(code)
	for _, t := range c.conf.Tokens {
		if t.Valid() && bytes.Equal(t.Hash, h) {
			return c.keySet(t.KeySetID)
		}
	}
	return nil
}

func (c *Controller) onBadge(ctx context.Context, m *keycab.Member, badge []byte, source string) {
	if c.emergency {
		return
	}
	if c.s != nil && c.s.state == Second {
		c.onSecond(ctx, m)
		return
	}
	if c.s != nil {
		return // a badge mid-flow does not start another session
	}
	if c.isLockedOut(m) {
		if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentifyFail, Actor: m.ID, Detail: map[string]string{"reason": "locked out", "reader": source}}}); err != nil {
			return // out of service
		}
		c.idle(c.tr().T("screen.locked_out"), c.tr().T("screen.locked_out_msg"))
		return
	}
	if m.Disabled || !m.ErasedAt.IsZero() {
		if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentifyFail, Actor: m.ID, Detail: map[string]string{"reason": "disabled", "reader": source}}}); err != nil {
			return // out of service
		}
		c.idle(c.tr().T("screen.access_disabled"), c.tr().T("screen.ask_admin"))
		return
	}
	if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentified, Actor: m.ID, Detail: map[string]string{"via": source}}}); err != nil {
		return // out of service: no greeting, no session
	}
	c.openSession(&session{member: m, badge: badge})
}

// openSession starts s at the menu, after the PIN where the policy asks
// the member for one.
func (c *Controller) openSession(s *session) {
	c.s = s
	if c.conf.Policy.PINAlways || hasRole(c.conf.Policy.PINRoles, s.member.Role) {
		c.askPIN(s.member, func(c *Controller) { c.showMenu() })
		return
	}
	c.showMenu()
}

func hasRole(roles []keycab.Role, r keycab.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// askPIN asks m for their PIN, then runs then.
func (c *Controller) askPIN(m *keycab.Member, then func(*Controller)) {
	c.s.pinFor, c.s.afterPIN = m, then
	title := c.tr().T("screen.enter_pin")
	if m != c.s.member {
		title = c.tr().T("screen.enter_pin_name", "Name", firstName(m.Name))
	}
	c.setStep(EnterPIN, c.cfg.StepTimeout, Screen{Title: title})
}

func (c *Controller) onPIN(ctx context.Context, digits string) {
	if c.s == nil || c.s.state != EnterPIN {
		return
	}
	m := c.s.pinFor
	if !c.checkPIN(ctx, m, digits) {
		if c.s == nil {
			return // out of service
		}
		if c.isLockedOut(m) {
			c.idle(c.tr().T("screen.locked_out"), c.tr().T("screen.locked_out_msg"))
			return
		}
		c.setStep(EnterPIN, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.enter_pin"), Message: c.tr().T("screen.wrong_pin")})
		return
	}
	if m == c.s.member {
		c.s.pinOK = true
	}
	next := c.s.afterPIN
	c.s.pinFor, c.s.afterPIN = nil, nil
	next(c)
}

// showMenu lists what the member may take now and what they hold.
func (c *Controller) showMenu() {
	m := c.s.member
	scr := Screen{Title: c.tr().T("screen.hello", "Name", firstName(m.Name))}
	pass := c.sessionPass(m)
	for _, k := range c.conf.KeySets {
		if pass != nil && !pass.Covers(k.ID) {
			if o, ok := c.out[k.ID]; !ok || o.MemberID != m.ID {
				continue // a pass's session lists only the pass's key sets (and what its holder holds)
			}
		}
		d := c.decideTake(m, &k)
		ch := Choice{KeySet: k}
		if s := c.homeSlot(k.ID); s != nil {
			ch.Slot = s.Number
		}
		if !d.Allowed {
			if o, ok := c.out[k.ID]; !ok || o.MemberID != m.ID { // a key they hold is theirs to return
				ch.Note = d.Reason
				scr.Unavailable = append(scr.Unavailable, ch)
			}
			continue
		}
		switch {
		case d.Approvers == 1:
			ch.Note = c.tr().T("screen.needs_second")
		case d.Approvers > 1:
			ch.Note = c.tr().T("screen.needs_two_more")
		case d.NeedsPIN && !c.s.pinOK:
			ch.Note = c.tr().T("screen.pin_required")
		}
		scr.Take = append(scr.Take, ch)
	}
	for _, o := range c.sortedOut() {
		if o.MemberID != m.ID {
			continue
		}
		k := c.keySet(o.KeySetID)
		if k == nil {
			k = &keycab.KeySet{ID: o.KeySetID, Label: o.KeySetID}
		}
		scr.Return = append(scr.Return, Choice{KeySet: *k, Slot: o.Slot, Due: o.DueAt})
	}
	if len(scr.Take) == 0 && len(scr.Return) == 0 {
		scr.Message = c.tr().T("screen.no_keys")
	}
	c.setStep(Menu, c.cfg.StepTimeout, scr)
}

func firstName(full string) string {
	for i, r := range full {
		if r == ' ' {
			return full[:i]
		}
	}
	return full
}

func (c *Controller) sortedOut() []keycab.Checkout {
	out := make([]keycab.Checkout, 0, len(c.out))
	for _, o := range c.out {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogIndex < out[j].LogIndex })
	return out
}

func (c *Controller) onChooseTake(ctx context.Context, id string) {
	if c.s == nil || c.s.state != Menu {
		return
	}
	k := c.keySet(id)
	if k == nil {
		return
	}
	d := c.decideTake(c.s.member, k)
	if !d.Allowed {
		// The menu offered it, but something changed: say why.
		c.setStep(Menu, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.cannot_take", "Label", k.Label), Message: d.Reason})
		return
	}
	c.s.keySet, c.s.taking = k, true
	if s := c.homeSlot(k.ID); s != nil {
		c.s.slot = s.Number
	}
	if d.NeedsPIN && !c.s.pinOK {
		c.askPIN(c.s.member, func(c *Controller) { c.afterTakeChecks(d) })
		return
	}
	c.afterTakeChecks(d)
}

func (c *Controller) afterTakeChecks(d keycab.Decision) {
	c.s.need = d.Approvers
	if d.Approvers > 0 {
		window := c.conf.Policy.DualReleaseWindow
		if window <= 0 {
			window = 60 * time.Second
		}
		c.setStep(Second, window, c.approverScreen(""))
		return
	}
	c.askReason()
}

// approverScreen asks for the next approver of a dual or triple release;
// message, when set, says why the last badge did not count.
func (c *Controller) approverScreen(message string) Screen {
	l := c.tr()
	title := l.T("screen.second_confirm")
	if len(c.s.approvers) > 0 {
		title = l.T("screen.third_confirm")
	}
	if message == "" {
		message = l.T("screen.second_msg", "Label", c.s.keySet.Label)
		if c.s.need > 1 {
			message = l.N("screen.more_msg", c.s.need-len(c.s.approvers), "Label", c.s.keySet.Label)
		}
	}
	return Screen{Title: title, Message: message}
}

// onSecond handles a badge during a dual or triple release.
func (c *Controller) onSecond(ctx context.Context, m *keycab.Member) {
	already := []string{c.s.member.ID}
	for _, a := range c.s.approvers {
		already = append(already, a.ID)
	}
	d := keycab.DecideSecond(c.facts(m, c.s.keySet), already...)
	if !d.Allowed || c.isLockedOut(m) {
		if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventIdentifyFail, Actor: m.ID, KeySet: c.s.keySet.ID, Detail: map[string]string{"reason": "approver refused: " + d.Reason}}}); err != nil {
			return // out of service
		}
		c.setStep(Second, c.s.deadline.Sub(c.clock.Now()), c.approverScreen(d.Reason))
		return
	}
	next := func(c *Controller) {
		c.s.approvers = append(c.s.approvers, m)
		if len(c.s.approvers) < c.s.need {
			c.setStep(Second, c.s.deadline.Sub(c.clock.Now()), c.approverScreen(""))
			return
		}
		c.askReason()
	}
	if d.NeedsPIN {
		c.askPIN(m, next)
		return
	}
	next(c)
}

func (c *Controller) askReason() {
	c.setStep(Reason, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.why", "Label", c.s.keySet.Label), Reasons: c.conf.Policy.Reasons})
}

func (c *Controller) onReason(ctx context.Context, r GiveReason) {
	if c.s == nil || c.s.state != Reason {
		return
	}
	c.s.reason, c.s.recip, c.s.notes = r.Reason, r.Recipient, r.Notes
	c.unlockFor(ctx)
}

// unlockFor releases the lock for the session's key set: its slot on a
// slotted cabinet, the door on an open-shelf one.
func (c *Controller) unlockFor(ctx context.Context) {
	var names []string
	if d := c.conf.Cabinet.DoorLock; d != "" {
		names = append(names, d)
	}
	if c.slotted() {
		s := c.slot(c.s.slot)
		if s == nil {
			c.idle(c.tr().T("screen.no_slot"), c.tr().T("screen.no_slot_msg"))
			return
		}
		names = append(names, s.Lock)
	}
	for _, name := range names {
		if err := c.release(name); err != nil {
			c.log.Error("unlock failed", "lock", name, "err", err)
			c.idle(c.tr().T("screen.lock_failed"), c.tr().T("screen.lock_failed_msg"))
			return
		}
	}
	l := c.tr()
	title := l.T("screen.take_title", "Label", c.s.keySet.Label)
	if !c.s.taking {
		title = l.T("screen.return_title", "Label", c.s.keySet.Label)
	}
	if c.slotted() {
		message := l.T("screen.slot_open_take", "Slot", c.s.slot)
		if !c.s.taking {
			message = l.T("screen.slot_open_return", "Slot", c.s.slot)
		}
		c.setStep(Unlocking, c.cfg.ConfirmTimeout, Screen{Title: title,
			Message: message, Slot: c.s.slot, Returning: !c.s.taking, SlotMap: c.slotMap()})
		return
	}
	c.setStep(Confirming, c.cfg.ConfirmTimeout, Screen{Title: title, Message: l.T("screen.show_label"), Returning: !c.s.taking})
}

func (c *Controller) onChooseReturn(ctx context.Context, id string) {
	if c.s == nil || c.s.state != Menu {
		return
	}
	o, ok := c.out[id]
	if !ok {
		return
	}
	k := c.keySet(id)
	if k == nil {
		k = &keycab.KeySet{ID: id, Label: id}
	}
	c.s.keySet, c.s.taking, c.s.slot = k, false, o.Slot
	if s := c.homeSlot(id); s != nil {
		c.s.slot = s.Number
	}
	c.unlockFor(ctx)
}

// onFob handles a key fob's QR: on the menu it starts the return of a key
// set that is out (opening its home slot, or on an open-shelf cabinet
// recording the return and opening the door to put it back); while
// confirming it confirms an open-shelf take or return.
func (c *Controller) onFob(ctx context.Context, k *keycab.KeySet) {
	if c.s != nil && c.s.state == Menu {
		if _, out := c.out[k.ID]; !out {
			c.setStep(Menu, c.cfg.StepTimeout, Screen{Title: c.tr().T("screen.in_cabinet", "Label", k.Label), Message: c.tr().T("screen.in_cabinet_msg")})
			return
		}
		c.onChooseReturn(ctx, k.ID)
		if c.s != nil && c.s.state == Confirming && !c.slotted() {
			c.completeReturn(ctx, 0, false)
		}
		return
	}
	if c.s == nil || c.s.state != Confirming || c.s.keySet.ID != k.ID {
		return
	}
	if c.s.taking {
		c.completeTake(ctx, 0)
	} else {
		c.completeReturn(ctx, 0, false)
	}
}

func (c *Controller) completeTake(ctx context.Context, slot int) {
	s := c.s
	now := c.clock.Now()
	co := keycab.Checkout{
		KeySetID: s.keySet.ID, MemberID: s.member.ID, Slot: slot, TakenAt: now,
		DueAt:  c.conf.Policy.DueAt(now, *s.keySet, c.loc),
		Reason: s.reason, Recipient: s.recip, Notes: s.notes,
	}
	co.Still, co.StillMissing = c.still()
	if len(s.approvers) > 0 {
		co.SecondID = s.approvers[0].ID
	}
	if len(s.approvers) > 1 {
		co.ThirdID = s.approvers[1].ID
	}
	if err := c.rec.Take(ctx, &co); err != nil {
		c.log.Error("record take", "keyset", s.keySet.ID, "err", err)
		if keycab.ErrorCode(err) == keycab.EINTERNAL {
			c.fault(err) // the log refuses: out of service
			return
		}
		c.idle(c.tr().T("screen.take_failed"), c.tr().T("screen.take_failed_msg"))
		return
	}
	c.out[co.KeySetID] = co
	label, l := s.keySet.Label, c.tr() // the member's language, before the session ends
	c.secureReleased()
	c.s = nil
	c.step++
	gen := c.step
	c.clock.AfterFunc(c.cfg.ShowDone, func() { c.events <- timeoutEvent{gen} })
	due := l.T("screen.no_due")
	if !co.DueAt.IsZero() {
		due = l.T("screen.due_back", "Due", l.Short(co.DueAt, c.clock.Now(), c.loc))
	}
	c.publish(Screen{State: Done, Title: l.T("screen.taken", "Label", label), Message: due, Deadline: now.Add(c.cfg.ShowDone), Lang: l.Tag()})
}

func (c *Controller) completeReturn(ctx context.Context, slot int, wrong bool) {
	s := c.s
	r := store.Returned{KeySet: s.keySet.ID, Member: s.member.ID, Slot: slot, WrongSlot: wrong}
	r.Still, r.StillMissing = c.still()
	if _, err := c.rec.ReturnKey(ctx, r); err != nil {
		c.log.Error("record return", "keyset", s.keySet.ID, "err", err)
		if keycab.ErrorCode(err) == keycab.EINTERNAL {
			c.fault(err) // the log refuses: out of service
			return
		}
		c.idle(c.tr().T("screen.return_failed"), c.tr().T("screen.call_admin"))
		return
	}
	delete(c.out, s.keySet.ID)
	l := c.tr()
	msg := l.T("screen.thank_you")
	state, title := Done, l.T("screen.returned", "Label", s.keySet.Label)
	if wrong {
		state, title = WrongSlot, l.T("screen.wrong_slot", "Label", s.keySet.Label)
		msg = l.T("screen.wrong_slot_msg", "Slot", slot, "Home", s.slot)
		detail := fmt.Sprintf("%s returned to slot %d (home %d)", s.keySet.Label, slot, s.slot)
		c.raiseAbout(ctx, keycab.AlarmWrongSlot, s.keySet.ID, slot, detail, detail)
	}
	if c.slotted() {
		c.secureReleased()
	} else {
		// Open shelf: the return is recorded from the label; the door
		// stays released (the driver relocks it) to put the key back.
		msg = l.T("screen.shelf_back", "Then", msg)
	}
	c.s = nil
	c.step++
	gen := c.step
	c.clock.AfterFunc(c.cfg.ShowDone, func() { c.events <- timeoutEvent{gen} })
	c.publish(Screen{State: state, Title: title, Message: msg, Slot: slot, Returning: true, Deadline: c.clock.Now().Add(c.cfg.ShowDone), Lang: l.Tag()})
}

// slotMap is the cabinet's slots with their key sets and whether their
// key is in, by number, for the unlocking screen.
func (c *Controller) slotMap() []SlotView {
	var out []SlotView
	for _, s := range c.conf.Slots {
		sv := SlotView{Number: s.Number, Present: c.present[s.Number], Lock: s.Lock}
		if k := c.keySet(s.KeySetID); k != nil {
			sv.KeySet = k.Label
		}
		out = append(out, sv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}
