CREATE EXTENSION IF NOT EXISTS btree_gist;

-- keycab HQ schema, version 1, PostgreSQL. Times are Unix microseconds
-- (0 means "never"); ids are text made by the store. Every tenant table
-- carries org_id, and every reference to a tenant row names (org_id, id).

CREATE TABLE orgs (
	id           TEXT PRIMARY KEY CHECK (id <> ''),
	name         TEXT NOT NULL,
	cap_key_sets INTEGER NOT NULL,
	cap_sites    INTEGER NOT NULL,
	cap_cabinets INTEGER NOT NULL,
	cap_members  INTEGER NOT NULL,
	badge_salt   BYTEA NOT NULL,
	created_us   BIGINT NOT NULL
);

CREATE TABLE sites (
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	id        TEXT NOT NULL,
	name      TEXT NOT NULL,
	address   TEXT NOT NULL DEFAULT '',
	time_zone TEXT NOT NULL DEFAULT '',
	notes     BYTEA, -- AES-256-GCM sealed; see crypto.go
	PRIMARY KEY (org_id, id)
);

CREATE TABLE cabinets (
	org_id      TEXT NOT NULL,
	id          TEXT NOT NULL,
	site_id     TEXT NOT NULL,
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL CHECK (kind IN ('slotted', 'open-shelf')),
	door_lock   TEXT NOT NULL DEFAULT '',
	door_sensor TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
);
CREATE INDEX cabinets_site ON cabinets (org_id, site_id);

CREATE TABLE key_sets (
	org_id       TEXT NOT NULL,
	id           TEXT NOT NULL,
	site_id      TEXT NOT NULL,
	label        TEXT NOT NULL,
	sensitive    BOOLEAN NOT NULL DEFAULT false,
	pin_required BOOLEAN NOT NULL DEFAULT false,
	max_out_us   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
);
CREATE INDEX key_sets_site ON key_sets (org_id, site_id);

CREATE TABLE slots (
	org_id     TEXT NOT NULL,
	cabinet_id TEXT NOT NULL,
	number     INTEGER NOT NULL CHECK (number >= 1),
	lock       TEXT NOT NULL DEFAULT '',
	sensor     TEXT NOT NULL DEFAULT '',
	key_set_id TEXT,
	PRIMARY KEY (org_id, cabinet_id, number),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id)
);
CREATE UNIQUE INDEX slots_key_set ON slots (org_id, key_set_id) WHERE key_set_id IS NOT NULL;

CREATE TABLE qr_tokens (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	issued_us  BIGINT NOT NULL,
	revoked_us BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, hash),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id) ON DELETE CASCADE
);
CREATE INDEX qr_tokens_key_set ON qr_tokens (org_id, key_set_id);

CREATE TABLE members (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL DEFAULT '',
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'site_manager', 'auditor', 'staff', 'contractor')),
	pin_hash     TEXT NOT NULL DEFAULT '',
	max_keys_out INTEGER NOT NULL DEFAULT 0,
	disabled     BOOLEAN NOT NULL DEFAULT false,
	erased_us    BIGINT NOT NULL DEFAULT 0,
	created_us   BIGINT NOT NULL,
	PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX members_email ON members (org_id, email) WHERE email <> '';

