-- keycab HQ schema, version 11 (sqlite): policy at HQ (issue 14). policies
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
	updated_us INTEGER NOT NULL,
	updated_by TEXT NOT NULL,
	PRIMARY KEY (org_id, scope, scope_id),
	CHECK ((scope = 'org') = (scope_id = ''))
) STRICT;
ALTER TABLE members ADD COLUMN schedule TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN access_until_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_sets ADD COLUMN triple_release INTEGER NOT NULL DEFAULT 0;
