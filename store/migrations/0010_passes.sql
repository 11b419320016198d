-- keycab kiosk database, schema version 10: offline passes (sync/wire
-- minor version 9, keycab.Pass).
--
-- revoked_passes: the bundle's revoked pass ids (Config.RevokedPasses),
-- replaced with each bundle like the rest of the snapshot.
-- pass_uses: when each pass last identified someone here, for the pass
-- cool-down (keycab.PassCoolDown); kept across restarts, pruned when old.
CREATE TABLE revoked_passes (
	pass_id TEXT PRIMARY KEY
) STRICT;
CREATE TABLE pass_uses (
	pass_id TEXT PRIMARY KEY,
	used_ms INTEGER NOT NULL
) STRICT;
