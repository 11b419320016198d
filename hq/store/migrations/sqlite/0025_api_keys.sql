-- keycab HQ schema, version 25 (sqlite): API keys (issue 21 item 2;
-- apikey.go). A service account's key for the JSON API, of one
-- organisation: its secret is shown once and kept as its SHA-256 hash;
-- scopes (a comma list: history:read, custody:write, people:write,
-- cabinets:write) say which routes it may call, and role the most the
-- store lets it do (auditor for a read-only key, admin otherwise). A key
-- expires at expires_us (0: never) and is refused from revoked_us on;
-- last_used_us is kept to the minute. Rows stay after revocation, for
-- the admin log's sake.
CREATE TABLE api_keys (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	hash         BLOB NOT NULL,
	scopes       TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('auditor', 'admin')),
	created_by   TEXT NOT NULL,
	created_us   INTEGER NOT NULL,
	expires_us   INTEGER NOT NULL DEFAULT 0,
	last_used_us INTEGER NOT NULL DEFAULT 0,
	revoked_us   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id)
) STRICT;
