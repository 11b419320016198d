package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/sync/wire"
)

// SetPassSigner gives the store HQ's config key, which signs offline
// passes as it signs config bundles (the key every kiosk pinned at
// enrolment); without it no pass can be issued or printed. Call it before
// the store serves.
func (s *Store) SetPassSigner(signer note.Signer) { s.passSigner = signer }

// MaxPassesListed bounds ListPasses.
const MaxPassesListed = 500

// IssuePass issues an offline pass (keycab.Pass) to p.MemberID for
// p.KeySetIDs and [p.From, p.Until) and returns it with its signed code
// (wire.SignPass). Owners and admins may issue one for any key set, a site
// manager for key sets of the sites they manage. The holder must be an
// enabled member of the organisation with the contractor role whose sites
// include every key set's (so that the kiosks there know them); the window
// must end in the future. It writes an admin-log entry (pass.issue) with
// what the pass allows.
func (s *Store) IssuePass(ctx context.Context, sc Scope, p keycab.Pass) (keycab.Pass, string, error) {
	if s.passSigner == nil {
		return keycab.Pass{}, "", keycab.Errorf(keycab.EUNAVAILABLE, "this HQ has no key to sign passes with")
	}
	p.From, p.Until = p.From.Truncate(time.Second).UTC(), p.Until.Truncate(time.Second).UTC()
	var code string
	err := s.write(ctx, "issue pass", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("a pass"); err != nil {
			return err
		}
		if !t.p.isAdmin() && t.p.role != keycab.RoleSiteManager {
			return forbidden("a pass needs an owner, admin or site manager")
		}
		if err := p.Validate(); err != nil {
			return err
		}
		if !p.Until.After(t.now) {
			return invalid("pass: not_after is in the past")
		}
		m, err := t.memberRow(ctx, p.MemberID)
		if err != nil {
			return err
		}
		if m.Role != keycab.RoleContractor {
			return invalid("pass: %s is a %s; passes are for contractors", p.MemberID, keycab.RoleWordsIn(keycab.English, m.Role))
		}
		if m.Disabled || !m.ErasedAt.IsZero() {
			return invalid("pass: %s is disabled", p.MemberID)
		}
		for _, id := range p.KeySetIDs {
			k, err := t.keySet(ctx, id)
			if err != nil {
				return err
			}
			if !t.p.managesSite(k.SiteID) {
				return forbidden("a pass for %s needs an owner, admin or the manager of its site", k.Label)
			}
			if !m.AtSite(k.SiteID) {
				return invalid("pass: %s does not work at the site of %s (add the site to the member first)", m.Name, k.Label)
			}
		}
		p.ID, p.OrgID, p.IssuedAt, p.IssuedBy = newID("ps"), t.org(), t.now.Truncate(time.Second), t.p.member
		p.RevokedAt, p.RevokedBy = time.Time{}, ""
		ks, err := json.Marshal(p.KeySetIDs)
		if err != nil {
			return err
		}
		if code, err = wire.SignPass(wire.PassOf(p), s.passSigner); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO passes (org_id, id, member_id, key_set_ids, from_us, until_us, issued_us, issued_by, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			p.OrgID, p.ID, p.MemberID, string(ks), us(p.From), us(p.Until), us(p.IssuedAt), p.IssuedBy, p.Note); err != nil {
			return err
		}
		return t.logAction(ctx, "pass.issue", p.ID, "before: none; after: "+passDetail(p))
	})
	if err != nil {
		return keycab.Pass{}, "", err
	}
	return p, code, nil
}

// passDetail says what a pass allows, for the admin log.
func passDetail(p keycab.Pass) string {
	d := fmt.Sprintf("pass for %s to %s from %s until %s", p.MemberID, strings.Join(p.KeySetIDs, ", "),
		p.From.UTC().Format(time.RFC3339), p.Until.UTC().Format(time.RFC3339))
	if !p.RevokedAt.IsZero() {
		d += ", revoked " + p.RevokedAt.UTC().Format(time.RFC3339)
	}
	return d
}

