package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// CreateKeySet adds a key set at one of the organisation's sites, within
// the cap on key sets. Owners, admins and the site's managers.
func (s *Store) CreateKeySet(ctx context.Context, sc Scope, k keycab.KeySet) (keycab.KeySet, error) {
	err := s.write(ctx, "create key set", sc, func(ctx context.Context, t *tx) error {
		return t.createKeySet(ctx, &k)
	})
	return k, err
}

// createKeySet adds k as the transaction's principal may (CreateKeySet),
// filling in its id.
func (t *tx) createKeySet(ctx context.Context, k *keycab.KeySet) error {
	if err := t.p.mustWrite("creating a key set"); err != nil {
		return err
	}
	if err := t.sameOrg(k.OrgID); err != nil {
		return err
	}
	if err := t.siteVisible(ctx, k.SiteID); err != nil {
		return err
	}
	if !t.p.managesSite(k.SiteID) {
		return forbidden("creating a key set needs an owner, admin or the site's manager")
	}
	k.ID, k.OrgID, k.Label = newID("ks"), t.org(), strings.TrimSpace(k.Label)
	if k.Label == "" {
		return invalid("a key set needs a label")
	}
	if k.MaxOut < 0 {
		return invalid("a key set's maximum time out cannot be negative")
	}
	if err := t.checkCap(ctx, capKeySets); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO key_sets (org_id, id, site_id, label, sensitive, pin_required, max_out_us, triple_release)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.OrgID, k.ID, k.SiteID, k.Label, k.Sensitive || k.TripleRelease, k.PINRequired, k.MaxOut.Microseconds(), k.TripleRelease); err != nil {
		return err
	}
	return t.logAction(ctx, "key_set.create", k.ID, k.Label)
}

// GetKeySet returns a key set the principal may see: a contractor sees
// only the key sets of their jobs, inside the job's window.
func (s *Store) GetKeySet(ctx context.Context, sc Scope, id string) (keycab.KeySet, error) {
	var k keycab.KeySet
	err := s.read(ctx, "get key set "+id, sc, func(ctx context.Context, t *tx) error {
		var err error
		k, err = t.keySet(ctx, id)
		return err
	})
	return k, err
}

// ListKeySets returns the key sets the principal may see (of one site when
// siteID is set).
func (s *Store) ListKeySets(ctx context.Context, sc Scope, siteID string) ([]keycab.KeySet, error) {
	var out []keycab.KeySet
	err := s.read(ctx, "list key sets", sc, func(ctx context.Context, t *tx) error {
		all, err := t.keySets(ctx, siteID, "")
		if err != nil {
			return err
		}
		for _, k := range all {
			ok, err := t.seesKeySet(ctx, k)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, k)
			}
		}
		return nil
	})
	return out, err
}

