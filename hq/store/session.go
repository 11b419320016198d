package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// Session is one access/refresh token pair of a login (a family). The
// store keeps only the tokens' hashes; the auth layer makes the tokens,
// hashes them, and judges idle expiry.
type Session struct {
	ID          string
	FamilyID    string
	AccountID   string
	OrgID       string
	MemberID    string
	AccessHash  []byte
	RefreshHash []byte
	CreatedAt   time.Time
	LastUsed    time.Time
	ExpiresAt   time.Time // the family's absolute expiry
	RotatedAt   time.Time // refreshed: this pair no longer works
	RevokedAt   time.Time
	UserAgent   string // the client's, as it said at sign-in or refresh
	IP          string // the client's address then

	// Standing is the account's and member's, as SessionByAccess found
	// them (not stored with the session).
	Standing Standing
}

// Standing is what decides, after a session is found live, what its
// principal may do: an unverified account may only verify its address,
// and an owner or admin of an organisation requiring MFA who has none may
// only enrol.
type Standing struct {
	Verified   bool        // the account's email address is verified
	MFA        bool        // the account has MFA on
	Role       keycab.Role // the member's role
	RequireMFA bool        // the organisation requires MFA of owners and admins
}

// NeedsMFA reports whether the organisation's rule sends this member to
// MFA enrolment.
func (st Standing) NeedsMFA() bool {
	return st.RequireMFA && !st.MFA && (st.Role == keycab.RoleOwner || st.Role == keycab.RoleAdmin)
}

// Scope returns the member scope the session acts for.
func (ss Session) Scope() Scope { return MemberScope(ss.OrgID, ss.MemberID) }

const sessionCols = `id, family_id, account_id, org_id, member_id, access_hash, refresh_hash,
	created_us, last_used_us, expires_us, rotated_us, revoked_us, user_agent, ip`

func scanSession(row interface{ Scan(...any) error }) (Session, error) {
	var ss Session
	var created, used, expires, rotated, revoked int64
	err := row.Scan(&ss.ID, &ss.FamilyID, &ss.AccountID, &ss.OrgID, &ss.MemberID, &ss.AccessHash, &ss.RefreshHash,
		&created, &used, &expires, &rotated, &revoked, &ss.UserAgent, &ss.IP)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, keycab.Errorf(keycab.EUNAUTHORIZED, "no such session")
	}
	ss.CreatedAt, ss.LastUsed, ss.ExpiresAt = fromUS(created), fromUS(used), fromUS(expires)
	ss.RotatedAt, ss.RevokedAt = fromUS(rotated), fromUS(revoked)
	return ss, err
}

// CreateSession stores a new session. An empty FamilyID starts a family
// (a login).
func (s *Accounts) CreateSession(ctx context.Context, ss Session) (Session, error) {
	err := s.store().tenant(ctx, "create session", ss.OrgID, true, func(ctx context.Context, t *tx) error {
		var err error
		ss, err = t.insertSession(ctx, ss)
		return err
	})
	return ss, err
}

