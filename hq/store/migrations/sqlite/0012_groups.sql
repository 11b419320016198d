-- keycab HQ schema, version 12 (sqlite): groups, keycab's permission model
-- (keycab.Group, keycab.AccessRule). A group holds members or key sets;
-- site_id scopes it to one site (NULL: organisation-wide). An access
-- rule lets one member group take one key-set group's key sets while its
-- schedule (JSON array of keycab.Window, empty: any time) allows. A key
-- set in no key-set group is governed by roles, site scope and jobs
-- alone. Removing a member, key set or group removes its memberships and
-- rules.
CREATE TABLE groups (
	org_id  TEXT NOT NULL REFERENCES orgs (id),
	id      TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('members', 'key_sets')),
	name    TEXT NOT NULL,
	site_id TEXT,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
) STRICT;
CREATE UNIQUE INDEX groups_name ON groups (org_id, kind, name);

CREATE TABLE member_group_members (
	org_id    TEXT NOT NULL,
	group_id  TEXT NOT NULL,
	member_id TEXT NOT NULL,
	PRIMARY KEY (org_id, group_id, member_id),
	FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX member_group_members_member ON member_group_members (org_id, member_id);

CREATE TABLE key_set_group_members (
	org_id     TEXT NOT NULL,
	group_id   TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	PRIMARY KEY (org_id, group_id, key_set_id),
	FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX key_set_group_members_key_set ON key_set_group_members (org_id, key_set_id);

CREATE TABLE access_rules (
	org_id           TEXT NOT NULL,
	id               TEXT NOT NULL,
	member_group_id  TEXT NOT NULL,
	key_set_group_id TEXT NOT NULL,
	schedule         TEXT NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, key_set_group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX access_rules_pair ON access_rules (org_id, member_group_id, key_set_group_id);
