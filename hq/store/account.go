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

// Accounts is the store's sign-in side: accounts and their passwords and
// MFA, sessions, one-time tokens (reset, sign-in links, invitations,
// verification), single sign-on, API keys and rate limits
// (account.go, authtoken.go, session.go, sso.go, apikey.go). It is the
// same store as Store (a defined type over it), named apart so that
// what hq/auth and the edges' sign-in use reads as one group.
type Accounts Store

// Accounts returns the store's Accounts methods.
func (s *Store) Accounts() *Accounts { return (*Accounts)(s) }

// store is the Store this is.
func (s *Accounts) store() *Store { return (*Store)(s) }

// Accounts (schema version 2) are global, not tenant rows: a person signs
// in once, with one email address, and may belong to several
// organisations. account_members maps an account to at most one member
// row per organisation, and a member row to at most one account; the
// member row (tenant data, under row-level security) keeps the role and
// site scope, so the store's role rules apply unchanged. The auth layer
// turns an authenticated session into MemberScope(org, member) and every
// tenant read or write goes through that Scope as before. Removing a
// member deletes its link (ON DELETE CASCADE) and revokes its sessions in
// the same transaction; every session lookup (an access token, a refresh)
// also checks that the session's member is still linked and active.
//
// accounts and rate_limits carry no org_id and no row-level security:
// they are read before any tenant is known (by email at login, by
// rate-limit key). The account tables that do carry org_id
// (account_members, sessions, auth_tokens, deliveries) are, on
// PostgreSQL, under row-level security since schema version 9: their
// tenant rows are read and written in a transaction bound to the
// organisation, and what is found before the organisation is known (a
// session or token by its hash, an account's memberships and sessions)
// through the SECURITY DEFINER functions of migration 0009 (see doc.go,
// Tenancy).

// accountTables are the global tables of schema version 2; the
// application role may read and write them.
func accountTables() []string {
	return []string{"accounts", "account_members", "sessions", "auth_tokens", "rate_limits", "deliveries", "recovery_codes"}
}

// AccountTables returns the names of the global account tables.
func AccountTables() []string { return accountTables() }

// Account is a person who signs in.
type Account struct {
	ID                string
	Email             string // lower case, trimmed
	Name              string
	PasswordHash      string // argon2id PHC string; "" when none is set
	PasswordChangedAt time.Time
	MFA               bool // TOTP is enabled
	CreatedAt         time.Time
	// VerifiedAt is when the account's email address was shown to be its
	// own (a link sent to it opened, an invitation to it accepted); zero
	// while unverified. Accounts made before schema version 17 count as
	// verified.
	VerifiedAt time.Time
}

// Verified reports whether the account's email address is verified.
func (a Account) Verified() bool { return !a.VerifiedAt.IsZero() }

// Membership links an account to its member row in one organisation.
type Membership struct {
	AccountID string
	OrgID     string
	MemberID  string
}

// NormalizeEmail is the form emails are stored and compared in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// global runs fn in a transaction bound to no organisation: on
// PostgreSQL no tenant row is visible in it.
func (s *Store) global(ctx context.Context, op string, write bool, fn func(context.Context, *tx) error) error {
	db, opts := s.txOptions(write)
	st, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", op, err)
	}
	defer st.Rollback()
	t := &tx{s: s, sql: st, now: s.now().UTC()}
	if err := fn(ctx, t); err != nil {
		return fmt.Errorf("%s: %w", op, s.classify(err))
	}
	if err := st.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", op, s.classify(err))
	}
	return nil
}

// CreateAccount adds an account. An email already registered is
// ECONFLICT.
func (s *Accounts) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := prepareAccount(&a); err != nil {
		return a, fmt.Errorf("create account: %w", err)
	}
	err := s.store().global(ctx, "create account", true, func(ctx context.Context, t *tx) error {
		return t.insertAccount(ctx, &a)
	})
	return a, err
}

// prepareAccount gives a new account its id and normalised email and name.
func prepareAccount(a *Account) error {
	a.ID, a.Email = newID("acc"), NormalizeEmail(a.Email)
	a.Name = strings.TrimSpace(a.Name)
	if a.Email == "" || !strings.Contains(a.Email, "@") {
		return invalid("an account needs an email address")
	}
	return nil
}