func (t *tx) keySets(ctx context.Context, siteID, id string) ([]keycab.KeySet, error) {
	rows, err := t.query(ctx, `SELECT id, site_id, label, sensitive, pin_required, max_out_us, triple_release FROM key_sets
		WHERE org_id = $1 AND ($2 = '' OR site_id = $2) AND ($3 = '' OR id = $3) ORDER BY label, id`, t.org(), siteID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.KeySet
	for rows.Next() {
		k := keycab.KeySet{OrgID: t.org()}
		var maxOut int64
		if err := rows.Scan(&k.ID, &k.SiteID, &k.Label, &k.Sensitive, &k.PINRequired, &maxOut, &k.TripleRelease); err != nil {
			return nil, err
		}
		k.MaxOut = time.Duration(maxOut) * time.Microsecond
		out = append(out, k)
	}
	return out, rows.Err()
}

// keySet reads one key set visible to the principal, or not found.
func (t *tx) keySet(ctx context.Context, id string) (keycab.KeySet, error) {
	ks, err := t.keySets(ctx, "", id)
	if err != nil {
		return keycab.KeySet{}, err
	}
	if len(ks) == 0 {
		return keycab.KeySet{}, notFound("key set", id)
	}
	ok, err := t.seesKeySet(ctx, ks[0])
	if err != nil {
		return keycab.KeySet{}, err
	}
	if !ok {
		return keycab.KeySet{}, notFound("key set", id)
	}
	return ks[0], nil
}

// seesKeySet applies the visibility rule to a key set.
func (t *tx) seesKeySet(ctx context.Context, k keycab.KeySet) (bool, error) {
	if t.p.role != keycab.RoleContractor {
		return t.p.seesSite(k.SiteID), nil
	}
	ks, err := t.contractorKeySets(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range ks {
		if c.ID == k.ID {
			return true, nil
		}
	}
	return false, nil
}

// contractorKeySets returns the key sets of the principal's jobs whose
// window contains now (and, for a site-scoped contractor, at their sites).
func (t *tx) contractorKeySets(ctx context.Context) ([]keycab.KeySet, error) {
	rows, err := t.query(ctx, `SELECT DISTINCT k.id, k.site_id FROM jobs j
		JOIN job_key_sets jk ON jk.org_id = j.org_id AND jk.job_id = j.id
		JOIN key_sets k ON k.org_id = jk.org_id AND k.id = jk.key_set_id
		WHERE j.org_id = $1 AND j.member_id = $2 AND j.from_us <= $3 AND $3 < j.until_us`,
		t.org(), t.p.member, us(t.now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.KeySet
	for rows.Next() {
		var k keycab.KeySet
		if err := rows.Scan(&k.ID, &k.SiteID); err != nil {
			return nil, err
		}
		if t.p.atSite(k.SiteID) {
			out = append(out, k)
		}
	}
	return out, rows.Err()
}

// UpdateKeySet changes a key set's label, flags and maximum time out (not
// its site). Owners, admins and the site's managers.
func (s *Store) UpdateKeySet(ctx context.Context, sc Scope, k keycab.KeySet) error {
	return s.write(ctx, "update key set "+k.ID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("updating a key set"); err != nil {
			return err
		}
		if err := t.sameOrg(k.OrgID); err != nil {
			return err
		}
		old, err := t.keySet(ctx, k.ID)
		if err != nil {
			return err
		}
		if !t.p.managesSite(old.SiteID) {
			return forbidden("updating a key set needs an owner, admin or the site's manager")
		}
		if k.SiteID != "" && k.SiteID != old.SiteID {
			return invalid("a key set cannot move to another site")
		}
		if strings.TrimSpace(k.Label) == "" || k.MaxOut < 0 {
			return invalid("a key set needs a label and a maximum time out of zero or more")
		}
		if k.MaxOut > keycab.MaxMaxOut {
			return invalid("a key set's maximum time out is at most %s", keycab.MaxMaxOut)
		}
		if _, err := t.exec(ctx, `UPDATE key_sets SET label = $1, sensitive = $2, pin_required = $3, max_out_us = $4, triple_release = $5
			WHERE org_id = $6 AND id = $7`, strings.TrimSpace(k.Label), k.Sensitive || k.TripleRelease, k.PINRequired, k.MaxOut.Microseconds(), k.TripleRelease, t.org(), k.ID); err != nil {
			return err
		}
		k.Sensitive = k.Sensitive || k.TripleRelease
		k.SiteID, k.OrgID, k.Label = old.SiteID, old.OrgID, strings.TrimSpace(k.Label)
		return t.logChange(ctx, "key_set.update", k.ID, old, k)
	})
}

// DeleteKeySet removes a key set and its tokens; one that is out, homed
// in a slot, reserved or in a job is in use. Owners, admins and the site's
// managers.
func (s *Store) DeleteKeySet(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete key set "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("deleting a key set"); err != nil {
			return err
		}
		old, err := t.keySet(ctx, id)
		if err != nil {
			return err
		}
		if !t.p.managesSite(old.SiteID) {
			return forbidden("deleting a key set needs an owner, admin or the site's manager")
		}
		if _, err := t.exec(ctx, "DELETE FROM key_sets WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return inUse(err, "the key set")
		}
		return t.logAction(ctx, "key_set.delete", id, "")
	})
}

// Token is a key set's QR token record; the printed text is returned only
// once, by IssueToken and RotateToken, and never stored.
type Token struct {
	ID string
	keycab.QRToken
}

