-- keycab HQ schema, version 31 (postgres): external witnesses. See the
-- sqlite twin.
CREATE TABLE witness_cosignatures (
	org_id     TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	witness    TEXT NOT NULL,
	size       BIGINT NOT NULL CHECK (size > 0),
	checkpoint BYTEA NOT NULL,
	at_us      BIGINT NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, witness, size),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
);

CREATE TABLE witness_state (
	org_id   TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	witness  TEXT NOT NULL,
	size     BIGINT NOT NULL DEFAULT 0 CHECK (size >= 0),
	status   TEXT NOT NULL DEFAULT '',
	at_us    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, kiosk_id, witness),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
);

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['witness_cosignatures', 'witness_state'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = current_setting(''keycab.org_id'', true)) WITH CHECK (org_id = current_setting(''keycab.org_id'', true))', t);
	END LOOP;
END
$$;
