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
	return []string{"accounts", "account_members", "sessions", "auth_tokens", "rate_limits", "deliveries"}
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
}

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
	db := s.rdb
	var opts *sql.TxOptions
	if write {
		db = s.db
	} else if s.engine == Postgres {
		opts = &sql.TxOptions{ReadOnly: true}
	}
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
func (s *Store) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := prepareAccount(&a); err != nil {
		return a, fmt.Errorf("create account: %w", err)
	}
	err := s.global(ctx, "create account", true, func(ctx context.Context, t *tx) error {
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
	_, err := t.exec(ctx, `INSERT INTO accounts (id, email, name, password_hash, password_changed_us, created_us)
		VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, a.Email, a.Name, a.PasswordHash, us(a.PasswordChangedAt), us(t.now))
	return err
}

const accountCols = "id, email, name, password_hash, password_changed_us, totp_secret IS NOT NULL, created_us"

func scanAccount(row *sql.Row) (Account, error) {
	var a Account
	var changed, created int64
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.PasswordHash, &changed, &a.MFA, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, keycab.Errorf(keycab.ENOTFOUND, "account not found")
	}
	a.PasswordChangedAt, a.CreatedAt = fromUS(changed), fromUS(created)
	return a, err
}

// AccountByEmail returns the account registered with email.
func (s *Store) AccountByEmail(ctx context.Context, email string) (Account, error) {
	var a Account
	err := s.global(ctx, "account by email", false, func(ctx context.Context, t *tx) error {
		var err error
		a, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE email = $1", NormalizeEmail(email)))
		return err
	})
	return a, err
}

// GetAccount returns the account with id.
func (s *Store) GetAccount(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.global(ctx, "get account", false, func(ctx context.Context, t *tx) error {
		var err error
		a, err = scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = $1", id))
		return err
	})
	return a, err
}

// SetPassword replaces an account's password hash and, in the same
// transaction, revokes every session of the account (sign-out
// everywhere).
func (s *Store) SetPassword(ctx context.Context, accountID, hash string) error {
	return s.global(ctx, "set password", true, func(ctx context.Context, t *tx) error {
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
func (s *Store) LinkMember(ctx context.Context, accountID, orgID, memberID string) error {
	return s.tenant(ctx, "link member", orgID, true, func(ctx context.Context, t *tx) error {
		return t.linkMember(ctx, accountID, orgID, memberID)
	})
}

func (t *tx) linkMember(ctx context.Context, accountID, orgID, memberID string) error {
	_, err := t.exec(ctx, "INSERT INTO account_members (account_id, org_id, member_id, created_us) VALUES ($1, $2, $3, $4)",
		accountID, orgID, memberID, us(t.now))
	return err
}

// Memberships returns the account's memberships, oldest first.
func (s *Store) Memberships(ctx context.Context, accountID string) ([]Membership, error) {
	var out []Membership
	err := s.global(ctx, "list memberships", false, func(ctx context.Context, t *tx) error {
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
func (s *Store) MemberAccounts(ctx context.Context, sc Scope) (map[string]string, error) {
	if _, err := s.ListMembers(ctx, sc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	err := s.tenant(ctx, "member accounts", sc.org, false, func(ctx context.Context, t *tx) error {
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
func (s *Store) SetPendingTOTP(ctx context.Context, accountID string, secret []byte) error {
	sealed, err := s.sealTOTP(accountID, secret)
	if err != nil {
		return fmt.Errorf("set pending totp: %w", err)
	}
	return s.global(ctx, "set pending totp", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, "UPDATE accounts SET totp_pending = $1 WHERE id = $2", sealed, accountID)
		if err != nil {
			return err
		}
		return affected(res, "account", accountID)
	})
}

// TOTPSecrets returns the account's enabled and pending TOTP secrets (nil
// when there is none).
func (s *Store) TOTPSecrets(ctx context.Context, accountID string) (enabled, pending []byte, err error) {
	var se, sp []byte
	err = s.global(ctx, "get totp", false, func(ctx context.Context, t *tx) error {
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
		if enabled, err = s.openTOTP(accountID, se); err != nil {
			return nil, nil, err
		}
	}
	if sp != nil {
		if pending, err = s.openTOTP(accountID, sp); err != nil {
			return nil, nil, err
		}
	}
	return enabled, pending, nil
}

// EnableTOTP makes the pending secret the account's TOTP secret, once the
// caller has checked a code of it at time step step (which then counts as
// used).
func (s *Store) EnableTOTP(ctx context.Context, accountID string, step int64) error {
	return s.global(ctx, "enable totp", true, func(ctx context.Context, t *tx) error {
		res, err := t.exec(ctx, `UPDATE accounts SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $1
			WHERE id = $2 AND totp_pending IS NOT NULL`, step, accountID)
		if err != nil {
			return err
		}
		return affected(res, "pending TOTP enrolment of account", accountID)
	})
}

// UseTOTPStep records that a TOTP code of time step step was accepted. It
// fails with EUNAUTHORIZED when that step or a later one was already used:
// a code works once.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	return s.global(ctx, "use totp step", true, func(ctx context.Context, t *tx) error {
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

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
