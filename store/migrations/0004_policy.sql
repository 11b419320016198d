-- keycab kiosk database, schema version 4: what HQ's policy and groups
-- add to the config snapshot. keysets.triple_release: the key set needs
-- two approvers besides the taker; keysets.groups: the key-set groups it
-- belongs to. members.access_until_ms: when the member's access to keys
-- ends (0: never); members.groups: the member groups they belong to.
-- Both groups columns are JSON arrays of group ids. access_rules: which
-- member group may take which key-set group's key sets, when (schedule:
-- JSON array of keycab.Window, empty any time).
ALTER TABLE keysets ADD COLUMN triple_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keysets ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE members ADD COLUMN access_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
CREATE TABLE access_rules (
	id               TEXT PRIMARY KEY,
	member_group_id  TEXT NOT NULL,
	keyset_group_id  TEXT NOT NULL,
	schedule         TEXT NOT NULL
) STRICT;