// IssueToken makes the first QR token of a key set and returns its text,
// to be printed on the fob's label. A key set with a valid token must
// rotate it instead (ECONFLICT).
func (s *Store) IssueToken(ctx context.Context, sc Scope, keySetID string) (string, Token, error) {
	return s.issueToken(ctx, "issue token for key set "+keySetID, sc, keySetID, false)
}

// RotateToken revokes a key set's valid tokens and issues a new one.
func (s *Store) RotateToken(ctx context.Context, sc Scope, keySetID string) (string, Token, error) {
	return s.issueToken(ctx, "rotate token of key set "+keySetID, sc, keySetID, true)
}

func (s *Store) issueToken(ctx context.Context, op string, sc Scope, keySetID string, rotate bool) (string, Token, error) {
	var text string
	var tok Token
	err := s.write(ctx, op, sc, func(ctx context.Context, t *tx) error {
		var err error
		text, tok, err = t.issueToken(ctx, keySetID, rotate)
		return err
	})
	if err != nil {
		return "", Token{}, err
	}
	return text, tok, nil
}

// RotateTokens rotates the tokens of several key sets in one transaction:
// all get new tokens (for a label sheet), or none does. Texts are in the
// order of keySetIDs.
func (s *Store) RotateTokens(ctx context.Context, sc Scope, keySetIDs []string) ([]string, []Token, error) {
	var texts []string
	var toks []Token
	err := s.write(ctx, "rotate tokens", sc, func(ctx context.Context, t *tx) error {
		texts, toks = nil, nil
		for _, id := range keySetIDs {
			text, tok, err := t.issueToken(ctx, id, true)
			if err != nil {
				return err
			}
			texts, toks = append(texts, text), append(toks, tok)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return texts, toks, nil
}

// issueToken issues a token of key set keySetID, revoking its valid ones
// first when rotate is set.
func (t *tx) issueToken(ctx context.Context, keySetID string, rotate bool) (string, Token, error) {
	if err := t.manageKeySet(ctx, keySetID, "issuing a token"); err != nil {
		return "", Token{}, err
	}
	if rotate {
		if err := t.revokeTokens(ctx, keySetID); err != nil {
			return "", Token{}, err
		}
	} else {
		var n int
		if err := t.queryRow(ctx, "SELECT count(*) FROM qr_tokens WHERE org_id = $1 AND key_set_id = $2 AND revoked_us = 0",
			t.org(), keySetID).Scan(&n); err != nil {
			return "", Token{}, err
		}
		if n > 0 {
			return "", Token{}, keycab.Errorf(keycab.ECONFLICT, "key set %s has a valid token: rotate it", keySetID)
		}
	}
	text := "kc1." + strings.ToLower(rand.Text())
	tok := Token{ID: newID("tok"), QRToken: keycab.QRToken{KeySetID: keySetID, Hash: keycab.TokenHash(text), IssuedAt: t.now}}
	if _, err := t.exec(ctx, `INSERT INTO qr_tokens (org_id, id, key_set_id, hash, issued_us) VALUES ($1, $2, $3, $4, $5)`,
		t.org(), tok.ID, keySetID, tok.Hash, us(t.now)); err != nil {
		return "", Token{}, err
	}
	action := "token.issue"
	if rotate {
		action = "token.rotate"
	}
	return text, tok, t.logAction(ctx, action, keySetID, tok.ID)
}

// RevokeTokens revokes every valid token of a key set.
func (s *Store) RevokeTokens(ctx context.Context, sc Scope, keySetID string) error {
	return s.write(ctx, "revoke tokens of key set "+keySetID, sc, func(ctx context.Context, t *tx) error {
		if err := t.manageKeySet(ctx, keySetID, "revoking tokens"); err != nil {
			return err
		}
		if err := t.revokeTokens(ctx, keySetID); err != nil {
			return err
		}
		return t.logAction(ctx, "token.revoke", keySetID, "")
	})
}

func (t *tx) revokeTokens(ctx context.Context, keySetID string) error {
	_, err := t.exec(ctx, "UPDATE qr_tokens SET revoked_us = $1 WHERE org_id = $2 AND key_set_id = $3 AND revoked_us = 0",
		us(t.now), t.org(), keySetID)
	return err
}

// manageKeySet checks that the principal may change key set id.
func (t *tx) manageKeySet(ctx context.Context, id, what string) error {
	if err := t.p.mustWrite(what); err != nil {
		return err
	}
	k, err := t.keySet(ctx, id)
	if err != nil {
		return err
	}
	if !t.p.managesSite(k.SiteID) {
		return forbidden("%s needs an owner, admin or the site's manager", what)
	}
	return nil
}

// ListTokens returns a key set's tokens, newest first, each naming the
// kiosk whose touchscreen enrolled it, if one did.
func (s *Store) ListTokens(ctx context.Context, sc Scope, keySetID string) ([]Token, error) {
	var out []Token
	err := s.read(ctx, "list tokens of key set "+keySetID, sc, func(ctx context.Context, t *tx) error {
		if _, err := t.keySet(ctx, keySetID); err != nil {
			return err
		}
		if t.p.role == keycab.RoleStaff || t.p.role == keycab.RoleContractor {
			return forbidden("tokens are for managers, auditors and kiosks")
		}
		rows, err := t.query(ctx, `SELECT q.id, q.hash, q.issued_us, q.revoked_us, `+kioskNameOf("q")+` FROM qr_tokens q
			LEFT JOIN kiosks k ON k.org_id = q.org_id AND k.id = q.kiosk_id
			WHERE q.org_id = $1 AND q.key_set_id = $2 ORDER BY q.issued_us DESC, q.id`, t.org(), keySetID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			tok := Token{QRToken: keycab.QRToken{KeySetID: keySetID}}
			var issued, revoked int64
			if err := rows.Scan(&tok.ID, &tok.Hash, &issued, &revoked, &tok.Kiosk); err != nil {
				return err
			}
			tok.IssuedAt, tok.RevokedAt = fromUS(issued), fromUS(revoked)
			out = append(out, tok)
		}
		return rows.Err()
	})
	return out, err
}

// LookupToken returns the key set a valid token's text names, if the
// principal may see it; a revoked or unknown token is not found.
func (s *Store) LookupToken(ctx context.Context, sc Scope, text string) (keycab.KeySet, error) {
	var k keycab.KeySet
	err := s.read(ctx, "look up token", sc, func(ctx context.Context, t *tx) error {
		var id string
		err := t.queryRow(ctx, "SELECT key_set_id FROM qr_tokens WHERE org_id = $1 AND hash = $2 AND revoked_us = 0",
			t.org(), keycab.TokenHash(text)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return keycab.Errorf(keycab.ENOTFOUND, "token not found")
		} else if err != nil {
			return err
		}
		k, err = t.keySet(ctx, id)
		return err
	})
	return k, err
}

// CheckTake reports whether the principal, a member, may take key set id
// now: their role takes keys, the key set is in their scope (for a
// contractor: one of their jobs', inside the job's window), it is in the
// cabinet, and nobody else holds a reservation covering now.
func (s *Store) CheckTake(ctx context.Context, sc Scope, keySetID string) error {
	return s.read(ctx, "check take of key set "+keySetID, sc, func(ctx context.Context, t *tx) error {
		if !t.p.isPerson() || !t.p.role.CanTakeKeys() {
			return forbidden("%s may not take keys", t.p.role)
		}
		if _, err := t.keySet(ctx, keySetID); err != nil {
			return err
		}
		var n int
		if err := t.queryRow(ctx, "SELECT count(*) FROM custody WHERE org_id = $1 AND key_set_id = $2", t.org(), keySetID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return keycab.Errorf(keycab.ECONFLICT, "key set %s is out", keySetID)
		}
		if err := t.queryRow(ctx, `SELECT count(*) FROM reservations WHERE org_id = $1 AND key_set_id = $2
			AND member_id <> $3 AND from_us <= $4 AND $4 < until_us`, t.org(), keySetID, t.p.member, us(t.now)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return keycab.Errorf(keycab.ECONFLICT, "key set %s is reserved for someone else now", keySetID)
		}
		return nil
	})
}