// insertAccount inserts a, made ready by prepareAccount, stamping its times.
func (t *tx) insertAccount(ctx context.Context, a *Account) error {
	a.CreatedAt = t.now
	if a.PasswordHash != "" {
		a.PasswordChangedAt = t.now
	}
	_, err := t.exec(ctx, `INSERT INTO accounts (id, email, name, password_hash, password_changed_us, created_us, verified_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, a.Email, a.Name, a.PasswordHash, us(a.PasswordChangedAt), us(t.now), us(a.VerifiedAt))
	return err
}

const accountCols = "id, email, name, password_hash, password_changed_us, totp_secret IS NOT NULL, created_us, verified_us"

func scanAccount(row *sql.Row) (Account, error) {
	var a Account
	var changed, created, verified int64
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.PasswordHash, &changed, &a.MFA, &created, &verified)
	if errors.Is(err, sql.ErrNoRows) {
		return a, keycab.Errorf(keycab.ENOTFOUND, "account not found")
	}
	a.PasswordChangedAt, a.CreatedAt, a.VerifiedAt = fromUS(changed), fromUS(created), fromUS(verified)
	return a, err
}

// AccountByEmail returns the account registered with email.
func (s *Accounts) AccountByEmail(ctx context.Context, email string) (Account, error) {
	var a Account
	err := s.store().global(ctx, "account by email", false, func(ctx context.Context, t *tx) error {
		var err error
		a, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE email = $1", NormalizeEmail(email)))
		return err
	})
	return a, err
}

// GetAccount returns the account with id.
func (s *Accounts) GetAccount(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.store().global(ctx, "get account", false, func(ctx context.Context, t *tx) error {
		var err error
		a, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", id))
		return err
	})
	return a, err
}

// SetPassword replaces an account's password hash and, in the same
// transaction, revokes every session of the account (sign-out
// everywhere).
func (s *Accounts) SetPassword(ctx context.Context, accountID, hash string) error {
	return s.store().global(ctx, "set password", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE accounts SET password_hash = $1, password_changed_us = $2 WHERE id = $3", hash, us(t.now), accountID)
		if err != nil {
			return err
		}
		if err := affected(res, "account", accountID); err != nil {
			return err
		}
		return t.revokeAccountSessions(ctx, accountID)
	})
}

// LinkMember makes member memberID of organisation orgID the account's
// membership there.
func (s *Accounts) LinkMember(ctx context.Context, accountID, orgID, memberID string) error {
	return s.store().tenant(ctx, "link member", orgID, true, func(ctx context.Context, t *tx) error {
		return t.linkMember(ctx, accountID, orgID, memberID)
	})
}

func (t *tx) linkMember(ctx context.Context, accountID, orgID, memberID string) error {
	_, err := t.exec(ctx, "INSERT INTO account_members (account_id, org_id, member_id, created_us) VALUES ($1, $2, $3, $4)",
		accountID, orgID, memberID, us(t.now))
	return err
}

// Memberships returns the account's memberships, oldest first.
func (s *Accounts) Memberships(ctx context.Context, accountID string) ([]Membership, error) {
	var out []Membership
	err := s.store().global(ctx, "list memberships", false, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, t.byEngine(
			"SELECT org_id, member_id FROM account_members WHERE account_id = $1 ORDER BY created_us, org_id",
			"SELECT org_id, member_id FROM keycab_memberships($1)"), accountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m := Membership{AccountID: accountID}
			if err := rows.Scan(&m.OrgID, &m.MemberID); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// MemberAccounts returns the account id linked to each member of orgID
// that has one, for a principal who may list the organisation's members.
func (s *Accounts) MemberAccounts(ctx context.Context, sc Scope) (map[string]string, error) {
	if _, err := s.store().ListMembers(ctx, sc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	err := s.store().tenant(ctx, "member accounts", sc.org, false, func(ctx context.Context, t *tx) error {
		rows, err := t.query(ctx, "SELECT member_id, account_id FROM account_members WHERE org_id = $1", sc.org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m, a string
			if err := rows.Scan(&m, &a); err != nil {
				return err
			}
			out[m] = a
		}
		return rows.Err()
	})
	return out, err
}

// TOTP secrets are sealed with the notes key (crypto.go), with the
// account id as associated data.
func totpAD(accountID string) []byte { return []byte("keycab totp secret v1\x00" + accountID) }

var errTOTPNoKey = keycab.Errorf(keycab.EUNAVAILABLE, "MFA needs the server's notes key, and this HQ has none configured")

func (s *Store) sealTOTP(accountID string, secret []byte) ([]byte, error) {
	if s.notes == nil {
		return nil, errTOTPNoKey
	}
	return s.notes.seal(secret, totpAD(accountID))
}

func (s *Store) openTOTP(accountID string, sealed []byte) ([]byte, error) {
	if s.notes == nil {
		return nil, errTOTPNoKey
	}
	return s.notes.open(sealed, totpAD(accountID), "totp secret")
}

// SetPendingTOTP stores a TOTP secret awaiting confirmation (enrolment).
func (s *Accounts) SetPendingTOTP(ctx context.Context, accountID string, secret []byte) error {
	sealed, err := s.store().sealTOTP(accountID, secret)
	if err != nil {
		return fmt.Errorf("set pending totp: %w", err)
	}
	return s.store().global(ctx, "set pending totp", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE accounts SET totp_pending = $1 WHERE id = $2", sealed, accountID)
		if err != nil {
			return err
		}
		return affected(res, "account", accountID)
	})
}

// TOTPSecrets returns the account's enabled and pending TOTP secrets (nil
// when there is none).
func (s *Accounts) TOTPSecrets(ctx context.Context, accountID string) (enabled, pending []byte, err error) {
	var se, sp []byte
	err = s.store().global(ctx, "get totp", false, func(ctx context.Context, t *tx) error {
		err := t.queryRow(ctx, "SELECT totp_secret, totp_pending FROM accounts WHERE id = $1", accountID).Scan(&se, &sp)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("account", accountID)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if se != nil {
		if enabled, err = s.store().openTOTP(accountID, se); err != nil {
			return nil, nil, err
		}
	}
	if sp != nil {
		if pending, err = s.store().openTOTP(accountID, sp); err != nil {
			return nil, nil, err
		}
	}
	return enabled, pending, nil
}

// EnableTOTP makes the pending secret the account's TOTP secret, once the
// caller has checked a code of it at time step step (which then counts as
// used), and replaces the account's recovery codes with codes (their
// hashes, RecoveryCodeHash), in one transaction.
func (s *Accounts) EnableTOTP(ctx context.Context, accountID string, step int64, codes [][]byte) error {
	return s.store().global(ctx, "enable totp", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE accounts SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1
			WHERE id = $2 AND totp_pending IS NOT NULL`, step, accountID)
		if err != nil {
			return err
		}
		if err := affected(res, "pending TOTP enrolment of account", accountID); err != nil {
			return err
		}
		return t.setRecoveryCodes(ctx, accountID, codes)
	})
}

