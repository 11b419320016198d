-- keycab HQ schema, version 23 (postgres): scheduled report mail. See the
-- sqlite twin.
CREATE TABLE report_subscriptions (
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	id            TEXT NOT NULL,
	member_id     TEXT NOT NULL,
	site_id       TEXT NOT NULL DEFAULT '',
	kind          TEXT NOT NULL CHECK (kind IN ('still_out', 'daily', 'weekly')),
	minute_of_day INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
	created_us    BIGINT NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE INDEX report_subscriptions_member ON report_subscriptions (org_id, member_id);
ALTER TABLE report_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON report_subscriptions
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
