-- keycab kiosk database, schema version 2: the HQ this kiosk is enrolled
-- with, and the keys it pinned at enrolment (sync/agent).
CREATE TABLE hq_peer (
	id           INTEGER PRIMARY KEY CHECK (id = 1),
	hq_url       TEXT    NOT NULL,
	kiosk_id     TEXT    NOT NULL,
	org_id       TEXT    NOT NULL,
	cabinet_id   TEXT    NOT NULL,
	origin       TEXT    NOT NULL,
	cosigner_key TEXT    NOT NULL, -- verifies HQ's cosignatures (cosignature/v1)
	config_key   TEXT    NOT NULL, -- verifies HQ's config bundles (Ed25519 note key)
	enrolled_ms  INTEGER NOT NULL
) STRICT;
CREATE TRIGGER hq_peer_no_update BEFORE UPDATE ON hq_peer BEGIN SELECT RAISE(ABORT, 'pinned HQ keys do not change'); END;
