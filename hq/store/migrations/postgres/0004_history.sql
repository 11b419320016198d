-- keycab HQ schema, version 4 (postgres): history filtered and paged in
-- SQL (history.go). Each event carries the site of its cabinet when it
-- was recorded, and every filter of the history page has an index that
-- ends in the page order (at_us, kiosk_id, log_index), so a filtered page
-- is one index range read backwards and stops after its LIMIT.
ALTER TABLE events ADD COLUMN site_id TEXT NOT NULL DEFAULT '';

-- Backfill the events recorded before this version, across tenants: the
-- owner lifts the append-only trigger and forced row-level security for
-- this one statement, inside the migration's transaction.
ALTER TABLE events DISABLE TRIGGER events_append_only;
ALTER TABLE events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE cabinets NO FORCE ROW LEVEL SECURITY;
UPDATE events e SET site_id = c.site_id FROM cabinets c WHERE c.org_id = e.org_id AND c.id = e.cabinet_id;
ALTER TABLE cabinets FORCE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
ALTER TABLE events ENABLE TRIGGER events_append_only;

DROP INDEX events_at;
DROP INDEX events_key_set;
CREATE INDEX events_at ON events (org_id, at_us, kiosk_id, log_index);
CREATE INDEX events_site ON events (org_id, site_id, at_us, kiosk_id, log_index);
CREATE INDEX events_key_set ON events (org_id, key_set_id, at_us, kiosk_id, log_index);
CREATE INDEX events_actor ON events (org_id, actor_id, at_us, kiosk_id, log_index);
CREATE INDEX events_kind ON events (org_id, kind, at_us, kiosk_id, log_index);
