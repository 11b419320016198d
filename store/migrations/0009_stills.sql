-- keycab kiosk database, schema version 9: camera stills (keycab.Policy
-- Stills; sync/wire minor version 11).
--
-- stills: the JPEG the camera gave as entry idx was made, whose SHA-256
-- the entry holds (audit.StillKey), kept off the log like a personal
-- text: subject is the entry's actor (erasure deletes their stills), at_ms
-- and keyset the entry's time and key set (retention and legal holds, as
-- personal). Keyed by entry, not by hash: two entries may hold the same
-- still (a camera showing the same frame). Verify checks each row against
-- its entry.
CREATE TABLE stills (
	idx     INTEGER PRIMARY KEY,
	ref     BLOB NOT NULL,
	subject TEXT NOT NULL,
	at_ms   INTEGER NOT NULL,
	keyset  TEXT NOT NULL,
	jpeg    BLOB NOT NULL
) STRICT;
CREATE INDEX stills_subject ON stills (subject);
CREATE INDEX stills_at ON stills (at_ms);
