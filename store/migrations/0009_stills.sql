-- keycab kiosk database, schema version 9: camera stills (keycab.Policy
-- Stills; sync/wire minor version 11).
--
-- stills: the JPEG the camera gave as an entry was made, under the hash
-- the entry holds (audit.StillKey, SHA-256 of jpeg), kept off the log like
-- a personal text: subject is the entry's actor (erasure deletes their
-- stills), at_ms and keyset the entry's time and key set (retention and
-- legal holds, as personal). Verify checks each row against its entry.
CREATE TABLE stills (
	ref     BLOB PRIMARY KEY,
	subject TEXT NOT NULL,
	at_ms   INTEGER NOT NULL,
	keyset  TEXT NOT NULL,
	jpeg    BLOB NOT NULL
) STRICT;
CREATE INDEX stills_subject ON stills (subject);
CREATE INDEX stills_at ON stills (at_ms);
