package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// Touchscreen changes (sync/wire minor version 2; a badge's value beside
// the push from minor 8: linkedBadge). An admin.change entry of
// a kiosk's log (a key fob enrolled, a badge linked, a slot mapped at its
// touchscreen) is applied in the push transaction that stores it, as the
// admin who made it would have made it on the dashboard: the transaction's
// principal becomes that member for the change, with the dashboard's
// checks (manageKeySet, managedMember, setSlot's), and the change must
// concern the kiosk's own site and cabinet.
//
// A change that cannot be applied is refused, never an error of the push:
// the entry is signed and already in the kiosk's tree, so refusing the push
// would stop the kiosk's log from syncing for good. A refusal is one row of
// kiosk_refusals and one kiosk.change.refused entry of the admin log (with
// what HQ holds as before and what the kiosk asked as after), and the
// kiosk's next bundle lists it (keycab.Config.Refused). Every change is
// checked whole before its first write, so none is applied halfway.
//
// Conflicts end so:
//   - a badge or label HQ already holds for the same member or key set:
//     nothing to do (a resend, or the same link made at both);
//   - a badge or label HQ holds for another member or key set, or has
//     revoked: refused. The first link HQ applied wins, whether it was made
//     on the dashboard or pushed by a kiosk (HQ's AddBadge refuses a badge
//     a kiosk linked first the same way);
//   - a key set or member HQ deleted, or one outside the kiosk's site, a
//     slot HQ does not have, a key set homed in another cabinet: refused;
//   - a slot mapped to a key set another slot of the cabinet homes: the
//     key set moves, as it does at the kiosk;
//   - an admin HQ does not know (another organisation's member, removed,
//     disabled) or whose role may not make the change at HQ (a contractor,
//     a site manager of another site): refused.

// applyKioskChange applies or refuses the admin.change event e of the
// principal kiosk. It fails only for HQ's own failures.
func (t *tx) applyKioskChange(ctx context.Context, e Event) error {
	if e.Entry == nil {
		return nil // not decoded by the caller: history only
	}
	change := e.Entry.Detail["change"]
	if change == keycab.ChangeRefused {
		return nil // the kiosk's record of a refusal of HQ's
	}
	if !keycab.ValidText(change) {
		change = strconv.Quote(change)
	}
	before, after, err := t.kioskChange(ctx, e, change)
	if _, err := t.exec(ctx, "UPDATE kiosks SET changes_through = $1 WHERE org_id = $2 AND id = $3 AND changes_through < $1",
		e.LogIndex+1, t.org(), t.p.kiosk); err != nil {
		return err
	}
	switch keycab.ErrorCode(err) {
	case "":
		return nil
	case keycab.EINTERNAL:
		return err
	}
	reason := keycab.ErrorMessage(err)
	if _, err := t.exec(ctx, `INSERT INTO kiosk_refusals (org_id, kiosk_id, log_index, change, reason, at_us)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, kiosk_id, log_index) DO NOTHING`,
		t.org(), t.p.kiosk, e.LogIndex, change, reason, us(t.now)); err != nil {
		return err
	}
	detail, err := json.Marshal(map[string]any{"index": e.LogIndex, "change": change, "admin": e.ActorID,
		"reason": reason, "before": before, "after": after})
	if err != nil {
		return err
	}
	return t.logAction(ctx, "kiosk.change.refused", t.p.kiosk, string(detail))
}

