-- keycab HQ schema, version 29 (postgres): camera stills of kiosk
-- entries. See the sqlite twin.
CREATE TABLE still_images (
	org_id    TEXT NOT NULL,
	kiosk_id  TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	subject   TEXT NOT NULL,
	sealed    BYTEA NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX still_images_subject ON still_images (org_id, subject);

ALTER TABLE still_images ENABLE ROW LEVEL SECURITY;
ALTER TABLE still_images FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON still_images
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
