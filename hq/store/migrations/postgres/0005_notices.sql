-- Schema version 5: notices (overdue keys, alarms, kiosks offline and back
-- online) and their mail queue. See notice.go.

-- Every organisation's id, kept by a trigger, so that HQ's notifier can
-- visit each tenant; it holds nothing else. The owner reads orgs past its
-- own forced row-level security only for this backfill.
CREATE TABLE org_directory (
	org_id TEXT PRIMARY KEY
);
ALTER TABLE orgs NO FORCE ROW LEVEL SECURITY;
INSERT INTO org_directory (org_id) SELECT id FROM orgs;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE FUNCTION keycab_org_directory() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO org_directory (org_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
	RETURN NEW;
END
$$;
CREATE TRIGGER orgs_directory AFTER INSERT ON orgs
	FOR EACH ROW EXECUTE FUNCTION keycab_org_directory();

-- One row per notice ever decided: the key (kind, subject, episode) is
-- unique, so a notice is sent once across restarts and HQ processes.
CREATE TABLE notices (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	key        TEXT NOT NULL,
	kind       TEXT NOT NULL,
	ref        TEXT NOT NULL,
	episode    BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, key)
);
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
	created_us BIGINT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_us    BIGINT NOT NULL,
	lease_us   BIGINT NOT NULL DEFAULT 0,
	state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dry-run', 'failed')),
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, notice_key, to_email),
	FOREIGN KEY (org_id, notice_key) REFERENCES notices (org_id, key)
);
CREATE INDEX notice_outbox_due ON notice_outbox (org_id, state, next_us);

-- Row-level security as in 0001. The application role's grants are made
-- by Migrate (migrate.go).
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['notices', 'notice_outbox']
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I'
			' USING (org_id = current_setting(''keycab.org_id'', true))'
			' WITH CHECK (org_id = current_setting(''keycab.org_id'', true))', t);
	END LOOP;
END
$$;