// kioskChange applies one change as its admin. It returns what HQ held and
// what the kiosk asked, for a refusal, and a keycab error for a refusal.
func (t *tx) kioskChange(ctx context.Context, e Event, change string) (before, after string, err error) {
	d := e.Entry.Detail
	kiosk := t.p
	defer func() { t.p = kiosk }()
	switch change {
	case keycab.ChangeTokenEnrolled:
		after = "label " + d["token_hash"] + " on key set " + e.KeySetID
	case keycab.ChangeBadgeLinked:
		// Never the hash: the admin log is no place for a badge.
		after = d["badge_kind"] + " badge of member " + d["member"]
	case keycab.ChangeSlotMapped:
		after = "slot " + d["slot"] + " homes key set " + e.KeySetID
	default:
		return "", "", invalid("unknown touchscreen change %q", change)
	}
	for _, k := range []string{"member", "token_hash", "badge_hash", audit.BadgeRefKey, "badge_kind", "slot"} {
		if !keycab.ValidText(d[k]) {
			return "", after, invalid("%s is not text HQ can store", k)
		}
	}
	if e.ActorID == "" {
		return "", after, invalid("the change names no admin")
	}
	admin, err := t.loadPrincipal(ctx, MemberScope(t.org(), e.ActorID))
	if err != nil {
		if keycab.ErrorCode(err) == keycab.EUNAUTHORIZED {
			err = forbidden("admin %q is not an active member of the organisation", e.ActorID)
		}
		return "", after, err
	}
	t.p = admin
	at := fmt.Sprintf("at kiosk %s, entry %d", kiosk.kiosk, e.LogIndex)
	switch change {
	case keycab.ChangeTokenEnrolled:
		hash, err := hexHash(d["token_hash"], "token_hash")
		if err != nil {
			return "", after, err
		}
		if err := t.manageKeySet(ctx, e.KeySetID, "enrolling a key fob"); err != nil {
			return "no key set " + e.KeySetID + " the admin may change", after, err
		}
		if k, err := t.keySet(ctx, e.KeySetID); err != nil {
			return "", after, err
		} else if k.SiteID != kiosk.site {
			return "key set " + k.ID + " at site " + k.SiteID, after, forbidden("key set %s is not at the kiosk's site", k.ID)
		}
		if before, held, err := t.heldAs(ctx, "SELECT key_set_id, revoked_us FROM qr_tokens WHERE org_id = $1 AND hash = $2", hash, e.KeySetID, "label", "key set"); held || err != nil {
			return before, after, err
		}
		if _, err := t.exec(ctx, `INSERT INTO qr_tokens (org_id, id, key_set_id, hash, issued_us, kiosk_id, kiosk_index) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.org(), newID("tok"), e.KeySetID, hash, us(t.now), kiosk.kiosk, e.LogIndex); err != nil {
			return "", "", err
		}
		return "", "", t.logAction(ctx, "token.enrol", e.KeySetID, at)
	case keycab.ChangeSlotMapped:
		before, err := t.mapSlot(ctx, kiosk.cabinet, d["slot"], e.KeySetID)
		if err != nil {
			return before, after, err
		}
		return "", "", t.logAction(ctx, "slot.set", kiosk.cabinet, "slot "+d["slot"]+" "+at)
	default: // keycab.ChangeBadgeLinked
		hash, err := t.linkedBadge(e)
		if err != nil {
			return "", after, err
		}
		kind := keycab.BadgeKind(d["badge_kind"])
		if kind != keycab.BadgeRFID && kind != keycab.BadgeQR {
			return "", after, invalid("unknown badge kind %q", string(kind))
		}
		m, err := t.managedMember(ctx, d["member"], "linking a badge")
		if err != nil {
			return "no member " + d["member"] + " the admin may change", after, err
		}
		if !m.AtSite(kiosk.site) || m.Disabled || !m.ErasedAt.IsZero() {
			return "member " + m.ID + " not at the kiosk's site", after, forbidden("member %s does not use this kiosk", m.ID)
		}
		if before, held, err := t.heldAs(ctx, "SELECT member_id, revoked_us FROM badges WHERE org_id = $1 AND hash = $2", hash, m.ID, "badge", "member"); held || err != nil {
			return before, after, err
		}
		if _, err := t.exec(ctx, `INSERT INTO badges (org_id, hash, member_id, kind, created_us, kiosk_id, kiosk_index) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.org(), hash, m.ID, string(kind), us(t.now), kiosk.kiosk, e.LogIndex); err != nil {
			return "", "", err
		}
		return "", "", t.logAction(ctx, "badge.add", m.ID, string(kind)+" "+at)
	}
}

// linkedBadge returns the badge hash a badge.linked change links: from
// sync/wire minor 8 the value that came beside the push, checked against
// the entry's reference (RecordTexts), before it the entry's own
// badge_hash. A reference whose value did not come (erased at the kiosk
// before the push) is refused.
func (t *tx) linkedBadge(e Event) ([]byte, error) {
	d := e.Entry.Detail
	if _, ok := d[audit.BadgeRefKey]; !ok {
		return hexHash(d["badge_hash"], "badge_hash")
	}
	v, ok := t.badges[e.LogIndex]
	if !ok {
		return nil, invalid("the badge's value did not come with its entry (erased at the kiosk before the push)")
	}
	return hexHash(v, "the badge value")
}

// kioskNameOf is the column that names the kiosk (k, joined) whose
// touchscreen made row alias's badge or token: its name, else its id, else
// empty for one made at HQ.
func kioskNameOf(alias string) string {
	return "coalesce(nullif(k.name, ''), " + alias + ".kiosk_id)"
}