// UseTOTPStep records that a TOTP code of time step step was accepted. It
// fails with EUNAUTHORIZED when that step or a later one was already used:
// a code works once.
func (s *Accounts) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	return s.store().global(ctx, "use totp step", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1", step, accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return keycab.Errorf(keycab.EUNAUTHORIZED, "this code was already used")
		}
		return nil
	})
}

// setRecoveryCodes replaces the account's recovery codes with hashes.
func (t *tx) setRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte) error {
	if _, err := t.exec(ctx, "DELETE FROM recovery_codes WHERE account_id = $1", accountID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, "INSERT INTO recovery_codes (account_id, hash, created_us) VALUES ($1, $2, $3)", accountID, h, us(t.now)); err != nil {
			return err
		}
	}
	return nil
}

// SetRecoveryCodes replaces the recovery codes of an account with MFA on
// by hashes (regeneration: every earlier code stops working).
func (s *Accounts) SetRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte) error {
	return s.store().global(ctx, "set recovery codes", true, func(ctx context.Context, t *tx) error {
		var on bool
		err := t.queryRow(ctx, "SELECT totp_secret IS NOT NULL FROM accounts WHERE id = $1", accountID).Scan(&on)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("account", accountID)
		} else if err != nil {
			return err
		}
		if !on {
			return keycab.Errorf(keycab.EINVALID, "recovery codes need MFA on: turn it on first")
		}
		return t.setRecoveryCodes(ctx, accountID, hashes)
	})
}

