-- keycab HQ schema, version 17, SQLite: account hygiene (issue 15 item 6).
-- Email verification: an account's address is verified when verified_us
-- is set; accounts made before this version count as verified. Tokens of
-- purpose 'verify' (the signup address) and 'email' (a new address,
-- which takes effect only when its link is opened) join auth_tokens, so
-- its CHECK is rebuilt (SQLite cannot alter a CHECK in place).
-- MFA recovery codes: ten single-use codes per account, stored as
-- SHA-256 hashes. The organisation's require_mfa sends its owners and
-- admins without MFA to enrolment. Sessions keep the client's user agent
-- and IP address, for the list of one's sessions. See doc.go (Accounts).

ALTER TABLE accounts ADD COLUMN verified_us INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET verified_us = created_us;

CREATE TABLE auth_tokens_v17 (
	hash       BLOB PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	purpose    TEXT NOT NULL CHECK (purpose IN ('reset', 'magic', 'invite', 'mfa', 'verify', 'email')),
	account_id TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '', -- email: the new address
	org_id     TEXT NOT NULL DEFAULT '',
	member_id  TEXT NOT NULL DEFAULT '',
	role       TEXT NOT NULL DEFAULT '',
	site_ids   TEXT NOT NULL DEFAULT '',
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0,
	attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO auth_tokens_v17 (hash, id, purpose, account_id, email, org_id, member_id, role, site_ids, created_us, expires_us, used_us, attempts)
	SELECT hash, id, purpose, account_id, email, org_id, member_id, role, site_ids, created_us, expires_us, used_us, attempts FROM auth_tokens;
DROP TABLE auth_tokens;
ALTER TABLE auth_tokens_v17 RENAME TO auth_tokens;
CREATE INDEX auth_tokens_org ON auth_tokens (org_id, purpose);
CREATE INDEX auth_tokens_account ON auth_tokens (account_id, purpose);

CREATE TABLE recovery_codes (
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	hash       BLOB NOT NULL, -- SHA-256 of the account id and the normalised code
	created_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, hash)
) STRICT;

ALTER TABLE orgs ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
