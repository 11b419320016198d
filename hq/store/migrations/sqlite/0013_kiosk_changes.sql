-- keycab HQ schema, version 13 (sqlite): touchscreen changes (sync/wire
-- minor version 2). A badge or QR token made at a kiosk's touchscreen
-- names that kiosk in kiosk_id ('' for one made at HQ) and the index of
-- the kiosk's log entry that made it in kiosk_index. A change HQ refused
-- is kept in kiosk_refusals, one row per log entry, for the kiosk's next
-- bundle (keycab.Config.Refused) and for HQ's pages.
ALTER TABLE badges ADD COLUMN kiosk_id TEXT NOT NULL DEFAULT '';
ALTER TABLE badges ADD COLUMN kiosk_index INTEGER NOT NULL DEFAULT -1;
ALTER TABLE qr_tokens ADD COLUMN kiosk_id TEXT NOT NULL DEFAULT '';
ALTER TABLE qr_tokens ADD COLUMN kiosk_index INTEGER NOT NULL DEFAULT -1;
-- changes_through: one past the newest admin.change entry of the kiosk HQ
-- has applied or refused (keycab.Config.ChangesThrough).
ALTER TABLE kiosks ADD COLUMN changes_through INTEGER NOT NULL DEFAULT 0;

CREATE TABLE kiosk_refusals (
	org_id    TEXT NOT NULL,
	kiosk_id  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	change    TEXT NOT NULL, -- the entry's Detail["change"], e.g. badge.linked
	reason    TEXT NOT NULL,
	at_us     INTEGER NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
) STRICT;
