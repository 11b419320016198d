-- keycab HQ schema, version 22 (postgres): custody changes made at HQ
-- (issue 16). See the sqlite twin for what each table means.
CREATE TABLE org_logs (
	org_id     TEXT PRIMARY KEY REFERENCES orgs (id),
	origin     TEXT NOT NULL UNIQUE,
	size       BIGINT NOT NULL DEFAULT 0 CHECK (size >= 0),
	checkpoint BYTEA
);

CREATE TABLE org_log_leaves (
	org_id TEXT NOT NULL REFERENCES org_logs (org_id),
	idx    BIGINT NOT NULL CHECK (idx >= 0),
	leaf   BYTEA NOT NULL,
	hashes BYTEA NOT NULL,
	PRIMARY KEY (org_id, idx)
);
CREATE TRIGGER org_log_leaves_append_only BEFORE UPDATE OR DELETE ON org_log_leaves
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER org_log_leaves_no_truncate BEFORE TRUNCATE ON org_log_leaves
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_append_only();

CREATE TABLE custody_requests (
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	id        TEXT NOT NULL,
	member_id TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	at_us     BIGINT NOT NULL,
	PRIMARY KEY (org_id, id)
);

ALTER TABLE org_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON org_logs
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
ALTER TABLE org_log_leaves ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_log_leaves FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON org_log_leaves
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
ALTER TABLE custody_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE custody_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON custody_requests
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));

-- A take at HQ that needs more members to confirm (dual or triple
-- release) waits here until they do, each on their own phone, within
-- the policy's window (expires_us); then it is recorded and the row goes.
-- sealed holds the take's recipient and notes, sealed with the notes key
-- (rotate-notes-key drops the rows: they live a few minutes at most).
-- approvers is a JSON array of the members who confirmed so far.
CREATE TABLE pending_releases (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	reason     TEXT NOT NULL,
	via        TEXT NOT NULL,
	sealed     BYTEA,
	approvers  TEXT NOT NULL DEFAULT '[]',
	needed     BIGINT NOT NULL CHECK (needed BETWEEN 1 AND 2),
	expires_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id) ON DELETE CASCADE
);
CREATE INDEX pending_releases_key_set ON pending_releases (org_id, key_set_id);
ALTER TABLE pending_releases ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_releases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON pending_releases
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));

-- events of HQ's own log have kiosk_id '': the statement trigger holds
-- the others to their kiosk as before, and these to a leaf of the log.
CREATE FUNCTION keycab_events_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	want bigint;
	got bigint;
BEGIN
	SELECT count(*) INTO want FROM (SELECT DISTINCT org_id, kiosk_id FROM added WHERE kiosk_id <> '') a;
	SELECT count(*) INTO got FROM (SELECT 1 FROM kiosks p WHERE (p.org_id, p.id) IN
		(SELECT DISTINCT org_id, kiosk_id FROM added WHERE kiosk_id <> '') FOR KEY SHARE OF p) l;
	IF got = want THEN
		SELECT count(*) INTO want FROM added WHERE kiosk_id = '';
		SELECT count(*) INTO got FROM added a JOIN org_log_leaves l ON l.org_id = a.org_id AND l.idx = a.log_index WHERE a.kiosk_id = '';
	END IF;
	IF got < want THEN
		RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, TG_NAME
			USING ERRCODE = '23503', DETAIL = 'A row names a kiosk or an HQ log entry that does not exist.';
	END IF;
	RETURN NULL;
END
$$;
ALTER FUNCTION keycab_events_parent() SET search_path = pg_catalog, public, pg_temp;
DROP TRIGGER events_kiosk ON events;
CREATE TRIGGER events_kiosk AFTER INSERT ON events REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_events_parent();

-- personal_texts: the same, a row at a time (texts are few).
ALTER TABLE personal_texts DROP CONSTRAINT personal_texts_org_id_kiosk_id_fkey;
CREATE FUNCTION keycab_personal_text_parent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.kiosk_id <> '' AND NOT EXISTS (SELECT 1 FROM kiosks WHERE org_id = NEW.org_id AND id = NEW.kiosk_id FOR KEY SHARE) THEN
		RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, TG_NAME
			USING ERRCODE = '23503', DETAIL = 'A row names a kiosk that does not exist.';
	END IF;
	RETURN NEW;
END
$$;
ALTER FUNCTION keycab_personal_text_parent() SET search_path = pg_catalog, public, pg_temp;
CREATE TRIGGER personal_texts_kiosk BEFORE INSERT OR UPDATE OF org_id, kiosk_id ON personal_texts
	FOR EACH ROW EXECUTE FUNCTION keycab_personal_text_parent();

CREATE OR REPLACE FUNCTION keycab_purge_org(p_org text, now_us bigint) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
	AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM orgs WHERE id = p_org AND delete_after_us <> 0 AND delete_after_us <= now_us) THEN
		RAISE EXCEPTION 'keycab: organisation % is not due for deletion', p_org USING ERRCODE = 'KC002';
	END IF;
	DELETE FROM events WHERE org_id = p_org;
	DELETE FROM admin_log WHERE org_id = p_org;
	DELETE FROM kiosk_leaves WHERE org_id = p_org;
	DELETE FROM log_evidence WHERE org_id = p_org;
	DELETE FROM org_log_leaves WHERE org_id = p_org;
	DELETE FROM mail_retry WHERE org_id = p_org;
	DELETE FROM org_directory WHERE org_id = p_org;
END
$$;
