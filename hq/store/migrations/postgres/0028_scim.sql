-- keycab HQ schema, version 28 (postgres): SCIM provisioning. See the sqlite twin.
CREATE TABLE scim_users (
	org_id      TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	user_name   TEXT NOT NULL,
	external_id TEXT NOT NULL DEFAULT '',
	created_us  BIGINT NOT NULL,
	modified_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, member_id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (org_id, user_name);
CREATE TABLE scim_groups (
	org_id      TEXT NOT NULL,
	group_id    TEXT NOT NULL,
	external_id TEXT NOT NULL DEFAULT '',
	created_us  BIGINT NOT NULL,
	modified_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, group_id),
	FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE
);
ALTER TABLE scim_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON scim_users
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
ALTER TABLE scim_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON scim_groups
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