// RevokePass revokes a pass: the organisation's next bundles list it
// (Config.RevokedPasses) until it expires, and kiosks refuse it. Who may
// issue it may revoke it; a pass revoked already is a conflict. It writes
// an admin-log entry (pass.revoke) with the pass before and after.
func (s *Store) RevokePass(ctx context.Context, sc Scope, id string) (keycab.Pass, error) {
	var p keycab.Pass
	err := s.write(ctx, "revoke pass", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("a pass"); err != nil {
			return err
		}
		if !t.p.isAdmin() && t.p.role != keycab.RoleSiteManager {
			return forbidden("revoking a pass needs an owner, admin or site manager")
		}
		var err error
		if p, err = t.pass(ctx, id); err != nil {
			return err
		}
		if !t.managesPass(ctx, p) {
			return forbidden("revoking this pass needs an owner, admin or the manager of its key sets' sites")
		}
		if !p.RevokedAt.IsZero() {
			return keycab.Errorf(keycab.ECONFLICT, "pass %s was revoked already", id)
		}
		before := passDetail(p)
		p.RevokedAt, p.RevokedBy = t.now, t.p.member
		if _, err := t.exec(ctx, "UPDATE passes SET revoked_us = $1, revoked_by = $2 WHERE org_id = $3 AND id = $4 AND revoked_us = 0",
			us(p.RevokedAt), p.RevokedBy, t.org(), id); err != nil {
			return err
		}
		return t.logAction(ctx, "pass.revoke", id, "before: "+before+"; after: "+passDetail(p))
	})
	return p, err
}

// PassCode returns a pass and its signed code again, to print or mail it:
// whoever may revoke it. A revoked or expired pass has none (ECONFLICT).
func (s *Store) PassCode(ctx context.Context, sc Scope, id string) (keycab.Pass, string, error) {
	if s.passSigner == nil {
		return keycab.Pass{}, "", keycab.Errorf(keycab.EUNAVAILABLE, "this HQ has no key to sign passes with")
	}
	var p keycab.Pass
	err := s.read(ctx, "read pass", sc, func(ctx context.Context, t *tx) error {
		if !t.p.isAdmin() && t.p.role != keycab.RoleSiteManager {
			return forbidden("a pass's code is for owners, admins and site managers")
		}
		var err error
		if p, err = t.pass(ctx, id); err != nil {
			return err
		}
		if !t.managesPass(ctx, p) {
			return forbidden("this pass's code is for owners, admins and the manager of its key sets' sites")
		}
		switch {
		case !p.RevokedAt.IsZero():
			return keycab.Errorf(keycab.ECONFLICT, "pass %s is revoked", id)
		case !p.Until.After(t.now):
			return keycab.Errorf(keycab.ECONFLICT, "pass %s has expired", id)
		}
		return nil
	})
	if err != nil {
		return keycab.Pass{}, "", err
	}
	code, err := wire.SignPass(wire.PassOf(p), s.passSigner)
	return p, code, err
}

