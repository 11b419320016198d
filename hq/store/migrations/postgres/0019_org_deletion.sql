-- keycab HQ schema, version 19 (postgres): deleting an organisation (issue
-- 15; org.go). An owner schedules the deletion (delete_after_us, after a
-- grace period); until then an owner can restore it, and its kiosks and
-- other members are refused. After it, HQ's purge removes every row of
-- the organisation.
ALTER TABLE orgs
	ADD COLUMN delete_requested_us BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN delete_requested_by TEXT NOT NULL DEFAULT '',
	ADD COLUMN delete_after_us BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN purging SMALLINT NOT NULL DEFAULT 0 CHECK (purging IN (0, 1));

-- The append-only tables still refuse every UPDATE, DELETE and TRUNCATE
-- by every role, the owner too, but a DELETE made inside a SECURITY
-- DEFINER function (current_user is then the function's owner, not the
-- session's user): the one such function that deletes from them is
-- keycab_purge_org below. The application role keeps no DELETE privilege
-- on them.
CREATE OR REPLACE FUNCTION keycab_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' AND current_user <> session_user THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'keycab: % is append-only', TG_TABLE_NAME USING ERRCODE = 'KC001';
END
$$;

-- keycab_purge_org(org, now_us) removes an organisation's rows from the
-- tables the application role may not delete from (the append-only logs,
-- the organisation directory and the mail retry queue), and only for an
-- organisation whose deletion is due at now_us (the store's clock). It
-- runs in the store's transaction, bound to the organisation
-- (keycab.org_id), so the tenant policies still show it no other
-- organisation's rows. The store then deletes the rest (org.go).
CREATE FUNCTION keycab_purge_org(p_org text, now_us bigint) RETURNS void
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
	DELETE FROM mail_retry WHERE org_id = p_org;
	DELETE FROM org_directory WHERE org_id = p_org;
END
$$;
REVOKE ALL ON FUNCTION keycab_purge_org(text, bigint) FROM PUBLIC;
