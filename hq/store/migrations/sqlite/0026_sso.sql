-- keycab HQ schema, version 26 (sqlite): single sign-on with OpenID
-- Connect (issue 21 item 3; sso.go). sso_configs holds an organisation's
-- identity provider: its issuer, client id, the client secret sealed
-- under the notes key (ssoAD), the email domains it vouches for, the
-- name of the groups claim and the mapping of group values to roles and
-- site scopes (JSON), and whether SSO is enforced (password sign-in
-- refused for its members but owners). sso_domains maps a verified
-- domain to its one organisation (a sign-in by email domain). sso_logins
-- are sign-ins under way: the SHA-256 of the state and of the browser's
-- binding cookie, used once before they expire.
CREATE TABLE sso_configs (
	org_id        TEXT PRIMARY KEY REFERENCES orgs (id),
	issuer        TEXT NOT NULL,
	client_id     TEXT NOT NULL,
	client_secret BLOB NOT NULL,
	domains       TEXT NOT NULL,
	groups_claim  TEXT NOT NULL DEFAULT 'groups',
	role_map      TEXT NOT NULL DEFAULT '[]',
	enforce       INTEGER NOT NULL DEFAULT 0,
	updated_us    INTEGER NOT NULL
) STRICT;
CREATE TABLE sso_domains (
	domain TEXT PRIMARY KEY,
	org_id TEXT NOT NULL
) STRICT;
CREATE TABLE sso_logins (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	state_hash BLOB NOT NULL,
	bind_hash  BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, state_hash)
) STRICT;