func (t *tx) insertSession(ctx context.Context, ss Session) (Session, error) {
	ss.ID = newID("ses")
	if ss.FamilyID == "" {
		ss.FamilyID = newID("fam")
	}
	ss.CreatedAt, ss.LastUsed = t.now, t.now
	ss.UserAgent = clip(ss.UserAgent, 300)
	_, err := t.exec(ctx, `INSERT INTO sessions (id, family_id, account_id, org_id, member_id, access_hash, refresh_hash,
		created_us, last_used_us, expires_us, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		ss.ID, ss.FamilyID, ss.AccountID, ss.OrgID, ss.MemberID, ss.AccessHash, ss.RefreshHash,
		us(t.now), us(t.now), us(ss.ExpiresAt), ss.UserAgent, clip(ss.IP, 64))
	return ss, err
}

// SessionByAccess returns the session whose access token hashes to hash,
// whatever its state (the caller checks revocation, rotation and expiry).
// An unknown hash is EUNAUTHORIZED.
func (s *Accounts) SessionByAccess(ctx context.Context, hash []byte) (Session, error) {
	var ss Session
	err := s.store().global(ctx, "get session", false, func(ctx context.Context, t *tx) error {
		var err error
		ss, err = scanSession(t.queryRow(ctx, t.byEngine(
			"SELECT "+sessionCols+" FROM sessions WHERE access_hash = $1",
			"SELECT "+sessionCols+" FROM keycab_session_by_access($1)"), hash))
		if err != nil {
			return err
		}
		if err := t.bind(ctx, ss.OrgID); err != nil {
			return err
		}
		if err := t.sessionMember(ctx, ss); err != nil {
			return err
		}
		var verified int64
		st := &ss.Standing
		if err := t.queryRow(ctx, `SELECT a.verified_us, a.totp_secret IS NOT NULL, m.role, o.require_mfa
			FROM accounts a, members m, orgs o WHERE a.id = $1 AND m.org_id = $2 AND m.id = $3 AND o.id = $2`,
			ss.AccountID, ss.OrgID, ss.MemberID).Scan(&verified, &st.MFA, &st.Role, &st.RequireMFA); err != nil {
			return err
		}
		st.Verified = verified != 0
		return nil
	})
	return ss, err
}

// sessionMember checks, in a transaction bound to the session's
// organisation, that its member is still there, active and linked to its
// account: a session outlives no removal, even one whose revocation was
// missed.
func (t *tx) sessionMember(ctx context.Context, ss Session) error {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM account_members am JOIN members m ON m.org_id = am.org_id AND m.id = am.member_id
		WHERE am.org_id = $1 AND am.member_id = $2 AND am.account_id = $3 AND NOT m.disabled AND m.erased_us = 0`,
		ss.OrgID, ss.MemberID, ss.AccountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return keycab.Errorf(keycab.EUNAUTHORIZED, "signed out: no longer a member of this organisation")
	}
	return err
}

// TouchSession records a use of session id of organisation orgID (for
// idle expiry).
func (s *Accounts) TouchSession(ctx context.Context, orgID, id string) error {
	return s.store().tenant(ctx, "touch session", orgID, true, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, "UPDATE sessions SET last_used_us = $1 WHERE org_id = $2 AND id = $3 AND last_used_us < $1", us(t.now), t.org(), id)
		return err
	})
}

// ErrRefreshReused is the code of a refresh token presented again after
// it was rotated: the whole family has been revoked.
var ErrRefreshReused = keycab.Errorf(keycab.EUNAUTHORIZED, "refresh token reuse detected: every session of this login is signed out")

// RotateSession exchanges the refresh token hashing to refreshHash for a
// new pair in the same family. A refresh token already rotated or revoked
// is reuse: the whole family is revoked (committed) and the answer is
// ErrRefreshReused. valid judges the current session (idle and absolute
// expiry); when it returns an error, nothing is rotated.
func (s *Accounts) RotateSession(ctx context.Context, refreshHash []byte, next Session, valid func(Session) error) (Session, error) {
	var out Session
	reused := false
	err := s.store().global(ctx, "rotate session", true, func(ctx context.Context, t *tx) error {
		cur, err := scanSession(t.queryRow(ctx, t.byEngine(
			"SELECT "+sessionCols+" FROM sessions WHERE refresh_hash = $1",
			"SELECT "+sessionCols+" FROM keycab_session_by_refresh($1)"), refreshHash)) // locked FOR UPDATE
		if err != nil {
			return err
		}
		if err := t.bind(ctx, cur.OrgID); err != nil {
			return err
		}
		if !cur.RotatedAt.IsZero() || !cur.RevokedAt.IsZero() {
			reused = true
			_, err := t.exec(ctx, "UPDATE sessions SET revoked_us = $1 WHERE org_id = $2 AND family_id = $3 AND revoked_us = 0", us(t.now), t.org(), cur.FamilyID)
			return err
		}
		if err := valid(cur); err != nil {
			return err
		}
		if err := t.sessionMember(ctx, cur); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE sessions SET rotated_us = $1 WHERE org_id = $2 AND id = $3", us(t.now), t.org(), cur.ID); err != nil {
			return err
		}
		next.FamilyID, next.AccountID, next.OrgID, next.MemberID, next.ExpiresAt = cur.FamilyID, cur.AccountID, cur.OrgID, cur.MemberID, cur.ExpiresAt
		if next.UserAgent == "" && next.IP == "" {
			next.UserAgent, next.IP = cur.UserAgent, cur.IP
		}
		out, err = t.insertSession(ctx, next)
		return err
	})
	if err == nil && reused {
		return out, ErrRefreshReused
	}
	return out, err
}

