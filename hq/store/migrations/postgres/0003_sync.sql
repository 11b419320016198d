-- keycab HQ schema, version 3 (postgres): kiosk sync (sync/ingest, synclog.go).
-- Every table is a tenant table (org_id first) with composite foreign keys.

-- Single-use enrolment tokens, stored as SHA-256 of the secret part.
CREATE TABLE enrol_tokens (
	org_id     TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	cabinet_id TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	used_us    BIGINT NOT NULL DEFAULT 0,
	kiosk_id   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, hash),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id) ON DELETE CASCADE
);

-- A kiosk's log as HQ holds it: identity, the verified head, the last
-- cosignature, quarantine, and the config bundle version last issued.
CREATE TABLE kiosk_logs (
	org_id            TEXT NOT NULL,
	kiosk_id          TEXT NOT NULL,
	origin            TEXT NOT NULL,
	verifier_key      TEXT NOT NULL,
	size              BIGINT NOT NULL DEFAULT 0,
	checkpoint        BYTEA,
	cosigned          BYTEA,
	quarantined_us    BIGINT NOT NULL DEFAULT 0,
	quarantine_reason TEXT NOT NULL DEFAULT '',
	config_version    BIGINT NOT NULL DEFAULT 0,
	config_hash       BYTEA,
	PRIMARY KEY (org_id, kiosk_id),
	UNIQUE (org_id, origin),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id)
);

-- The kiosk's leaves exactly as signed, with their stored tree hashes
-- (audit.EncodeHashes), so HQ recomputes and proves the tree itself.
CREATE TABLE kiosk_leaves (
	org_id   TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	idx      BIGINT NOT NULL CHECK (idx >= 0),
	leaf     BYTEA NOT NULL,
	hashes   BYTEA NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, idx),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
);

-- Fork evidence: both signed checkpoints (or the conflicting leaf).
CREATE TABLE log_evidence (
	org_id   TEXT NOT NULL,
	id       TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	at_us    BIGINT NOT NULL,
	what     TEXT NOT NULL,
	theirs   BYTEA NOT NULL,
	ours     BYTEA NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
);

-- Request nonces seen inside the replay window.
CREATE TABLE request_nonces (
	org_id     TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	expires_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, nonce),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX request_nonces_expiry ON request_nonces (org_id, kiosk_id, expires_us);

-- The newest heartbeat of each kiosk.
CREATE TABLE kiosk_heartbeats (
	org_id         TEXT NOT NULL,
	kiosk_id       TEXT NOT NULL,
	at_us          BIGINT NOT NULL,
	door           TEXT NOT NULL DEFAULT '',
	alarms         TEXT NOT NULL DEFAULT '',
	log_size       BIGINT NOT NULL DEFAULT 0,
	cosigned_size  BIGINT NOT NULL DEFAULT 0,
	config_version BIGINT NOT NULL DEFAULT 0,
	software       TEXT NOT NULL DEFAULT '',
	disk_free      BIGINT NOT NULL DEFAULT 0,
	temperature_mc BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, kiosk_id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
);

CREATE TRIGGER kiosk_leaves_append_only BEFORE UPDATE OR DELETE ON kiosk_leaves
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER kiosk_leaves_no_truncate BEFORE TRUNCATE ON kiosk_leaves
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER log_evidence_append_only BEFORE UPDATE OR DELETE ON log_evidence
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER log_evidence_no_truncate BEFORE TRUNCATE ON log_evidence
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_append_only();
CREATE FUNCTION keycab_size_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.size < OLD.size THEN
		RAISE EXCEPTION 'keycab: % size is append-only', TG_TABLE_NAME USING ERRCODE = 'KC001';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER kiosk_logs_size_grows BEFORE UPDATE ON kiosk_logs
	FOR EACH ROW EXECUTE FUNCTION keycab_size_grows();

-- Row-level security as in 0001. The application role's grants are made
-- by Migrate from SyncTables (synclog.go).
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['enrol_tokens', 'kiosk_logs', 'kiosk_leaves', 'log_evidence',
		'request_nonces', 'kiosk_heartbeats']
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I'
			' USING (org_id = current_setting(''keycab.org_id'', true))'
			' WITH CHECK (org_id = current_setting(''keycab.org_id'', true))', t);
	END LOOP;
END
$$;
