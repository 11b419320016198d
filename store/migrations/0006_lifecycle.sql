-- keycab kiosk database, schema version 6: the record lifecycle (sync/wire
-- minor version 5, keycab.Config Erased, Held, PersonalTextDays).
--
-- personal.at_ms and personal.keyset: the wall time (ms) and key set of the
-- entry a text belongs to, for retention (ExpirePersonal) and for legal
-- holds on a key set. Texts kept before this version have at_ms 0: their
-- age is unknown here, and retention keeps them.
ALTER TABLE personal ADD COLUMN at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE personal ADD COLUMN keyset TEXT NOT NULL DEFAULT '';
CREATE INDEX personal_at ON personal (at_ms);

-- erasures: each member erased at this kiosk, once (Erase), with the index
-- of its member.erased entry.
CREATE TABLE erasures (
	member_id TEXT PRIMARY KEY,
	log_index INTEGER NOT NULL,
	erased_ms INTEGER NOT NULL
) STRICT;

-- config.lifecycle: the bundle's Held and PersonalTextDays as JSON
-- ({"Held": [...], "PersonalTextDays": n}), read by ExpirePersonal.
ALTER TABLE config ADD COLUMN lifecycle TEXT NOT NULL DEFAULT '{}';