// RevokeFamily revokes every session of a login (sign-out) to
// organisation orgID.
func (s *Accounts) RevokeFamily(ctx context.Context, orgID, familyID string) error {
	return s.store().tenant(ctx, "revoke session", orgID, true, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, "UPDATE sessions SET revoked_us = $1 WHERE org_id = $2 AND family_id = $3 AND revoked_us = 0", us(t.now), t.org(), familyID)
		return err
	})
}

// revokeMemberSessions revokes every session of a member of the
// transaction's organisation, and uses up the open tokens that act for it
// (an MFA step, invitations it sent), when it is removed.
func (t *tx) revokeMemberSessions(ctx context.Context, memberID string) error {
	if _, err := t.exec(ctx, "UPDATE sessions SET revoked_us = $1 WHERE org_id = $2 AND member_id = $3 AND revoked_us = 0",
		us(t.now), t.org(), memberID); err != nil {
		return err
	}
	_, err := t.exec(ctx, "UPDATE auth_tokens SET used_us = $1 WHERE org_id = $2 AND member_id = $3 AND used_us = 0",
		us(t.now), t.org(), memberID)
	return err
}

// RevokeAccountSessions revokes every session of an account (sign-out
// everywhere).
func (s *Accounts) RevokeAccountSessions(ctx context.Context, accountID string) error {
	return s.store().global(ctx, "revoke sessions", true, func(ctx context.Context, t *tx) error {
		return t.revokeAccountSessions(ctx, accountID)
	})
}

func (t *tx) revokeAccountSessions(ctx context.Context, accountID string) error {
	_, err := t.exec(ctx, t.byEngine(
		"UPDATE sessions SET revoked_us = $1 WHERE account_id = $2 AND revoked_us = 0",
		"SELECT keycab_revoke_account_sessions($2, $1)"), us(t.now), accountID)
	return err
}

// AccountSessions returns the account's open sessions in every
// organisation it belongs to, newest first: for each login (family) its
// current pair, not rotated, revoked or past its absolute expiry. Idle
// expiry is the auth layer's to judge. Each organisation's are read in a
// transaction bound to it.
func (s *Accounts) AccountSessions(ctx context.Context, accountID string) ([]Session, error) {
	ms, err := s.Memberships(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, m := range ms {
		err := s.store().tenant(ctx, "list sessions", m.OrgID, false, func(ctx context.Context, t *tx) error {
			rows, err := t.query(ctx, "SELECT "+sessionCols+` FROM sessions WHERE org_id = $1 AND account_id = $2
				AND rotated_us = 0 AND revoked_us = 0 AND expires_us > $3`, t.org(), accountID, us(t.now))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				ss, err := scanSession(rows)
				if err != nil {
					return err
				}
				ss.AccessHash, ss.RefreshHash = nil, nil
				out = append(out, ss)
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.FamilyID, b.FamilyID)
	})
	return out, nil
}

// RevokeAccountFamily signs out the login familyID of account accountID
// (one entry of AccountSessions). A login of another account, or an
// unknown one, is ENOTFOUND; one already signed out is not an error.
func (s *Accounts) RevokeAccountFamily(ctx context.Context, accountID, familyID string) error {
	ms, err := s.Memberships(ctx, accountID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		found := false
		err := s.store().tenant(ctx, "revoke session", m.OrgID, true, func(ctx context.Context, t *tx) error {
			var n int
			if err := t.queryRow(ctx, "SELECT count(*) FROM sessions WHERE org_id = $1 AND account_id = $2 AND family_id = $3",
				t.org(), accountID, familyID).Scan(&n); err != nil || n == 0 {
				return err
			}
			found = true
			_, err := t.exec(ctx, "UPDATE sessions SET revoked_us = $1 WHERE org_id = $2 AND account_id = $3 AND family_id = $4 AND revoked_us = 0",
				us(t.now), t.org(), accountID, familyID)
			return err
		})
		if err != nil || found {
			return err
		}
	}
	return fmt.Errorf("revoke session: %w", notFound("session", familyID))
}

// clip returns s as one printable line (keycab.PrintableText) of at most n
// runes: what a client says of itself is kept, never refused.
func clip(s string, n int) string {
	s = keycab.PrintableText(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n])
	}
	return s
}
