-- keycab HQ schema, version 11 (postgres): policy at HQ (issue 14). policies
-- holds one level of an organisation's kiosk policy: scope 'org' (scope_id
-- ''), 'site' or 'cabinet' (scope_id the site's or cabinet's id), settings
-- a JSON keycab.PolicyOverride; a kiosk's bundle carries DefaultPolicy
-- with the organisation's, its site's and its cabinet's levels applied in
-- that order. members gain a weekly schedule (JSON array of keycab.Window)
-- and an access expiry (access_until_us, 0: none); key sets gain triple
-- release (two approvers besides the taker).
CREATE TABLE policies (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	scope      TEXT NOT NULL CHECK (scope IN ('org', 'site', 'cabinet')),
	scope_id   TEXT NOT NULL,
	settings   TEXT NOT NULL,
	updated_us BIGINT NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (org_id, scope, scope_id),
	CHECK ((scope = 'org') = (scope_id = ''))
);
ALTER TABLE members ADD COLUMN schedule TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN access_until_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE key_sets ADD COLUMN triple_release BOOLEAN NOT NULL DEFAULT false;

-- Row-level security as in 0001; Migrate grants the application role.
ALTER TABLE policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON policies
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
