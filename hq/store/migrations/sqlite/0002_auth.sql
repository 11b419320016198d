-- keycab HQ schema, version 2, SQLite: accounts and their authentication.
-- These tables are global, not tenant rows: a person signs in once and may
-- belong to several organisations. They are read by an account id, a
-- token hash or a rate-limit key, never by a tenant's query; no tenant
-- data lives here beyond the ids that link an account to its members.
-- See doc.go (Accounts) and account.go.

CREATE TABLE accounts (
	id                  TEXT PRIMARY KEY CHECK (id <> ''),
	email               TEXT NOT NULL UNIQUE CHECK (email <> ''),
	name                TEXT NOT NULL DEFAULT '',
	password_hash       TEXT NOT NULL DEFAULT '', -- argon2id PHC string; '' means none set
	password_changed_us INTEGER NOT NULL DEFAULT 0,
	totp_secret         BLOB,                     -- sealed; NULL: no MFA
	totp_pending        BLOB,                     -- sealed; enrolment not yet confirmed
	totp_last_step      INTEGER NOT NULL DEFAULT 0, -- the last TOTP time step accepted (replay guard)
	created_us          INTEGER NOT NULL
) STRICT;

-- An account is a member of at most one row per organisation; a member
-- row belongs to at most one account. Removing the member unlinks it.
CREATE TABLE account_members (
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	org_id     TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (account_id, org_id),
	UNIQUE (org_id, member_id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;

-- One row per issued access/refresh token pair; a login starts a family,
-- each refresh rotates to a new row of the same family. Only SHA-256
-- hashes of the tokens are stored.
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	family_id    TEXT NOT NULL,
	account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	org_id       TEXT NOT NULL,
	member_id    TEXT NOT NULL,
	access_hash  BLOB NOT NULL UNIQUE,
	refresh_hash BLOB NOT NULL UNIQUE,
	created_us   INTEGER NOT NULL,
	last_used_us INTEGER NOT NULL,
	expires_us   INTEGER NOT NULL, -- the family's absolute expiry
	rotated_us   INTEGER NOT NULL DEFAULT 0,
	revoked_us   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_family ON sessions (family_id);

-- Single-use secrets sent by email or handed out between login steps:
-- password resets, magic links, invites, and the MFA step of a login.
CREATE TABLE auth_tokens (
	hash       BLOB PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	purpose    TEXT NOT NULL CHECK (purpose IN ('reset', 'magic', 'invite', 'mfa')),
	account_id TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '',
	org_id     TEXT NOT NULL DEFAULT '',
	member_id  TEXT NOT NULL DEFAULT '', -- invite: the inviter; mfa: the member chosen at login
	role       TEXT NOT NULL DEFAULT '',
	site_ids   TEXT NOT NULL DEFAULT '', -- comma-separated
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0,
	attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX auth_tokens_org ON auth_tokens (org_id, purpose);
CREATE INDEX auth_tokens_account ON auth_tokens (account_id, purpose);

-- Fixed-window counters shared by every HQ process.
CREATE TABLE rate_limits (
	key       TEXT PRIMARY KEY,
	window_us INTEGER NOT NULL,
	count     INTEGER NOT NULL
) STRICT;

-- Every email HQ sends or, in dry-run mode, would have sent. The body is
-- never stored: it carries single-use links.
CREATE TABLE deliveries (
	id       TEXT PRIMARY KEY,
	at_us    INTEGER NOT NULL,
	kind     TEXT NOT NULL,
	org_id   TEXT NOT NULL DEFAULT '',
	to_email TEXT NOT NULL,
	subject  TEXT NOT NULL,
	status   TEXT NOT NULL CHECK (status IN ('dry-run', 'sent', 'failed')),
	error    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX deliveries_at ON deliveries (at_us);
