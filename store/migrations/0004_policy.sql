-- keycab kiosk database, schema version 4: what HQ's policy adds to the
-- config snapshot. keysets.triple_release: the key set needs two
-- approvers besides the taker. members.access_until_ms: when the
-- member's access to keys ends (0: never); members.groups: the member
-- groups they belong to, as a JSON array of group ids.
ALTER TABLE keysets ADD COLUMN triple_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN access_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
