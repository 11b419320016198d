-- keycab HQ schema, version 30 (postgres): offline passes. See the sqlite twin.
CREATE TABLE passes (
	org_id      TEXT NOT NULL,
	id          TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	key_set_ids TEXT NOT NULL,
	from_us     BIGINT NOT NULL,
	until_us    BIGINT NOT NULL,
	issued_us   BIGINT NOT NULL,
	issued_by   TEXT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	revoked_us  BIGINT NOT NULL DEFAULT 0,
	revoked_by  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE INDEX passes_issued ON passes (org_id, issued_us);
CREATE INDEX passes_revoked ON passes (org_id, revoked_us, until_us);

ALTER TABLE passes ENABLE ROW LEVEL SECURITY;
ALTER TABLE passes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON passes
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
