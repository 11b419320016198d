-- keycab HQ schema, version 18 (postgres): the lifecycle of an
-- organisation's records (issue 15 items 3 and 4). See the sqlite twin for
-- what each column means.
CREATE TABLE legal_holds (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	target     TEXT NOT NULL CHECK (target IN ('member', 'key_set', 'site')),
	target_id  TEXT NOT NULL CHECK (target_id <> ''),
	reason     TEXT NOT NULL CHECK (reason <> ''),
	owner_id   TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	ends_us    BIGINT NOT NULL DEFAULT 0,
	ended_by   TEXT NOT NULL DEFAULT '',
	ended_us   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id) REFERENCES orgs (id),
	FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id)
);
CREATE INDEX legal_holds_target ON legal_holds (org_id, target, target_id);

CREATE TABLE retention_rules (
	org_id             TEXT PRIMARY KEY REFERENCES orgs (id),
	personal_text_days BIGINT NOT NULL DEFAULT 0 CHECK (personal_text_days >= 0),
	deliveries_days    BIGINT NOT NULL DEFAULT 0 CHECK (deliveries_days >= 0),
	sessions_days      BIGINT NOT NULL DEFAULT 0 CHECK (sessions_days >= 0),
	admin_detail_days  BIGINT NOT NULL DEFAULT 0 CHECK (admin_detail_days >= 0),
	updated_us         BIGINT NOT NULL
);

ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE legal_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON legal_holds
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
ALTER TABLE retention_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE retention_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON retention_rules
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));

-- The admin log stays append-only but for one change: retention may
-- replace an entry's detail with the marker 'removed by retention'
-- (everything else as it was). The application role gets UPDATE on that
-- column only (migrate.go).
CREATE FUNCTION keycab_admin_log_retain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.org_id = OLD.org_id AND NEW.id = OLD.id AND NEW.at_us = OLD.at_us AND NEW.actor_id = OLD.actor_id
		AND NEW.actor_role = OLD.actor_role AND NEW.action = OLD.action AND NEW.target = OLD.target
		AND NEW.detail = 'removed by retention' AND OLD.detail <> NEW.detail THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'keycab: % is append-only', TG_TABLE_NAME USING ERRCODE = 'KC001';
END $$;
DROP TRIGGER admin_log_append_only ON admin_log;
CREATE TRIGGER admin_log_append_only BEFORE DELETE ON admin_log
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER admin_log_retain_only BEFORE UPDATE ON admin_log
	FOR EACH ROW EXECUTE FUNCTION keycab_admin_log_retain();
