-- keycab HQ schema, version 28 (sqlite): SCIM provisioning (issue 21
-- item 4; scim.go). A SCIM token is an api_keys row whose scopes are
-- 'scim' (no API route takes it; the SCIM edge takes nothing else).
-- What SCIM keeps besides the member and the group: a user's userName
-- (unique in the organisation, case-insensitively: kept lower-cased) and
-- the identity provider's externalId, and a group's externalId, with
-- when SCIM made and last changed them. They go with the member or group.
CREATE TABLE scim_users (
	org_id      TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	user_name   TEXT NOT NULL,
	external_id TEXT NOT NULL DEFAULT '',
	created_us  INTEGER NOT NULL,
	modified_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, member_id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (org_id, user_name);
CREATE TABLE scim_groups (
	org_id      TEXT NOT NULL,
	group_id    TEXT NOT NULL,
	external_id TEXT NOT NULL DEFAULT '',
	created_us  INTEGER NOT NULL,
	modified_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, group_id),
	FOREIGN KEY (org_id, group_id) REFERENCES groups (org_id, id) ON DELETE CASCADE
) STRICT;