// mapSlot makes slot number (text) of cabinet home key set keySetID (none
// if empty) as the principal, moving the key set from another slot of the
// cabinet; it returns what the slot homed, for a refusal. Everything is
// checked before the first write.
func (t *tx) mapSlot(ctx context.Context, cabinetID, number, keySetID string) (string, error) {
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 {
		return "", invalid("slot %q is not a slot number", number)
	}
	c, err := t.cabinet(ctx, cabinetID)
	if err != nil {
		return "", err
	}
	if err := t.p.mustWrite("mapping a slot"); err != nil {
		return "", err
	}
	if !t.p.managesSite(c.SiteID) {
		return "", forbidden("mapping a slot needs an owner, admin or the site's manager")
	}
	slots, err := t.slots(ctx, cabinetID)
	if err != nil {
		return "", err
	}
	var target, from *keycab.Slot
	for i := range slots {
		if slots[i].Number == n {
			target = &slots[i]
		}
		if keySetID != "" && slots[i].KeySetID == keySetID {
			from = &slots[i]
		}
	}
	if target == nil {
		return "no " + keycab.SlotName(n), keycab.Errorf(keycab.ENOTFOUND, "%s is not one of the cabinet's at HQ", keycab.SlotName(n))
	}
	before := keycab.SlotName(n) + " homes key set " + target.KeySetID
	if target.KeySetID == keySetID {
		return "", nil
	}
	if keySetID != "" {
		k, err := t.keySet(ctx, keySetID)
		if err != nil {
			return before, err
		}
		if k.SiteID != c.SiteID {
			return before, forbidden("key set %s is not at the kiosk's site", k.ID)
		}
		var other string
		err = t.queryRow(ctx, "SELECT cabinet_id FROM slots WHERE org_id = $1 AND key_set_id = $2 AND cabinet_id <> $3", t.org(), keySetID, cabinetID).Scan(&other)
		if err == nil {
			return before, keycab.Errorf(keycab.ECONFLICT, "key set %s is homed in cabinet %s", keySetID, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return before, err
		}
	}
	if from != nil {
		cleared := *from
		cleared.KeySetID = ""
		if err := t.setSlot(ctx, cleared); err != nil {
			return before, err
		}
	}
	sl := *target
	sl.KeySetID = keySetID
	return before, t.setSlot(ctx, sl)
}

// heldAs looks a badge or label's hash up with q (its owner and revocation
// time): held and no error when HQ holds it for owner already; held and a
// conflict (with what HQ holds) when HQ revoked it or gave it to another;
// not held when HQ has no such row.
func (t *tx) heldAs(ctx context.Context, q string, hash []byte, owner, what, ownerKind string) (before string, held bool, err error) {
	var other string
	var revoked int64
	err = t.queryRow(ctx, q, t.org(), hash).Scan(&other, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", true, err
	case revoked != 0:
		return what + " revoked at HQ", true, keycab.Errorf(keycab.ECONFLICT, "that %s was revoked at HQ", what)
	case other != owner:
		return what + " of " + ownerKind + " " + other, true, keycab.Errorf(keycab.ECONFLICT, "that %s already belongs to %s %s", what, ownerKind, other)
	}
	return "", true, nil
}

// hexHash decodes a SHA-256-sized hash given in hex.
func hexHash(s, what string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, invalid("%s is not a hex SHA-256 hash", what)
	}
	return b, nil
}

// kioskChanges fills the touchscreen part of the principal kiosk's config:
// ChangesThrough and the newest refusals, oldest first.
func (t *tx) kioskChanges(ctx context.Context, cfg *keycab.Config) error {
	if err := t.queryRow(ctx, "SELECT changes_through FROM kiosks WHERE org_id = $1 AND id = $2", t.org(), t.p.kiosk).Scan(&cfg.ChangesThrough); err != nil {
		return err
	}
	rows, err := t.query(ctx, `SELECT log_index, change, reason FROM kiosk_refusals WHERE org_id = $1 AND kiosk_id = $2
		ORDER BY log_index DESC LIMIT 100`, t.org(), t.p.kiosk)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r keycab.Refusal
		if err := rows.Scan(&r.Index, &r.Change, &r.Reason); err != nil {
			return err
		}
		cfg.Refused = append([]keycab.Refusal{r}, cfg.Refused...)
	}
	return rows.Err()
}

// KioskRefusal is a touchscreen change HQ refused.
type KioskRefusal struct {
	keycab.Refusal
	KioskID string
	At      time.Time
}

// ListKioskRefusals returns the touchscreen changes HQ refused from a
// kiosk, newest first (who may see the kiosk's log).
func (s *KioskLogs) ListKioskRefusals(ctx context.Context, sc Scope, kioskID string) ([]KioskRefusal, error) {
	var out []KioskRefusal
	err := s.store().read(ctx, "list refusals of kiosk "+kioskID, sc, func(ctx context.Context, t *tx) error {
		if err := t.seesKiosk(ctx, kioskID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT log_index, change, reason, at_us FROM kiosk_refusals WHERE org_id = $1 AND kiosk_id = $2
			ORDER BY log_index DESC LIMIT 1000`, t.org(), kioskID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := KioskRefusal{KioskID: kioskID}
			var at int64
			if err := rows.Scan(&r.Index, &r.Change, &r.Reason, &at); err != nil {
				return err
			}
			r.At = fromUS(at)
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}
