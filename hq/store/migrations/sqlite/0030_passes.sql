-- keycab HQ schema, version 30 (sqlite): offline passes (keycab.Pass,
-- sync/wire minor version 9). One row per pass HQ issued to a member for
-- some key sets (key_set_ids, a JSON array) and a window [from_us,
-- until_us); the signed code is not kept: HQ signs the same fields again
-- (Ed25519 is deterministic) to print or mail it. revoked_us and
-- revoked_by are set once; the bundle lists the revoked passes not yet
-- expired.
CREATE TABLE passes (
	org_id      TEXT NOT NULL,
	id          TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	key_set_ids TEXT NOT NULL,
	from_us     INTEGER NOT NULL,
	until_us    INTEGER NOT NULL,
	issued_us   INTEGER NOT NULL,
	issued_by   TEXT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	revoked_us  INTEGER NOT NULL DEFAULT 0,
	revoked_by  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX passes_issued ON passes (org_id, issued_us);
CREATE INDEX passes_revoked ON passes (org_id, revoked_us, until_us);
