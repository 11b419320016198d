-- Schema version 5: notices (overdue keys, alarms, kiosks offline and back
-- online) and their mail queue. See notice.go.

-- Every organisation's id, kept by a trigger, so that HQ's notifier can
-- visit each tenant; it holds nothing else.
CREATE TABLE org_directory (
	org_id TEXT PRIMARY KEY
) STRICT;
INSERT INTO org_directory (org_id) SELECT id FROM orgs;
CREATE TRIGGER orgs_directory AFTER INSERT ON orgs
BEGIN
	INSERT OR IGNORE INTO org_directory (org_id) VALUES (NEW.id);
END;

-- One row per notice ever decided: the key (kind, subject, episode) is
-- unique, so a notice is sent once across restarts and HQ processes.
CREATE TABLE notices (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	key        TEXT NOT NULL,
	kind       TEXT NOT NULL,
	ref        TEXT NOT NULL,
	episode    INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, key)
) STRICT;
CREATE INDEX notices_kind ON notices (org_id, kind, ref);

-- The mail of each notice, one row per recipient: a retry queue that
-- survives restarts. state: pending until sent, dry-run, or failed after
-- the last attempt; lease_us keeps two HQ processes from sending one row
-- at the same time.
CREATE TABLE notice_outbox (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	notice_key TEXT NOT NULL,
	kind       TEXT NOT NULL,
	to_email   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_us    INTEGER NOT NULL,
	lease_us   INTEGER NOT NULL DEFAULT 0,
	state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dry-run', 'failed')),
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, notice_key, to_email),
	FOREIGN KEY (org_id, notice_key) REFERENCES notices (org_id, key)
) STRICT;
CREATE INDEX notice_outbox_due ON notice_outbox (org_id, state, next_us);
