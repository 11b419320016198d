-- keycab HQ schema, version 17, PostgreSQL: account hygiene (issue 15
-- item 6). Email verification: an account's address is verified when
-- verified_us is set; accounts made before this version count as
-- verified. Tokens of purpose 'verify' (the signup address) and 'email'
-- (a new address, which takes effect only when its link is opened) join
-- auth_tokens. MFA recovery codes: ten single-use codes per account,
-- stored as SHA-256 hashes; a global table (no org_id) like accounts, read
-- by account id only. The organisation's require_mfa sends its owners and
-- admins without MFA to enrolment. Sessions keep the client's user agent
-- and IP address, for the list of one's sessions. See doc.go (Accounts).

ALTER TABLE accounts ADD COLUMN verified_us BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET verified_us = created_us;

ALTER TABLE auth_tokens DROP CONSTRAINT auth_tokens_purpose_check;
ALTER TABLE auth_tokens ADD CONSTRAINT auth_tokens_purpose_check
	CHECK (purpose IN ('reset', 'magic', 'invite', 'mfa', 'verify', 'email'));

CREATE TABLE recovery_codes (
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	hash       BYTEA NOT NULL, -- SHA-256 of the account id and the normalised code
	created_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, hash)
);

ALTER TABLE orgs ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