// UseRecoveryCode uses up the account's unused recovery code hashing to
// hash; only one caller ever succeeds. A used or unknown code is
// EUNAUTHORIZED.
func (s *Accounts) UseRecoveryCode(ctx context.Context, accountID string, hash []byte) error {
	return s.store().global(ctx, "use recovery code", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE recovery_codes SET used_us = $1 WHERE account_id = $2 AND hash = $3 AND used_us = 0", us(t.now), accountID, hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return keycab.Errorf(keycab.EUNAUTHORIZED, "wrong code, or a recovery code already used")
		}
		return nil
	})
}

// RecoveryCodesLeft returns how many unused recovery codes the account has.
func (s *Accounts) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.store().global(ctx, "count recovery codes", false, func(ctx context.Context, t *tx) error {
		return t.queryRow(ctx, "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_us = 0", accountID).Scan(&n)
	})
	return n, err
}

// DisableTOTP turns the account's MFA off: its secret, a pending
// enrolment and its recovery codes are removed. The caller has
// re-authenticated the account (auth.Service.DisableMFA).
func (s *Accounts) DisableTOTP(ctx context.Context, accountID string) error {
	return s.store().global(ctx, "disable totp", true, func(ctx context.Context, t *tx) error {
		return t.clearTOTP(ctx, accountID)
	})
}

func (t *tx) clearTOTP(ctx context.Context, accountID string) error {
	res, err := t.exec(ctx, "UPDATE accounts SET totp_secret = NULL, totp_pending = NULL WHERE id = $1", accountID)
	if err != nil {
		return err
	}
	if err := affected(res, "account", accountID); err != nil {
		return err
	}
	_, err = t.exec(ctx, "DELETE FROM recovery_codes WHERE account_id = $1", accountID)
	return err
}

// ResetMemberMFA turns off the MFA of the account linked to member
// memberID of the principal's organisation (a member who lost their
// authenticator and their recovery codes), signs that member out, and
// records member.mfa_reset in the admin log with before and after. Owners
// and admins only; an admin cannot reset an owner's; nobody resets their
// own (they turn it off with re-authentication). An account that is also
// a member of another organisation is refused: its MFA guards that
// organisation too, which this one's admins do not run. A member of
// another organisation, or one without an account, is ENOTFOUND.
func (s *Accounts) ResetMemberMFA(ctx context.Context, sc Scope, memberID string) error {
	return s.store().write(ctx, "reset member mfa", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("resetting a member's MFA"); err != nil {
			return err
		}
		if memberID == t.p.member {
			return keycab.Errorf(keycab.EFORBIDDEN, "turn your own MFA off in your settings, with your password and a code")
		}
		var role keycab.Role
		var accountID string
		var mfa bool
		err := t.queryRow(ctx, `SELECT m.role, am.account_id, a.totp_secret IS NOT NULL FROM members m
			JOIN account_members am ON am.org_id = m.org_id AND am.member_id = m.id
			JOIN accounts a ON a.id = am.account_id
			WHERE m.org_id = $1 AND m.id = $2 AND m.erased_us = 0`, t.org(), memberID).Scan(&role, &accountID, &mfa)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("member with an account", memberID)
		} else if err != nil {
			return err
		}
		if role == keycab.RoleOwner && t.p.role != keycab.RoleOwner {
			return keycab.Errorf(keycab.EFORBIDDEN, "only an owner may reset an owner's MFA")
		}
		if !mfa {
			return keycab.Errorf(keycab.ECONFLICT, "this member has no MFA to reset")
		}
		var orgs int
		if err := t.queryRow(ctx, t.byEngine(
			"SELECT count(*) FROM account_members WHERE account_id = $1",
			"SELECT count(*) FROM keycab_memberships($1)"), accountID).Scan(&orgs); err != nil {
			return err
		}
		if orgs > 1 {
			return keycab.Errorf(keycab.EFORBIDDEN, "this person belongs to other organisations too, whose sign-in their MFA also guards: they must recover with a recovery code")
		}
		if err := t.clearTOTP(ctx, accountID); err != nil {
			return err
		}
		if err := t.revokeMemberSessions(ctx, memberID); err != nil {
			return err
		}
		type state struct {
			MFA bool `json:"mfa"`
		}
		return t.logChange(ctx, "member.mfa_reset", memberID, state{true}, state{false})
	})
}

// RequireMFA reports whether the principal's organisation requires MFA of
// its owners and admins.
func (s *Accounts) RequireMFA(ctx context.Context, sc Scope) (bool, error) {
	var on bool
	err := s.store().read(ctx, "get org mfa rule", sc, func(ctx context.Context, t *tx) error {
		return t.queryRow(ctx, "SELECT require_mfa FROM orgs WHERE id = $1", t.org()).Scan(&on)
	})
	return on, err
}

