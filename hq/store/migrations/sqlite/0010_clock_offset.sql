-- keycab HQ schema, version 10 (sqlite): what a kiosk's heartbeat tells
-- of its clock and its config. clock_offset_ms: HQ's clock minus the
-- kiosk's, in milliseconds, as the kiosk measured it (sync/wire minor
-- version 1; 0 when in step or not said). config_applied_us: when HQ
-- first heard the kiosk report the config version it reports (0: before
-- this version of the schema).
ALTER TABLE kiosk_heartbeats ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kiosk_heartbeats ADD COLUMN config_applied_us INTEGER NOT NULL DEFAULT 0;
