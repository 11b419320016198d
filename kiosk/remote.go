package kiosk

import (
	"context"
	"slices"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
)

// remoteEvent is a remote action handed to the loop.
type remoteEvent struct {
	a    keycab.RemoteAction
	now  time.Time // HQ's time as the kiosk knows it
	done chan keycab.RemoteOutcome
}

// Remote hands a remote action from HQ, whose signature the sync agent
// verified, to the running controller and waits for what it did. now is
// HQ's time as the kiosk knows it (the action's expiry is in HQ's time).
// A release is honoured only where the kiosk's policy allows remote
// release; every action, done or refused, is recorded in the log with
// who asked at HQ. An empty outcome means nothing could be recorded (the
// log refuses): the action should be handed over again later.
func (c *Controller) Remote(ctx context.Context, a keycab.RemoteAction, now time.Time) (keycab.RemoteOutcome, error) {
	done := make(chan keycab.RemoteOutcome, 1)
	select {
	case c.events <- remoteEvent{a: a, now: now, done: done}:
	case <-ctx.Done():
		return keycab.RemoteOutcome{}, ctx.Err()
	}
	select {
	case o := <-done:
		return o, nil
	case <-ctx.Done():
		return keycab.RemoteOutcome{}, ctx.Err()
	}
}

// onRemote carries out or refuses a remote action and records it.
func (c *Controller) onRemote(ctx context.Context, ev remoteEvent) {
	a := ev.a
	detail := func() map[string]string {
		return map[string]string{keycab.RemoteActionID: a.ID, keycab.RemoteBy: a.RequestedBy, keycab.RemoteKindKey: string(a.Kind)}
	}
	answer := func(o keycab.RemoteOutcome) {
		c.log.Info("remote action", "action", a.ID, "kind", a.Kind, "by", a.RequestedBy, "outcome", o.Outcome, "refusal", o.Refusal)
		ev.done <- o
	}
	refuse := func(why string) {
		d := detail()
		d[keycab.RemoteRefusal] = why
		idx, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventRemoteRefused, Actor: a.RequestedBy,
			KeySet: a.KeySetID, Slot: uint(max(a.Slot, 0)), Reason: a.Reason, Detail: d}})
		if err != nil {
			answer(keycab.RemoteOutcome{})
			return
		}
		answer(keycab.RemoteOutcome{Outcome: keycab.RemoteRefused, Refusal: why, LogIndex: idx})
	}
	if c.logFault != nil && !c.retryLog(ctx) {
		answer(keycab.RemoteOutcome{}) // out of service: nothing can be recorded
		return
	}
	if err := a.Validate(); err != nil {
		refuse(keycab.ErrorMessage(err))
		return
	}
	if !a.Expires.IsZero() && ev.now.After(a.Expires) {
		refuse("the action expired at " + a.Expires.UTC().Format(time.RFC3339) + " before it reached the kiosk")
		return
	}
	if a.Kind.Releases() {
		c.remoteRelease(ctx, a, detail(), refuse, answer)
		return
	}
	if c.keySet(a.KeySetID) == nil {
		refuse("key set " + a.KeySetID + " is not in this kiosk's config")
		return
	}
	var e *audit.Event
	holder := ""
	switch a.Kind {
	case keycab.RemoteMarkReturned:
		e = &audit.Event{Kind: keycab.EventKeyReturned}
	case keycab.RemoteMarkLost:
		e = &audit.Event{Kind: keycab.EventKeyLost}
	case keycab.RemoteHandOver:
		m := c.member(a.MemberID)
		if m == nil {
			refuse("member " + a.MemberID + " is not in this kiosk's config")
			return
		}
		// The new holder must be one who may take the key set now, as
		// at the screen (the key set's own custody aside: it is out
		// with the member handing it over).
		k := c.keySet(a.KeySetID)
		f := c.facts(m, k)
		f.Out = slices.DeleteFunc(f.Out, func(o keycab.Checkout) bool { return o.KeySetID == k.ID })
		if d := keycab.DecideTake(f); !d.Allowed {
			refuse(m.ID + " may not hold " + k.Label + ": " + d.Reason)
			return
		}
		e, holder = &audit.Event{Kind: keycab.EventKeyHandedOver}, a.MemberID
	case keycab.RemoteReplaceFob:
		c.remoteFob(ctx, a, detail(), refuse, answer)
		return
	}
	e.Actor, e.KeySet, e.Reason, e.Detail = a.RequestedBy, a.KeySetID, a.Reason, detail()
	if _, out := c.out[a.KeySetID]; !out {
		refuse("key set " + a.KeySetID + " is not out")
		return
	}
	idx, err := c.db.Settle(ctx, e, holder)
	if keycab.ErrorCode(err) == keycab.ECONFLICT {
		refuse(keycab.ErrorMessage(err))
		return
	} else if err != nil {
		c.log.Error("remote action not recorded", "action", a.ID, "err", err)
		c.fault(err)
		answer(keycab.RemoteOutcome{})
		return
	}
	if holder == "" {
		delete(c.out, a.KeySetID)
	} else {
		o := c.out[a.KeySetID]
		o.MemberID, o.SecondID = holder, ""
		c.out[a.KeySetID] = o
	}
	c.refreshAdmin()
	answer(keycab.RemoteOutcome{Outcome: keycab.RemoteDone, LogIndex: idx})
}

