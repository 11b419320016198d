-- keycab HQ schema, version 16 (postgres): the personal texts of kiosk
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
	log_index BIGINT NOT NULL,
	field     TEXT NOT NULL CHECK (field IN ('recipient', 'notes')),
	subject   TEXT NOT NULL,
	sealed    BYTEA NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index, field),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX personal_texts_subject ON personal_texts (org_id, subject);

ALTER TABLE personal_texts ENABLE ROW LEVEL SECURITY;
ALTER TABLE personal_texts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON personal_texts
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));

-- The notes key's generation (crypto.go: the first byte of every sealed
-- value) and a check value sealed under it, written by the first HQ
-- started with a key, so that an HQ given another key refuses to start.
-- keycab-hq rotate-notes-key re-seals every value and moves both on. It
-- holds nothing of any organisation: no org_id, no policy.
CREATE TABLE notes_key (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	generation  INTEGER NOT NULL CHECK (generation BETWEEN 1 AND 255),
	check_value BYTEA
);
INSERT INTO notes_key (id, generation) VALUES (1, 1);

-- The rotation re-seals the retried mail of accounts (org_id ''), which
-- the policies of 0009 let the application role read and insert but not
-- update.
CREATE POLICY account_update ON mail_retry FOR UPDATE
	USING (org_id = '' AND coalesce(current_setting('keycab.org_id', true), '') = '')
	WITH CHECK (org_id = '' AND coalesce(current_setting('keycab.org_id', true), '') = '');
