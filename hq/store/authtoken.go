package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Token purposes.
const (
	PurposeReset  = "reset"  // a password reset link
	PurposeMagic  = "magic"  // a sign-in link
	PurposeInvite = "invite" // an invitation to an organisation
	PurposeMFA    = "mfa"    // the second step of a login
	PurposeVerify = "verify" // verifies the account's email address
	PurposeEmail  = "email"  // verifies a new address (Email), which then replaces the account's
)

// AuthToken is a single-use, expiring secret, stored as its hash.
type AuthToken struct {
	ID        string
	Hash      []byte
	Purpose   string
	AccountID string
	Email     string
	OrgID     string
	MemberID  string // invite: the inviter; mfa: the member chosen at login
	Role      keycab.Role
	SiteIDs   []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	Attempts  int
}

const authTokenCols = `id, hash, purpose, account_id, email, org_id, member_id, role, site_ids,
	created_us, expires_us, used_us, attempts`

func scanAuthToken(row interface{ Scan(...any) error }) (AuthToken, error) {
	var a AuthToken
	var sites string
	var created, expires, used int64
	err := row.Scan(&a.ID, &a.Hash, &a.Purpose, &a.AccountID, &a.Email, &a.OrgID, &a.MemberID, &a.Role, &sites,
		&created, &expires, &used, &a.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return a, keycab.Errorf(keycab.ENOTFOUND, "this link is invalid or has expired")
	}
	if sites != "" {
		a.SiteIDs = strings.Split(sites, ",")
	}
	a.CreatedAt, a.ExpiresAt, a.UsedAt = fromUS(created), fromUS(expires), fromUS(used)
	return a, err
}

// CreateAuthToken stores a token (its hash and what it grants) of any
// purpose but invitations, which CreateInvite checks and stores.
func (s *Accounts) CreateAuthToken(ctx context.Context, a AuthToken) (AuthToken, error) {
	if a.Purpose == PurposeInvite {
		return a, fmt.Errorf("create token: %w", invalid("invitations are made by CreateInvite"))
	}
	a.ID, a.Email = newID("tok"), NormalizeEmail(a.Email)
	err := s.store().forOrg(ctx, "create "+a.Purpose+" token", a.OrgID, true, func(ctx context.Context, t *tx) error {
		a.CreatedAt = t.now
		return t.insertAuthToken(ctx, a)
	})
	return a, err
}

// CreateInvite stores an invitation (a token of PurposeInvite, its hash
// and what it grants) from the principal sc to its organisation, checked
// in the same transaction as the insert exactly as its acceptance will be
// (CreateMember): the role no higher than the inviter may grant, every
// site one of the organisation's that the inviter sees (another
// organisation's, an unknown or an unseen site is ENOTFOUND), and a site
// manager's invitation scoped to sites they manage. OrgID and MemberID
// are the principal's.
func (s *Accounts) CreateInvite(ctx context.Context, sc Scope, a AuthToken) (AuthToken, error) {
	a.ID, a.Email, a.Purpose = newID("tok"), NormalizeEmail(a.Email), PurposeInvite
	a.OrgID, a.MemberID = sc.org, sc.member
	a.SiteIDs = dedupe(a.SiteIDs)
	err := s.store().write(ctx, "create invitation", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("inviting"); err != nil {
			return err
		}
		if err := a.Role.Validate(); err != nil {
			return err
		}
		for _, site := range a.SiteIDs {
			if err := t.siteVisible(ctx, site); err != nil {
				return err
			}
		}
		if err := t.mayAssign(a.Role, a.SiteIDs); err != nil {
			return err
		}
		a.CreatedAt = t.now
		return t.insertAuthToken(ctx, a)
	})
	return a, err
}

