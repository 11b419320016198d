-- keycab HQ schema, version 19 (sqlite): deleting an organisation (issue
-- 15; org.go). An owner schedules the deletion (delete_after_us, after a
-- grace period); until then an owner can restore it, and its kiosks and
-- other members are refused. After it, HQ's purge removes every row of
-- the organisation: purging marks the organisation in the purge's own
-- transaction so that the append-only tables let exactly its rows go.
ALTER TABLE orgs ADD COLUMN delete_requested_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN delete_requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE orgs ADD COLUMN delete_after_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN purging INTEGER NOT NULL DEFAULT 0 CHECK (purging IN (0, 1));

DROP TRIGGER admin_log_no_delete;
CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: admin_log is append-only'); END;
DROP TRIGGER events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;
DROP TRIGGER kiosk_leaves_no_delete;
CREATE TRIGGER kiosk_leaves_no_delete BEFORE DELETE ON kiosk_leaves
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: kiosk_leaves is append-only'); END;
DROP TRIGGER log_evidence_no_delete;
CREATE TRIGGER log_evidence_no_delete BEFORE DELETE ON log_evidence
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: log_evidence is append-only'); END;
