-- keycab kiosk database, schema version 7: custody changes made at HQ
-- (sync/wire minor version 6, keycab.Config.HQCustody).
--
-- hq_custody: for each key set, the newest HQ log entry whose custody
-- change this kiosk has adopted (ApplyConfig), so each is adopted once.
CREATE TABLE hq_custody (
	keyset_id TEXT PRIMARY KEY,
	hq_index  INTEGER NOT NULL
) STRICT;