func (t *tx) insertAuthToken(ctx context.Context, a AuthToken) error {
	_, err := t.exec(ctx, `INSERT INTO auth_tokens (id, hash, purpose, account_id, email, org_id, member_id, role, site_ids, created_us, expires_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ID, a.Hash, a.Purpose, a.AccountID, a.Email, a.OrgID, a.MemberID, string(a.Role), strings.Join(a.SiteIDs, ","),
		us(t.now), us(a.ExpiresAt))
	return err
}

// PeekAuthToken returns the unused, unexpired token of purpose hashing to
// hash without using it; any other is ENOTFOUND.
func (s *Accounts) PeekAuthToken(ctx context.Context, purpose string, hash []byte) (AuthToken, error) {
	var a AuthToken
	err := s.store().global(ctx, "read "+purpose+" token", false, func(ctx context.Context, t *tx) error {
		var err error
		a, err = scanAuthToken(t.queryRow(ctx, t.byEngine(
			"SELECT "+authTokenCols+" FROM auth_tokens WHERE hash = $1 AND purpose = $2 AND used_us = 0 AND expires_us > $3",
			"SELECT "+authTokenCols+" FROM keycab_peek_auth_token($1, $2, $3)"), hash, purpose, us(t.now)))
		return err
	})
	return a, err
}

// UseAuthToken marks the unused, unexpired token of purpose hashing to
// hash as used and returns it; only one caller ever succeeds. Any other
// token is ENOTFOUND, the same answer for a used, expired or unknown one.
func (s *Accounts) UseAuthToken(ctx context.Context, purpose string, hash []byte) (AuthToken, error) {
	var a AuthToken
	err := s.store().global(ctx, "use "+purpose+" token", true, func(ctx context.Context, t *tx) error {
		var err error
		a, err = t.useAuthToken(ctx, purpose, hash)
		return err
	})
	return a, err
}

func (t *tx) useAuthToken(ctx context.Context, purpose string, hash []byte) (AuthToken, error) {
	return scanAuthToken(t.queryRow(ctx, t.byEngine(
		"UPDATE auth_tokens SET used_us = $1 WHERE hash = $2 AND purpose = $3 AND used_us = 0 AND expires_us > $1 RETURNING "+authTokenCols,
		"SELECT "+authTokenCols+" FROM keycab_use_auth_token($2, $3, $1)"), us(t.now), hash, purpose))
}

// AcceptInvite accepts the invitation whose token hashes to hash, in one
// transaction run as the inviter: the token is used up, acct is created
// when it has no id yet (a new account) and m becomes a member of the
// inviting organisation, as the inviter may make it (CreateMember),
// linked to acct. A crash leaves all or none of it; a used, expired or
// unknown token is ENOTFOUND and changes nothing.
func (s *Accounts) AcceptInvite(ctx context.Context, hash []byte, inviter Scope, acct *Account, m keycab.Member) (keycab.Member, error) {
	isNew := acct.ID == ""
	if isNew {
		if err := prepareAccount(acct); err != nil {
			return m, fmt.Errorf("accept invitation: %w", err)
		}
	}
	err := s.store().write(ctx, "accept invitation", inviter, func(ctx context.Context, t *tx) error {
		inv, err := t.useAuthToken(ctx, PurposeInvite, hash)
		if err != nil {
			return err
		}
		if inv.OrgID != t.org() || NormalizeEmail(m.Email) != inv.Email || acct.Email != inv.Email {
			return keycab.Errorf(keycab.EFORBIDDEN, "this invitation is for another organisation or email address")
		}
		if isNew {
			if err := t.insertAccount(ctx, acct); err != nil {
				return err
			}
		}
		if err := t.createMember(ctx, &m); err != nil {
			return err
		}
		return t.linkMember(ctx, acct.ID, m.OrgID, m.ID)
	})
	redactPIN(&m)
	return m, err
}

// FailAuthToken counts a failed attempt at token id of organisation orgID
// (the MFA step) and uses it up once attempts reach max.
func (s *Accounts) FailAuthToken(ctx context.Context, orgID, id string, max int) error {
	return s.store().tenant(ctx, "fail token", orgID, true, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `UPDATE auth_tokens SET attempts = attempts + 1,
			used_us = CASE WHEN attempts + 1 >= $1 THEN $2 ELSE used_us END WHERE org_id = $3 AND id = $4`, max, us(t.now), t.org(), id)
		return err
	})
}

// RevokeAuthTokens uses up every open token of purpose for an account (a
// reset link outstanding when the password changes, say).
func (s *Accounts) RevokeAuthTokens(ctx context.Context, accountID, purpose string) error {
	return s.store().global(ctx, "revoke tokens", true, func(ctx context.Context, t *tx) error {
		return t.revokeAuthTokens(ctx, accountID, purpose)
	})
}

func (t *tx) revokeAuthTokens(ctx context.Context, accountID, purpose string) error {
	_, err := t.exec(ctx, t.byEngine(
		"UPDATE auth_tokens SET used_us = $1 WHERE account_id = $2 AND purpose = $3 AND used_us = 0",
		"SELECT keycab_revoke_auth_tokens($2, $3, $1)"), us(t.now), accountID, purpose)
	return err
}

// ListInvites returns the organisation's open invitations, newest first,
// to a principal who may list its members.
func (s *Accounts) ListInvites(ctx context.Context, sc Scope) ([]AuthToken, error) {
	if _, err := s.store().ListMembers(ctx, sc); err != nil {
		return nil, err
	}
	var out []AuthToken
	err := s.store().tenant(ctx, "list invites", sc.org, false, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, "SELECT "+authTokenCols+` FROM auth_tokens
			WHERE org_id = $1 AND purpose = 'invite' AND used_us = 0 AND expires_us > $2 ORDER BY created_us DESC, id`, sc.org, us(t.now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAuthToken(rows)
			if err != nil {
				return err
			}
			a.Hash = nil
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeInvite withdraws an open invitation of the principal's
// organisation. The inviter, or an owner or admin, may; any other id is
// ENOTFOUND.
func (s *Accounts) RevokeInvite(ctx context.Context, sc Scope, id string) error {
	m, err := s.store().GetMember(ctx, sc, sc.member)
	if err != nil {
		return err
	}
	admin := m.Role == keycab.RoleOwner || m.Role == keycab.RoleAdmin
	return s.store().tenant(ctx, "revoke invite", sc.org, true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE auth_tokens SET used_us = $1 WHERE id = $2 AND org_id = $3 AND purpose = 'invite' AND used_us = 0
			AND ($4 OR member_id = $5)`, us(t.now), id, sc.org, admin, sc.member)
		if err != nil {
			return err
		}
		return affected(res, "invite", id)
	})
}

