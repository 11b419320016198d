-- keycab HQ schema, version 4 (sqlite): history filtered and paged in SQL
-- (history.go). Each event carries the site of its cabinet when it was
-- recorded, and every filter of the history page has an index that ends
-- in the page order (at_us, kiosk_id, log_index), so a filtered page is
-- one index range read backwards and stops after its LIMIT.
ALTER TABLE events ADD COLUMN site_id TEXT NOT NULL DEFAULT '';

-- Backfill the events recorded before this version. Events are
-- append-only; the guard is lifted for this one statement only.
DROP TRIGGER events_no_update;
UPDATE events SET site_id = coalesce((SELECT c.site_id FROM cabinets c
	WHERE c.org_id = events.org_id AND c.id = events.cabinet_id), '');
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;

DROP INDEX events_at;
DROP INDEX events_key_set;
CREATE INDEX events_at ON events (org_id, at_us, kiosk_id, log_index);
CREATE INDEX events_site ON events (org_id, site_id, at_us, kiosk_id, log_index);
CREATE INDEX events_key_set ON events (org_id, key_set_id, at_us, kiosk_id, log_index);
CREATE INDEX events_actor ON events (org_id, actor_id, at_us, kiosk_id, log_index);
CREATE INDEX events_kind ON events (org_id, kind, at_us, kiosk_id, log_index);
