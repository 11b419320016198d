package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"keycab.dev/keycab"
)

// CreateRemoteAction asks kiosk a.KioskID to carry out a remote action
// (keycab.RemoteAction): owners, admins, and the managers of the kiosk's
// site. A kiosk of another organisation, or none, is not found; a revoked
// kiosk is refused (ECONFLICT). Slot, key set and member must exist (the
// slot in the kiosk's cabinet). replace_fob rotates the key set's tokens
// in the same transaction and puts the new token's text in the action
// (the next config bundle carries it too). The action expires after
// keycab.RemoteReleaseTTL for a release and keycab.RemoteActionTTL
// otherwise. It writes an admin-log entry ("remote.<kind>").
func (s *Store) CreateRemoteAction(ctx context.Context, sc Scope, a keycab.RemoteAction) (keycab.RemoteAction, error) {
	err := s.write(ctx, "create remote action", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("a remote action"); err != nil {
			return err
		}
		if !t.p.isAdmin() && t.p.role != keycab.RoleSiteManager {
			return forbidden("a remote action needs an owner, admin or the site's manager")
		}
		if err := a.Validate(); err != nil {
			return err
		}
		k, site, err := t.remoteKiosk(ctx, a.KioskID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(site) {
			return forbidden("a remote action needs an owner, admin or the site's manager")
		}
		if !k.RevokedAt.IsZero() {
			return keycab.Errorf(keycab.ECONFLICT, "kiosk %s is revoked", a.KioskID)
		}
		switch {
		case a.Kind == keycab.RemoteReleaseSlot:
			var n int
			if err := t.queryRow(ctx, "SELECT count(*) FROM slots WHERE org_id = $1 AND cabinet_id = $2 AND number = $3",
				t.org(), k.CabinetID, a.Slot).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return notFound("slot", fmt.Sprint(a.Slot))
			}
		case a.KeySetID != "":
			ks, err := t.keySet(ctx, a.KeySetID)
			if err != nil {
				return err
			}
			if ks.SiteID != site {
				return invalid("key set %s is not at the kiosk's site", a.KeySetID)
			}
			if a.Kind == keycab.RemoteHandOver {
				// The new holder must be one who may take the key set
				// now (role, site, groups, job, schedule, limits),
				// as at the kiosk.
				m, err := t.member(ctx, a.MemberID)
				if err != nil {
					return err
				}
				d, err := t.decideTake(ctx, m, ks, true)
				if err != nil {
					return err
				}
				if !d.Allowed {
					return forbidden("%s may not hold %s: %s", a.MemberID, ks.Label, d.Reason)
				}
			}
		}
		// A replacement fob's token is kept only until its action is
		// answered or expires: forget those of expired actions now.
		if _, err := t.exec(ctx, "UPDATE remote_actions SET token = '' WHERE org_id = $1 AND token <> '' AND expires_us <= $2", t.org(), us(t.now)); err != nil {
			return err
		}
		a.Token = ""
		if a.Kind == keycab.RemoteReplaceFob {
			if a.Token, _, err = t.issueToken(ctx, a.KeySetID, true); err != nil {
				return err
			}
		}
		a.ID, a.OrgID, a.RequestedBy, a.RequestedAt = newID("ra"), t.org(), t.p.member, t.now
		ttl := keycab.RemoteActionTTL
		if a.Kind.Releases() {
			ttl = keycab.RemoteReleaseTTL
		}
		a.Expires = t.now.Add(ttl)
		a.Outcome, a.Refusal, a.LogIndex, a.DoneAt = keycab.RemotePending, "", -1, time.Time{}
		if _, err := t.exec(ctx, `INSERT INTO remote_actions (org_id, id, kiosk_id, kind, slot, key_set_id, member_id, token, reason,
			requested_by, requested_us, expires_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			a.OrgID, a.ID, a.KioskID, string(a.Kind), a.Slot, a.KeySetID, a.MemberID, a.Token, a.Reason,
			a.RequestedBy, us(a.RequestedAt), us(a.Expires)); err != nil {
			return err
		}
		return t.logAction(ctx, "remote."+string(a.Kind), a.KioskID, remoteDetail(a))
	})
	return a, err
}

// remoteDetail is an action's admin-log detail.
func remoteDetail(a keycab.RemoteAction) string {
	d := a.ID
	switch {
	case a.Slot != 0:
		d += fmt.Sprintf(" slot %d", a.Slot)
	case a.KeySetID != "":
		d += " key set " + a.KeySetID
	}
	if a.MemberID != "" {
		d += " to " + a.MemberID
	}
	if a.Reason != "" {
		d += ": " + a.Reason
	}
	return d
}

// remoteKiosk reads a kiosk of the organisation and its site, whatever
// the principal's site scope (the caller checks it), or not found.
func (t *tx) remoteKiosk(ctx context.Context, id string) (Kiosk, string, error) {
	k := Kiosk{ID: id, OrgID: t.org()}
	var site string
	var revoked int64
	err := t.queryRow(ctx, `SELECT k.cabinet_id, c.site_id, k.revoked_us FROM kiosks k
		JOIN cabinets c ON c.org_id = k.org_id AND c.id = k.cabinet_id
		WHERE k.org_id = $1 AND k.id = $2`, t.org(), id).Scan(&k.CabinetID, &site, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return k, "", notFound("kiosk", id)
	} else if err != nil {
		return k, "", err
	}
	k.RevokedAt = fromUS(revoked)
	return k, site, nil
}

// ListRemoteActions returns a kiosk's remote actions, newest first, at
// most limit (zero: 100), with the kiosk's answers: owners, admins and
// auditors, and the managers of the kiosk's site. A kiosk of another
// organisation is not found.
func (s *Store) ListRemoteActions(ctx context.Context, sc Scope, kioskID string, limit int) ([]keycab.RemoteAction, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []keycab.RemoteAction
	err := s.read(ctx, "list remote actions", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("remote actions"); err != nil {
			return err
		}
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("remote actions are for managers and auditors")
		}
		_, site, err := t.remoteKiosk(ctx, kioskID)
		if err != nil {
			return err
		}
		if !t.p.readsAll() && !t.p.managesSite(site) {
			return forbidden("remote actions are for the managers of the kiosk's site")
		}
		out, err = t.remoteActions(ctx, kioskID, false, limit)
		return err
	})
	return out, err
}

// PendingRemoteActions returns the principal kiosk's actions not yet
// answered and not expired, oldest first. Kiosks only.
func (s *Store) PendingRemoteActions(ctx context.Context, sc Scope) ([]keycab.RemoteAction, error) {
	var out []keycab.RemoteAction
	err := s.read(ctx, "pending remote actions", sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("pending remote actions are for kiosks")
		}
		var err error
		out, err = t.remoteActions(ctx, t.p.kiosk, true, 100)
		return err
	})
	return out, err
}

func (t *tx) remoteActions(ctx context.Context, kioskID string, pending bool, limit int) ([]keycab.RemoteAction, error) {
	q := `SELECT id, kind, slot, key_set_id, member_id, token, reason, requested_by, requested_us, expires_us, outcome, refusal, log_index, done_us
		FROM remote_actions WHERE org_id = $1 AND kiosk_id = $2 ORDER BY requested_us DESC, id DESC LIMIT $3`
	args := []any{t.org(), kioskID, limit}
	if pending {
		q = `SELECT id, kind, slot, key_set_id, member_id, token, reason, requested_by, requested_us, expires_us, outcome, refusal, log_index, done_us
		FROM remote_actions WHERE org_id = $1 AND kiosk_id = $2 AND outcome = '' AND expires_us > $3 ORDER BY requested_us, id LIMIT $4`
		args = []any{t.org(), kioskID, us(t.now), limit}
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.RemoteAction
	for rows.Next() {
		a := keycab.RemoteAction{OrgID: t.org(), KioskID: kioskID}
		var req, exp, done int64
		if err := rows.Scan(&a.ID, &a.Kind, &a.Slot, &a.KeySetID, &a.MemberID, &a.Token, &a.Reason, &a.RequestedBy,
			&req, &exp, &a.Outcome, &a.Refusal, &a.LogIndex, &done); err != nil {
			return nil, err
		}
		a.RequestedAt, a.Expires, a.DoneAt = fromUS(req), fromUS(exp), fromUS(done)
		if !pending {
			a.Token = "" // a fob's token goes to its kiosk only
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AckRemoteAction records the principal kiosk's answer to one of its
// actions: outcome keycab.RemoteDone or keycab.RemoteRefused, why it
// refused, and the log entry that recorded it. The first answer stands: a
// second is a no-op. Another kiosk's action, or none, is not found.
func (s *Store) AckRemoteAction(ctx context.Context, sc Scope, id, outcome, refusal string, logIndex int64) error {
	return s.write(ctx, "ack remote action "+id, sc, func(ctx context.Context, t *tx) error {
		if t.p.role != keycab.RoleKiosk {
			return forbidden("acking a remote action is for kiosks")
		}
		if outcome != keycab.RemoteDone && outcome != keycab.RemoteRefused {
			return invalid("outcome must be done or refused")
		}
		if !keycab.Printable(refusal) {
			return invalid("refusal must be printable UTF-8")
		}
		var have string
		err := t.queryRow(ctx, "SELECT outcome FROM remote_actions WHERE org_id = $1 AND kiosk_id = $2 AND id = $3",
			t.org(), t.p.kiosk, id).Scan(&have)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("remote action", id)
		} else if err != nil {
			return err
		}
		if have != keycab.RemotePending {
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE remote_actions SET outcome = $1, refusal = $2, log_index = $3, done_us = $4, token = ''
			WHERE org_id = $5 AND kiosk_id = $6 AND id = $7 AND outcome = ''`,
			outcome, refusal, logIndex, us(t.now), t.org(), t.p.kiosk, id); err != nil {
			return err
		}
		detail := id + " " + outcome
		if refusal != "" {
			detail += ": " + refusal
		}
		return t.logAction(ctx, "remote.ack", id, detail)
	})
}
