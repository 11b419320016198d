-- keycab HQ schema, version 3 (sqlite): kiosk sync (sync/ingest, synclog.go).
-- Every table is a tenant table (org_id first) with composite foreign keys.

-- Single-use enrolment tokens, stored as SHA-256 of the secret part.
CREATE TABLE enrol_tokens (
	org_id     TEXT NOT NULL,
	hash       BLOB NOT NULL,
	cabinet_id TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER NOT NULL DEFAULT 0,
	kiosk_id   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, hash),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id) ON DELETE CASCADE
) STRICT;

-- A kiosk's log as HQ holds it: identity, the verified head, the last
-- cosignature, quarantine, and the config bundle version last issued.
CREATE TABLE kiosk_logs (
	org_id            TEXT NOT NULL,
	kiosk_id          TEXT NOT NULL,
	origin            TEXT NOT NULL,
	verifier_key      TEXT NOT NULL,
	size              INTEGER NOT NULL DEFAULT 0,
	checkpoint        BLOB,
	cosigned          BLOB,
	quarantined_us    INTEGER NOT NULL DEFAULT 0,
	quarantine_reason TEXT NOT NULL DEFAULT '',
	config_version    INTEGER NOT NULL DEFAULT 0,
	config_hash       BLOB,
	PRIMARY KEY (org_id, kiosk_id),
	UNIQUE (org_id, origin),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id)
) STRICT;

-- The kiosk's leaves exactly as signed, with their stored tree hashes
-- (audit.EncodeHashes), so HQ recomputes and proves the tree itself.
CREATE TABLE kiosk_leaves (
	org_id   TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	idx      INTEGER NOT NULL CHECK (idx >= 0),
	leaf     BLOB NOT NULL,
	hashes   BLOB NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, idx),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
) STRICT;

-- Fork evidence: both signed checkpoints (or the conflicting leaf).
CREATE TABLE log_evidence (
	org_id   TEXT NOT NULL,
	id       TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	at_us    INTEGER NOT NULL,
	what     TEXT NOT NULL,
	theirs   BLOB NOT NULL,
	ours     BLOB NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
) STRICT;

-- Request nonces seen inside the replay window.
CREATE TABLE request_nonces (
	org_id     TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	expires_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, nonce),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX request_nonces_expiry ON request_nonces (org_id, kiosk_id, expires_us);

-- The newest heartbeat of each kiosk.
CREATE TABLE kiosk_heartbeats (
	org_id         TEXT NOT NULL,
	kiosk_id       TEXT NOT NULL,
	at_us          INTEGER NOT NULL,
	door           TEXT NOT NULL DEFAULT '',
	alarms         TEXT NOT NULL DEFAULT '',
	log_size       INTEGER NOT NULL DEFAULT 0,
	cosigned_size  INTEGER NOT NULL DEFAULT 0,
	config_version INTEGER NOT NULL DEFAULT 0,
	software       TEXT NOT NULL DEFAULT '',
	disk_free      INTEGER NOT NULL DEFAULT 0,
	temperature_mc INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, kiosk_id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TRIGGER kiosk_leaves_no_update BEFORE UPDATE ON kiosk_leaves
BEGIN SELECT RAISE(ABORT, 'keycab: kiosk_leaves is append-only'); END;
CREATE TRIGGER kiosk_leaves_no_delete BEFORE DELETE ON kiosk_leaves
BEGIN SELECT RAISE(ABORT, 'keycab: kiosk_leaves is append-only'); END;
CREATE TRIGGER log_evidence_no_update BEFORE UPDATE ON log_evidence
BEGIN SELECT RAISE(ABORT, 'keycab: log_evidence is append-only'); END;
CREATE TRIGGER log_evidence_no_delete BEFORE DELETE ON log_evidence
BEGIN SELECT RAISE(ABORT, 'keycab: log_evidence is append-only'); END;
CREATE TRIGGER kiosk_logs_size_grows BEFORE UPDATE ON kiosk_logs WHEN NEW.size < OLD.size
BEGIN SELECT RAISE(ABORT, 'keycab: kiosk_logs size is append-only'); END;