// ListPasses returns the organisation's passes, newest first, at most
// limit (zero: 100): owners, admins and auditors see all, site managers
// those of their sites' key sets.
func (s *Store) ListPasses(ctx context.Context, sc Scope, limit int) ([]keycab.Pass, error) {
	if limit <= 0 || limit > MaxPassesListed {
		limit = 100
	}
	var out []keycab.Pass
	err := s.read(ctx, "list passes", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("passes"); err != nil {
			return err
		}
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("passes are for owners, admins, site managers and auditors")
		}
		all, err := t.passes(ctx, "", limit)
		if err != nil {
			return err
		}
		for _, p := range all {
			if t.p.readsAll() || t.managesPass(ctx, p) {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// GetPass returns one pass of the organisation, to those ListPasses shows
// it to (not found otherwise), however long ago it was issued.
func (s *Store) GetPass(ctx context.Context, sc Scope, id string) (keycab.Pass, error) {
	var out keycab.Pass
	err := s.read(ctx, "get pass "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("passes"); err != nil {
			return err
		}
		if !t.p.readsAll() && t.p.role != keycab.RoleSiteManager {
			return forbidden("passes are for owners, admins, site managers and auditors")
		}
		p, err := t.pass(ctx, id)
		if err != nil {
			return err
		}
		if !t.p.readsAll() && !t.managesPass(ctx, p) {
			return notFound("pass", id)
		}
		out = p
		return nil
	})
	return out, err
}

// pass reads one pass of the organisation, or not found.
func (t *tx) pass(ctx context.Context, id string) (keycab.Pass, error) {
	ps, err := t.passes(ctx, id, 1)
	if err != nil {
		return keycab.Pass{}, err
	}
	if len(ps) == 0 {
		return keycab.Pass{}, notFound("pass", id)
	}
	return ps[0], nil
}

// managesPass reports whether the principal manages the sites of every
// key set of p (owners and admins: always). A key set deleted since does
// not count against it.
func (t *tx) managesPass(ctx context.Context, p keycab.Pass) bool {
	if t.p.isAdmin() {
		return true
	}
	for _, id := range p.KeySetIDs {
		var site string
		err := t.queryRow(ctx, "SELECT site_id FROM key_sets WHERE org_id = $1 AND id = $2", t.org(), id).Scan(&site)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil || !t.p.managesSite(site) {
			return false
		}
	}
	return true
}

// passes reads the organisation's passes, newest first (one when id is
// set).
func (t *tx) passes(ctx context.Context, id string, limit int) ([]keycab.Pass, error) {
	q := `SELECT id, member_id, key_set_ids, from_us, until_us, issued_us, issued_by, note, revoked_us, revoked_by
		FROM passes WHERE org_id = $1 ORDER BY issued_us DESC, id DESC LIMIT $2`
	args := []any{t.org(), limit}
	if id != "" {
		q = `SELECT id, member_id, key_set_ids, from_us, until_us, issued_us, issued_by, note, revoked_us, revoked_by
		FROM passes WHERE org_id = $1 AND id = $2`
		args = []any{t.org(), id}
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.Pass
	for rows.Next() {
		p := keycab.Pass{OrgID: t.org()}
		var ks string
		var from, until, issued, revoked int64
		if err := rows.Scan(&p.ID, &p.MemberID, &ks, &from, &until, &issued, &p.IssuedBy, &p.Note, &revoked, &p.RevokedBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(ks), &p.KeySetIDs); err != nil {
			return nil, fmt.Errorf("pass %s key sets: %w", p.ID, err)
		}
		p.From, p.Until, p.IssuedAt, p.RevokedAt = fromUS(from), fromUS(until), fromUS(issued), fromUS(revoked)
		out = append(out, p)
	}
	return out, rows.Err()
}

// RevokedPassesKept is how long after its window ends a revoked pass is
// still listed in the bundle: a kiosk judges windows by its own clock,
// and one running slow would otherwise take a revoked pass back once HQ
// stopped listing it.
const RevokedPassesKept = 7 * 24 * time.Hour

// kioskRevokedPasses fills in a bundle's revoked passes: the
// organisation's passes revoked whose window ended less than
// RevokedPassesKept ago or has not ended, by id.
func (t *tx) kioskRevokedPasses(ctx context.Context, cfg *keycab.Config) error {
	ids, err := t.strings(ctx, "SELECT id FROM passes WHERE org_id = $1 AND revoked_us <> 0 AND until_us > $2 ORDER BY id", t.org(), us(t.now.Add(-RevokedPassesKept)))
	if err != nil {
		return err
	}
	cfg.RevokedPasses = slices.Clip(ids)
	return nil
}

// Now is the store's clock (Options.Now), by which it judges passes'
// windows.
func (s *Store) Now() time.Time { return s.now() }
