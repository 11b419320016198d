package kiosk

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/wire"
)

// readPassKey reads the key passes are checked with: HQ's config key, as
// the kiosk pinned it at enrolment for bundles ("" before enrolment).
func (c *Controller) readPassKey(ctx context.Context) {
	p, err := c.db.HQPeer(ctx)
	if err != nil {
		if keycab.ErrorCode(err) != keycab.ENOTFOUND {
			c.log.Error("read the pinned HQ key: passes are refused until it reads", "err", err)
		}
		c.passKey = ""
		return
	}
	c.passKey = p.ConfigKey
}

// passRefusal is why a pass was refused: the reason logged (plain
// English words, Detail["reason"]) and the screen's message id and
// arguments in the member's language.
type passRefusal struct {
	reason string
	msg    string
	args   []any
}

// onPass handles a scanned offline pass (wire.OpenPass): checked offline
// against the pinned HQ key, the organisation, the bundle's revocations,
// its window, its holder and the pass cool-down, it opens a session in
// which the holder may take only the pass's key sets. Every use and every
// refusal is logged (pass.used, pass.refused).
func (c *Controller) onPass(ctx context.Context, b badge.Badge) {
	if c.emergency || c.s != nil {
		return // a pass mid-flow does not start another session, nor confirm a release
	}
	now := c.clock.Now()
	detail := map[string]string{"reader": b.Source}
	p, m, ref := c.checkPass(ctx, b.Code)
	if p != nil {
		detail[keycab.PassID] = p.ID
	}
	if ref != nil {
		detail["reason"] = ref.reason
		actor := ""
		if m != nil {
			actor = m.ID
		}
		if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventPassRefused, Actor: actor, Detail: detail}}); err != nil {
			return // out of service
		}
		c.idle(c.tr().T("screen.pass_refused"), c.tr().T(ref.msg, ref.args...))
		return
	}
	detail["via"] = b.Source
	detail[keycab.PassKeySets] = strings.Join(p.KeySetIDs, ",")
	detail[keycab.PassUntil] = strconv.FormatInt(p.Until.Unix(), 10)
	// The use is kept for the cool-down before it counts: a pass whose use
	// cannot be kept opens nothing, or the cool-down would not hold.
	if err := c.db.NotePassUse(ctx, p.ID, now); err != nil {
		c.log.Error("pass use not kept for the cool-down", "pass", p.ID, "err", err)
		c.idle(c.tr().T("screen.pass_refused"), c.tr().T("screen.pass_try_again"))
		return
	}
	if _, err := c.record(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventPassUsed, Actor: m.ID, Detail: detail}}); err != nil {
		return // out of service: no greeting, no session
	}
	c.openSession(&session{member: m, pass: p})
}

// PassClockSkew is how far the kiosk's clock may be behind the time HQ
// issued its config before passes are refused (see checkPass).
const PassClockSkew = 2 * time.Minute

