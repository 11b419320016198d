-- keycab HQ schema, version 29 (sqlite): camera stills of kiosk entries
-- (keycab.Policy Stills; sync/wire minor 11; stills.go). A kiosk sends,
-- beside the push, the JPEG whose SHA-256 an entry holds in
-- Detail["still"]; HQ keeps it only when the hash matches, one row per
-- entry, sealed with the notes key under associated data naming the row
-- (org, kiosk, index). subject is the entry's actor, for erasure; the
-- personal-text retention rule covers stills too. Rows go with their
-- kiosk.
CREATE TABLE still_images (
	org_id    TEXT NOT NULL,
	kiosk_id  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	subject   TEXT NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX still_images_subject ON still_images (org_id, subject);