// SetRequireMFA sets whether the organisation requires MFA of its owners
// and admins (those without it are sent to enrolment and can do nothing
// else until enrolled), recorded as org.require_mfa with before and
// after. Owners and admins only; turning it on needs the principal's own
// MFA on (EINVALID otherwise).
func (s *Accounts) SetRequireMFA(ctx context.Context, sc Scope, on bool) error {
	return s.store().write(ctx, "set org mfa rule", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requireAdmin("changing the organisation's MFA rule"); err != nil {
			return err
		}
		if on {
			// The rule never sends the person setting it to enrolment.
			var mfa bool
			err := t.queryRow(ctx, `SELECT a.totp_secret IS NOT NULL FROM account_members am JOIN accounts a ON a.id = am.account_id
				WHERE am.org_id = $1 AND am.member_id = $2`, t.org(), t.p.member).Scan(&mfa)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if !mfa {
				return keycab.Errorf(keycab.EINVALID, "turn on your own two-step sign-in first")
			}
		}
		var before bool
		if err := t.queryRow(ctx, "SELECT require_mfa FROM orgs WHERE id = $1", t.org()).Scan(&before); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE orgs SET require_mfa = $1 WHERE id = $2", on, t.org()); err != nil {
			return err
		}
		type rule struct {
			RequireMFA bool `json:"require_mfa"`
		}
		return t.logChange(ctx, "org.require_mfa", t.org(), rule{before}, rule{on})
	})
}

// MarkVerified marks the account's email address verified: a link sent
// to it (a password reset, a sign-in link) was opened. An account
// verified already is left as it is.
func (s *Accounts) MarkVerified(ctx context.Context, accountID string) error {
	return s.store().global(ctx, "mark account verified", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE accounts SET verified_us = $1 WHERE id = $2 AND verified_us = 0", us(t.now), accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		_, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", accountID))
		return err
	})
}

// ConfirmEmail uses up the email token of purpose (PurposeVerify or
// PurposeEmail) hashing to hash, once, and applies it in the same
// transaction: PurposeVerify marks the account verified if its address is
// still the one the link was sent to; PurposeEmail makes the token's
// address the account's (verified), and uses up the account's other open
// reset, sign-in, verify and email links, which went to the old address.
// It returns the account as it was and as it is. A used, expired or
// unknown token is ENOTFOUND; a new address that another account took
// meanwhile is ECONFLICT, and the token stays unused.
func (s *Accounts) ConfirmEmail(ctx context.Context, purpose string, hash []byte) (before, after Account, err error) {
	if purpose != PurposeVerify && purpose != PurposeEmail {
		return before, after, fmt.Errorf("confirm email: %w", invalid("not an email token"))
	}
	err = s.store().global(ctx, "confirm email", true, func(ctx context.Context, t *tx) error {
		tok, err := t.useAuthToken(ctx, purpose, hash)
		if err != nil {
			return err
		}
		if before, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", tok.AccountID)); err != nil {
			return err
		}
		if purpose == PurposeVerify {
			if before.Email != tok.Email {
				return keycab.Errorf(keycab.ENOTFOUND, "this link is invalid or has expired")
			}
			if _, err := t.exec(ctx, "UPDATE accounts SET verified_us = $1 WHERE id = $2 AND verified_us = 0", us(t.now), tok.AccountID); err != nil {
				return err
			}
		} else {
			if _, err := t.exec(ctx, "UPDATE accounts SET email = $1, verified_us = $2 WHERE id = $3", tok.Email, us(t.now), tok.AccountID); err != nil {
				if keycab.ErrorCode(t.s.classify(err)) == keycab.ECONFLICT {
					return keycab.Errorf(keycab.ECONFLICT, "another account uses this address now")
				}
				return err
			}
			for _, p := range []string{PurposeReset, PurposeMagic, PurposeVerify, PurposeEmail} {
				if err := t.revokeAuthTokens(ctx, tok.AccountID, p); err != nil {
					return err
				}
			}
		}
		after, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", tok.AccountID))
		return err
	})
	return before, after, err
}

// Ping checks that the database answers (readiness).
func (s *Accounts) Ping(ctx context.Context) error {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