// HitRateLimit counts one event against key in fixed windows of length
// window and returns the count in the current window and when it ends.
// The counter lives in the database, so every HQ process shares it.
func (s *Accounts) HitRateLimit(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	var n int
	var start int64
	err := s.store().global(ctx, "rate limit", true, func(ctx context.Context, t *tx) error {
		now := us(t.now)
		ws := now - now%window.Microseconds()
		return t.queryRow(ctx, `INSERT INTO rate_limits (key, window_us, count) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN rate_limits.window_us = excluded.window_us THEN rate_limits.count + 1 ELSE 1 END,
				window_us = excluded.window_us
			RETURNING count, window_us`, key, ws).Scan(&n, &start)
	})
	return n, fromUS(start).Add(window), err
}

// Delivery is one email sent, or recorded in dry-run mode.
type Delivery struct {
	ID      string
	At      time.Time
	Kind    string // invite, reset, magic, ...
	OrgID   string
	To      string
	Subject string
	Status  string // dry-run, sent, failed
	Error   string
}

// RecordDelivery appends a delivery to the delivery log.
func (s *Accounts) RecordDelivery(ctx context.Context, d Delivery) (Delivery, error) {
	d.ID = newID("dlv")
	err := s.store().forOrg(ctx, "record delivery", d.OrgID, true, func(ctx context.Context, t *tx) error {
		d.At = t.now
		_, err := t.exec(ctx, `INSERT INTO deliveries (id, at_us, kind, org_id, to_email, subject, status, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d.ID, us(t.now), d.Kind, d.OrgID, NormalizeEmail(d.To), d.Subject, d.Status, d.Error)
		return err
	})
	return d, err
}

// ListDeliveries returns organisation orgID's delivery log, newest first,
// or with orgID "" the log of accounts' own mail (resets, sign-in links).
func (s *Accounts) ListDeliveries(ctx context.Context, orgID string, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []Delivery
	err := s.store().forOrg(ctx, "list deliveries", orgID, false, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, "SELECT id, at_us, kind, org_id, to_email, subject, status, error FROM deliveries WHERE org_id = $1 ORDER BY at_us DESC, id LIMIT $2", orgID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d Delivery
			var at int64
			if err := rows.Scan(&d.ID, &at, &d.Kind, &d.OrgID, &d.To, &d.Subject, &d.Status, &d.Error); err != nil {
				return err
			}
			d.At = fromUS(at)
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}
