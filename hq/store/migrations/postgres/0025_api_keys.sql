-- keycab HQ schema, version 25 (postgres): API keys. See the sqlite twin.
CREATE TABLE api_keys (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL,
	hash         BYTEA NOT NULL,
	scopes       TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('auditor', 'admin')),
	created_by   TEXT NOT NULL,
	created_us   BIGINT NOT NULL,
	expires_us   BIGINT NOT NULL DEFAULT 0,
	last_used_us BIGINT NOT NULL DEFAULT 0,
	revoked_us   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id)
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON api_keys
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
