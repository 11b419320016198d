-- keycab HQ schema, version 26 (postgres): single sign-on with OpenID
-- Connect. See the sqlite twin. sso_domains is a directory like
-- kiosk_directory (0021): under the tenant policy, read across
-- organisations only through keycab_sso_domain_org (SECURITY DEFINER,
-- one statement).
CREATE TABLE sso_configs (
	org_id        TEXT PRIMARY KEY REFERENCES orgs (id),
	issuer        TEXT NOT NULL,
	client_id     TEXT NOT NULL,
	client_secret BYTEA NOT NULL,
	domains       TEXT NOT NULL,
	groups_claim  TEXT NOT NULL DEFAULT 'groups',
	role_map      TEXT NOT NULL DEFAULT '[]',
	enforce       BOOLEAN NOT NULL DEFAULT false,
	updated_us    BIGINT NOT NULL
);
CREATE TABLE sso_domains (
	domain TEXT PRIMARY KEY,
	org_id TEXT NOT NULL
);
CREATE TABLE sso_logins (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	state_hash BYTEA NOT NULL,
	bind_hash  BYTEA NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, state_hash)
);
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['sso_configs', 'sso_logins']
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''keycab.org_id'', true))'
			' WITH CHECK (org_id = current_setting(''keycab.org_id'', true))', t);
	END LOOP;
END
$$;
ALTER TABLE sso_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON sso_domains
	USING (org_id <> '' AND org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id <> '' AND org_id = current_setting('keycab.org_id', true));
DO $$
BEGIN
	EXECUTE format('CREATE POLICY definer ON sso_domains TO %I'
		' USING (current_user <> session_user) WITH CHECK (current_user <> session_user)', current_user);
END
$$;

-- The organisation whose SSO vouches for an email domain (a sign-in by
-- address).
CREATE FUNCTION keycab_sso_domain_org(p_domain text) RETURNS SETOF text
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$ SELECT org_id FROM sso_domains WHERE domain = p_domain $$;
REVOKE ALL ON FUNCTION keycab_sso_domain_org(text) FROM PUBLIC;