// remoteRelease releases a slot's lock or the door for HQ, where the
// policy allows it: recorded first, then released.
func (c *Controller) remoteRelease(ctx context.Context, a keycab.RemoteAction, detail map[string]string, refuse func(string), answer func(keycab.RemoteOutcome)) {
	if !c.conf.Policy.RemoteRelease {
		refuse("this kiosk's policy does not allow remote release")
		return
	}
	if c.emergency {
		refuse("the emergency release is on: every lock is already released")
		return
	}
	name := c.conf.Cabinet.DoorLock
	what, opened := "the door", c.tr().T("screen.door_is_open")
	if a.Kind == keycab.RemoteReleaseSlot {
		s := c.slot(a.Slot)
		if s == nil || s.Lock == "" {
			refuse("this cabinet has no slot " + strconv.Itoa(a.Slot) + " with a lock")
			return
		}
		name, what = s.Lock, "slot "+strconv.Itoa(a.Slot)
		opened = c.tr().T("screen.slot_is_open", "Slot", a.Slot)
	}
	if name == "" {
		refuse("this cabinet has no door lock")
		return
	}
	detail["lock"] = name
	idx, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventRemoteRelease, Actor: a.RequestedBy,
		Slot: uint(max(a.Slot, 0)), Reason: a.Reason, Detail: detail}})
	if err != nil {
		answer(keycab.RemoteOutcome{})
		return
	}
	if err := c.release(name); err != nil {
		c.log.Warn("remote release failed", "lock", name, "err", err)
		refuse(what + " did not open: " + err.Error())
		return
	}
	c.remoteUntil[name] = c.released[name]
	if c.s == nil { // nobody at the screen: say what opened, for as long as it is open
		c.setStep(Message, c.cfg.UnlockFor, Screen{Title: c.tr().T("screen.opened_by_hq"), Message: opened + ": " + a.Reason})
	}
	answer(keycab.RemoteOutcome{Outcome: keycab.RemoteDone, LogIndex: idx})
}

// remoteFob enrols a key set's replacement fob (HQ issued its token and
// revoked the old ones; the next bundle carries the same).
func (c *Controller) remoteFob(ctx context.Context, a keycab.RemoteAction, detail map[string]string, refuse func(string), answer func(keycab.RemoteOutcome)) {
	if a.Token == "" {
		refuse("replace_fob carries no token")
		return
	}
	// The new label in, the old ones out, and the entry, at once.
	idx, err := c.db.ReplaceToken(ctx, a.KeySetID, a.Token, &audit.Event{Kind: keycab.EventRemoteDone, Actor: a.RequestedBy, KeySet: a.KeySetID,
		Reason: a.Reason, Detail: detail})
	if keycab.ErrorCode(err) == keycab.ECONFLICT {
		refuse(keycab.ErrorMessage(err))
		return
	} else if err != nil {
		c.log.Error("replacement fob not recorded", "action", a.ID, "err", err)
		c.fault(err)
		answer(keycab.RemoteOutcome{})
		return
	}
	c.reload(ctx)
	answer(keycab.RemoteOutcome{Outcome: keycab.RemoteDone, LogIndex: idx})
}
