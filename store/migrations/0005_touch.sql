-- keycab kiosk database, schema version 5: touchscreen changes (sync/wire
-- minor version 2). Each badge linked, key fob label enrolled and slot
-- mapped at this kiosk's touchscreen, by the index of the admin.change entry that made
-- it, so that a bundle from HQ that does not reflect it yet (HQ has not
-- read that entry: log_index >= Config.ChangesThrough) does not make it
-- vanish: ApplyConfig applies it again over the bundle. refused is HQ's
-- reason once HQ refused the change ('' until then); a refused change is
-- never applied again and its change.refused entry is logged once. A
-- refusal of an entry this table does not hold gets a row with no hash.
CREATE TABLE touch_changes (
	log_index INTEGER PRIMARY KEY,
	change    TEXT NOT NULL,            -- keycab.ChangeTokenEnrolled, ChangeBadgeLinked or ChangeSlotMapped
	hash      BLOB NOT NULL,            -- TokenHash, or BadgeHash under the bundle's salt (X'' for a slot)
	target    TEXT NOT NULL,            -- the key set (token, slot: '' for none) or the member (badge)
	kind      TEXT NOT NULL DEFAULT '', -- the badge's kind
	slot      INTEGER NOT NULL DEFAULT 0, -- the slot's number (slot)
	refused   TEXT NOT NULL DEFAULT ''
) STRICT;