CREATE TABLE member_sites (
	org_id    TEXT NOT NULL,
	member_id TEXT NOT NULL,
	site_id   TEXT NOT NULL,
	PRIMARY KEY (org_id, member_id, site_id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
);

CREATE TABLE badges (
	org_id     TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	member_id  TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	revoked_us BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, hash),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE INDEX badges_member ON badges (org_id, member_id);

CREATE TABLE jobs (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	descriptor TEXT NOT NULL DEFAULT '',
	from_us    BIGINT NOT NULL,
	until_us   BIGINT NOT NULL,
	CHECK (from_us < until_us),
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE INDEX jobs_member ON jobs (org_id, member_id);

CREATE TABLE job_key_sets (
	org_id     TEXT NOT NULL,
	job_id     TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	PRIMARY KEY (org_id, job_id, key_set_id),
	FOREIGN KEY (org_id, job_id) REFERENCES jobs (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id)
);

CREATE TABLE reservations (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	from_us    BIGINT NOT NULL,
	until_us   BIGINT NOT NULL,
	CHECK (from_us < until_us),
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);
CREATE INDEX reservations_key_set ON reservations (org_id, key_set_id, from_us);

CREATE TABLE kiosks (
	org_id       TEXT NOT NULL,
	id           TEXT NOT NULL,
	cabinet_id   TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	public_key   BYTEA,
	enrolled_us  BIGINT NOT NULL,
	last_seen_us BIGINT NOT NULL DEFAULT 0,
	log_size     BIGINT NOT NULL DEFAULT 0,
	revoked_us   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id)
);
CREATE INDEX kiosks_cabinet ON kiosks (org_id, cabinet_id);

CREATE TABLE events (
	org_id      TEXT NOT NULL,
	kiosk_id    TEXT NOT NULL,
	log_index   BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	actor_id    TEXT NOT NULL DEFAULT '',
	key_set_id  TEXT NOT NULL DEFAULT '',
	cabinet_id  TEXT NOT NULL,
	at_us       BIGINT NOT NULL,
	due_us      BIGINT NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT '',
	received_us BIGINT NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id)
);
CREATE INDEX events_at ON events (org_id, at_us);
CREATE INDEX events_key_set ON events (org_id, key_set_id, at_us);

CREATE TABLE custody (
	org_id     TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	log_index  BIGINT NOT NULL,
	taken_us   BIGINT NOT NULL,
	due_us     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, key_set_id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id)
);
CREATE INDEX custody_member ON custody (org_id, member_id);

CREATE TABLE alarms (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	cabinet_id TEXT NOT NULL,
	alarm      TEXT NOT NULL,
	log_index  BIGINT NOT NULL,
	raised_us  BIGINT NOT NULL,
	cleared_us BIGINT NOT NULL DEFAULT 0,
	cleared_by TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id)
);
CREATE INDEX alarms_raised ON alarms (org_id, raised_us);

CREATE TABLE admin_log (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	at_us      BIGINT NOT NULL,
	actor_id   TEXT NOT NULL,
	actor_role TEXT NOT NULL,
	action     TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id)
);
CREATE INDEX admin_log_at ON admin_log (org_id, at_us);

-- No two reservations of one key set overlap ([from, until) windows).
ALTER TABLE reservations ADD CONSTRAINT reservations_no_overlap
	EXCLUDE USING gist (org_id WITH =, key_set_id WITH =, int8range(from_us, until_us) WITH &&);

-- HQ's admin-action log and the kiosks' synced events are append-only:
-- triggers stop every role (the owner too); the application role also
-- lacks the UPDATE, DELETE and TRUNCATE privileges (see Migrate).
CREATE FUNCTION keycab_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'keycab: % is append-only', TG_TABLE_NAME USING ERRCODE = 'KC001';
END
$$;
CREATE TRIGGER admin_log_append_only BEFORE UPDATE OR DELETE ON admin_log
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER admin_log_no_truncate BEFORE TRUNCATE ON admin_log
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
	FOR EACH ROW EXECUTE FUNCTION keycab_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION keycab_append_only();

-- Row-level security: a transaction sees and writes only the rows of the
-- organisation set by set_config('keycab.org_id', id, true). With none
-- set, current_setting(..., true) is NULL or '' and matches no row.
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON orgs
	USING (id = current_setting('keycab.org_id', true))
	WITH CHECK (id = current_setting('keycab.org_id', true));
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['sites', 'cabinets', 'key_sets', 'slots', 'qr_tokens',
		'members', 'member_sites', 'badges', 'jobs', 'job_key_sets', 'reservations',
		'kiosks', 'events', 'custody', 'alarms', 'admin_log']
	LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant ON %I'
			' USING (org_id = current_setting(''keycab.org_id'', true))'
			' WITH CHECK (org_id = current_setting(''keycab.org_id'', true))', t);
	END LOOP;
END
$$;
