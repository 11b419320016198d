-- keycab HQ schema, version 23 (sqlite): scheduled report mail (issue 17
-- item 4; reportmail.go). A member subscribes to a report by mail for
-- one site or all they see: still_out (the key sets still out at a time
-- of day: "keys out at shift end"), daily or weekly activity, sent at
-- minute_of_day in the site's time zone (UTC for all sites), weekly on
-- Mondays. The notifier claims each mail as a notice keyed by the
-- subscription and the day (notices), so it goes once; the mail's
-- unsubscribe link is signed and removes the row.
CREATE TABLE report_subscriptions (
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	id            TEXT NOT NULL,
	member_id     TEXT NOT NULL,
	site_id       TEXT NOT NULL DEFAULT '',
	kind          TEXT NOT NULL CHECK (kind IN ('still_out', 'daily', 'weekly')),
	minute_of_day INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
	created_us    INTEGER NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX report_subscriptions_member ON report_subscriptions (org_id, member_id);