// checkPass verifies a pass code and decides whether it opens a session
// now. It returns the pass once its signature verified, its holder once
// known, and the refusal if any.
func (c *Controller) checkPass(ctx context.Context, code string) (*keycab.Pass, *keycab.Member, *passRefusal) {
	now := c.clock.Now()
	if c.passKey == "" {
		return nil, nil, &passRefusal{reason: "this kiosk is not enrolled with HQ and cannot check passes", msg: "screen.pass_no_key"}
	}
	wp, err := wire.OpenPass(code, c.passKey)
	if err != nil {
		return nil, nil, &passRefusal{reason: keycab.ErrorMessage(err), msg: "screen.pass_forged"}
	}
	p := wp.Pass()
	l := c.tr()
	switch {
	case c.conf.Version > 1 && now.Add(PassClockSkew).Before(time.UnixMicro(c.conf.Version)):
		// HQ's config versions are its clock's microseconds when it
		// issued them: a kiosk clock behind the bundle it applied has
		// been set back (or never set), and a window judged by it would
		// let an ended pass in again.
		return &p, nil, &passRefusal{reason: "the kiosk's clock is behind the config HQ issued; passes wait until it is right", msg: "screen.pass_clock"}
	case p.OrgID != c.conf.Org.ID:
		return &p, nil, &passRefusal{reason: "the pass is for another organisation", msg: "screen.pass_other_org"}
	case slices.Contains(c.conf.RevokedPasses, p.ID):
		return &p, nil, &passRefusal{reason: "the pass was revoked at HQ", msg: "screen.pass_revoked"}
	case now.Before(p.From):
		return &p, nil, &passRefusal{reason: "the pass is not valid yet", msg: "screen.pass_not_yet", args: []any{"From", l.Short(p.From, now, c.loc)}}
	case !now.Before(p.Until):
		return &p, nil, &passRefusal{reason: "the pass has expired", msg: "screen.pass_ended", args: []any{"Until", l.Short(p.Until, now, c.loc)}}
	}
	m := c.member(p.MemberID)
	if m == nil || m.Disabled || !m.ErasedAt.IsZero() {
		return &p, nil, &passRefusal{reason: "the pass holder has no access here", msg: "screen.pass_holder"}
	}
	if m.Role != keycab.RoleContractor {
		// Passes are for contractors; one whose holder has since been
		// given another role (an admin's, say) is not a bearer badge
		// for it.
		return &p, m, &passRefusal{reason: "the pass holder is no longer a contractor", msg: "screen.pass_holder"}
	}
	if c.isLockedOut(m) {
		return &p, m, &passRefusal{reason: "the pass holder is locked out", msg: "screen.locked_out_msg"}
	}
	here := false
	for _, id := range p.KeySetIDs {
		here = here || c.keySet(id) != nil
	}
	if !here {
		return &p, m, &passRefusal{reason: "the pass is for no key set in this cabinet", msg: "screen.pass_no_keys"}
	}
	last, err := c.db.PassUsedAt(ctx, p.ID)
	if err != nil {
		return &p, m, &passRefusal{reason: "the pass cool-down could not be read", msg: "screen.pass_try_again"}
	}
	if !last.IsZero() && now.Before(last.Add(keycab.PassCoolDown)) { // a clock stepped back too
		wait := min(last.Add(keycab.PassCoolDown).Sub(now), keycab.PassCoolDown)
		return &p, m, &passRefusal{reason: "the pass was used " + strconv.Itoa(int(now.Sub(last).Seconds())) + " s ago (cool-down " +
			keycab.PassCoolDown.String() + ")", msg: "screen.pass_cool_down", args: []any{"Wait", keycab.DurationIn(l, wait.Round(1e9))}}
	}
	return &p, m, nil
}

// decideTake is keycab.DecideTake for m and k, and in a session opened by
// a pass, for its holder, only the pass's key sets within its window.
func (c *Controller) decideTake(m *keycab.Member, k *keycab.KeySet) keycab.Decision {
	if p := c.sessionPass(m); p != nil {
		now := c.clock.Now()
		switch {
		case !p.Covers(k.ID):
			return keycab.Decision{Reason: c.tr().T("screen.pass_not_for", "Label", k.Label)}
		case !p.ValidAt(now):
			return keycab.Decision{Reason: c.tr().T("screen.pass_ended", "Until", c.tr().Short(p.Until, now, c.loc))}
		case slices.Contains(c.conf.RevokedPasses, p.ID):
			return keycab.Decision{Reason: c.tr().T("screen.pass_revoked")}
		}
	}
	return keycab.DecideTake(c.facts(m, k))
}

// sessionPass is the pass that opened the session, when m is its holder.
func (c *Controller) sessionPass(m *keycab.Member) *keycab.Pass {
	if c.s == nil || c.s.pass == nil || m == nil || c.s.member == nil || m.ID != c.s.member.ID {
		return nil
	}
	return c.s.pass
}
