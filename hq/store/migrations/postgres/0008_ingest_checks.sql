-- keycab HQ schema, version 8 (postgres): a push's events and leaves are
-- checked against their kiosk once a statement, not once a row.
--
-- A push brings thousands of events and as many leaves. As foreign keys,
-- events -> kiosks and kiosk_leaves -> kiosk_logs ran a query and took a
-- row lock for every row inserted: a quarter of PostgreSQL's work on a
-- 100,000-event backlog (BenchmarkSyncBacklog). The triggers below keep
-- what the keys promised: an insert names kiosks that exist, whose rows
-- it locks FOR KEY SHARE as the keys did, once per statement (over the
-- statement's new rows); a kiosk (or its log) that events (or leaves)
-- name can be neither deleted nor renamed. The errors carry the foreign
-- key's SQLSTATE and wording, so the store reads them as before. SQLite
-- keeps its foreign keys, whose checks cost little in process.

ALTER TABLE events DROP CONSTRAINT events_org_id_kiosk_id_fkey;
ALTER TABLE kiosk_leaves DROP CONSTRAINT kiosk_leaves_org_id_kiosk_id_fkey;

-- keycab_has_parent(parent, parent_key): the rows a statement inserted
-- (transition table "added", key columns org_id, kiosk_id) all name a row
-- of parent (key columns org_id, parent_key), which this locks.
CREATE FUNCTION keycab_has_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	want bigint;
	got bigint;
BEGIN
	SELECT count(*) INTO want FROM (SELECT DISTINCT org_id, kiosk_id FROM added) a;
	EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I p WHERE (p.org_id, p.%I) IN (SELECT DISTINCT org_id, kiosk_id FROM added) FOR KEY SHARE OF p) l',
		TG_ARGV[0], TG_ARGV[1]) INTO got;
	IF got < want THEN
		RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, TG_NAME
			USING ERRCODE = '23503', DETAIL = format('A row names a %s row that does not exist.', TG_ARGV[0]);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER events_kiosk AFTER INSERT ON events REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_has_parent('kiosks', 'id');
CREATE TRIGGER kiosk_leaves_log AFTER INSERT ON kiosk_leaves REFERENCING NEW TABLE AS added
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_has_parent('kiosk_logs', 'kiosk_id');

-- keycab_in_use(key, child, constraint): a row (key columns org_id and
-- key) that rows of child (org_id, kiosk_id) name keeps its key.
CREATE FUNCTION keycab_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	old_key text := to_jsonb(OLD) ->> TG_ARGV[0];
	used boolean;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.org_id = OLD.org_id AND to_jsonb(NEW) ->> TG_ARGV[0] = old_key THEN
		RETURN NEW;
	END IF;
	-- The check below reads the newest committed rows only at READ
	-- COMMITTED (the store's level); a foreign key would also see rows a
	-- later snapshot holds, so other levels are refused, to be retried.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'keycab: % may be deleted or renamed only at READ COMMITTED', TG_TABLE_NAME
			USING ERRCODE = '40001';
	END IF;
	EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE org_id = $1 AND kiosk_id = $2)', TG_ARGV[1])
		INTO used USING OLD.org_id, old_key;
	IF used THEN
		RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "%"', TG_TABLE_NAME, TG_ARGV[2], TG_ARGV[1]
			USING ERRCODE = '23503', DETAIL = format('Rows of %s name it.', TG_ARGV[1]);
	END IF;
	IF TG_OP = 'UPDATE' THEN
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER kiosks_in_use BEFORE UPDATE OF org_id, id OR DELETE ON kiosks
	FOR EACH ROW EXECUTE FUNCTION keycab_in_use('id', 'events', 'events_kiosk');
CREATE TRIGGER kiosk_logs_in_use BEFORE UPDATE OF org_id, kiosk_id OR DELETE ON kiosk_logs
	FOR EACH ROW EXECUTE FUNCTION keycab_in_use('kiosk_id', 'kiosk_leaves', 'kiosk_leaves_log');

-- Names resolve in the schema, never in a session's temporary tables
-- (pg_temp, searched first unless named, comes last).
ALTER FUNCTION keycab_has_parent() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION keycab_in_use() SET search_path = pg_catalog, public, pg_temp;
