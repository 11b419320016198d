-- keycab HQ schema, version 10 (sqlite): a kiosk's clock as it reports
-- it in its heartbeat (sync/wire minor version 1): HQ's clock minus the
-- kiosk's, in milliseconds, 0 when in step or not said.
ALTER TABLE kiosk_heartbeats ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
