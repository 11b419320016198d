-- keycab HQ schema, version 21 (sqlite): public transparency logs (issue
-- 18 item 2; publiclog.go). orgs.public_logs: the organisation publishes
-- its kiosks' logs (checkpoint, tiles, entry bundles) to anyone, without
-- a token; off by default. kiosk_directory maps a kiosk's id to its
-- organisation, kept by a trigger like org_directory, so that an
-- unauthenticated request for a kiosk's log can find the tenant to bind;
-- whether the log is public is then read inside that tenant.
ALTER TABLE orgs ADD COLUMN public_logs INTEGER NOT NULL DEFAULT 0 CHECK (public_logs IN (0, 1));

CREATE TABLE kiosk_directory (
	kiosk_id TEXT PRIMARY KEY,
	org_id   TEXT NOT NULL
) STRICT;
INSERT OR IGNORE INTO kiosk_directory (kiosk_id, org_id) SELECT id, org_id FROM kiosks;
CREATE TRIGGER kiosks_directory AFTER INSERT ON kiosks
BEGIN
	INSERT OR IGNORE INTO kiosk_directory (kiosk_id, org_id) VALUES (NEW.id, NEW.org_id);
END;
