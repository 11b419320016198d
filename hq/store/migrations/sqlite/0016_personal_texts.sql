-- keycab HQ schema, version 16 (sqlite): the personal texts of kiosk
-- entries (recipient, notes), sent beside the leaves that commit to them
-- (sync/wire minor 4) and checked against those commitments at ingest
-- (personal.go). One row per entry and field, sealed at field level with
-- the notes key (crypto.go): the sealed plaintext is the kiosk's 32-byte
-- salt followed by the text, so that the text can be checked against its
-- leaf again; associated data binds it to (org, kiosk, index, field).
-- subject is the member the text belongs to (the entry's actor), for
-- erasure. Rows go with their kiosk.
CREATE TABLE personal_texts (
	org_id    TEXT NOT NULL,
	kiosk_id  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	field     TEXT NOT NULL CHECK (field IN ('recipient', 'notes')),
	subject   TEXT NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index, field),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX personal_texts_subject ON personal_texts (org_id, subject);

-- The notes key's generation (crypto.go: the first byte of every sealed
-- value) and a check value sealed under it, written by the first HQ
-- started with a key, so that an HQ given another key refuses to start.
-- keycab-hq rotate-notes-key re-seals every value and moves both on.
CREATE TABLE notes_key (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	generation  INTEGER NOT NULL CHECK (generation BETWEEN 1 AND 255),
	check_value BLOB
) STRICT;
INSERT INTO notes_key (id, generation) VALUES (1, 1);
