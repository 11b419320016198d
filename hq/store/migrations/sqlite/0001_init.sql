-- keycab HQ schema, version 1, SQLite. Times are Unix microseconds
-- (0 means "never"); ids are text made by the store. Every tenant table
-- carries org_id, and every reference to a tenant row names (org_id, id).

CREATE TABLE orgs (
	id           TEXT PRIMARY KEY CHECK (id <> ''),
	name         TEXT NOT NULL,
	cap_key_sets INTEGER NOT NULL,
	cap_sites    INTEGER NOT NULL,
	cap_cabinets INTEGER NOT NULL,
	cap_members  INTEGER NOT NULL,
	badge_salt   BLOB NOT NULL,
	created_us   INTEGER NOT NULL
) STRICT;

CREATE TABLE sites (
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	id        TEXT NOT NULL,
	name      TEXT NOT NULL,
	address   TEXT NOT NULL DEFAULT '',
	time_zone TEXT NOT NULL DEFAULT '',
	notes     BLOB, -- AES-256-GCM sealed; see crypto.go
	PRIMARY KEY (org_id, id)
) STRICT;

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
) STRICT;
CREATE INDEX cabinets_site ON cabinets (org_id, site_id);

CREATE TABLE key_sets (
	org_id       TEXT NOT NULL,
	id           TEXT NOT NULL,
	site_id      TEXT NOT NULL,
	label        TEXT NOT NULL,
	sensitive    INTEGER NOT NULL DEFAULT 0,
	pin_required INTEGER NOT NULL DEFAULT 0,
	max_out_us   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
) STRICT;
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
) STRICT;
CREATE UNIQUE INDEX slots_key_set ON slots (org_id, key_set_id) WHERE key_set_id IS NOT NULL;

CREATE TABLE qr_tokens (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	hash       BLOB NOT NULL,
	issued_us  INTEGER NOT NULL,
	revoked_us INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, hash),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX qr_tokens_key_set ON qr_tokens (org_id, key_set_id);

CREATE TABLE members (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	id           TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL DEFAULT '',
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'site_manager', 'auditor', 'staff', 'contractor')),
	pin_hash     TEXT NOT NULL DEFAULT '',
	max_keys_out INTEGER NOT NULL DEFAULT 0,
	disabled     INTEGER NOT NULL DEFAULT 0,
	erased_us    INTEGER NOT NULL DEFAULT 0,
	created_us   INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;
CREATE UNIQUE INDEX members_email ON members (org_id, email) WHERE email <> '';

CREATE TABLE member_sites (
	org_id    TEXT NOT NULL,
	member_id TEXT NOT NULL,
	site_id   TEXT NOT NULL,
	PRIMARY KEY (org_id, member_id, site_id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id)
) STRICT;

CREATE TABLE badges (
	org_id     TEXT NOT NULL,
	hash       BLOB NOT NULL,
	member_id  TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	revoked_us INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, hash),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX badges_member ON badges (org_id, member_id);

CREATE TABLE jobs (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	descriptor TEXT NOT NULL DEFAULT '',
	from_us    INTEGER NOT NULL,
	until_us   INTEGER NOT NULL,
	CHECK (from_us < until_us),
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX jobs_member ON jobs (org_id, member_id);

CREATE TABLE job_key_sets (
	org_id     TEXT NOT NULL,
	job_id     TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	PRIMARY KEY (org_id, job_id, key_set_id),
	FOREIGN KEY (org_id, job_id) REFERENCES jobs (org_id, id) ON DELETE CASCADE,
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id)
) STRICT;

CREATE TABLE reservations (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	from_us    INTEGER NOT NULL,
	until_us   INTEGER NOT NULL,
	CHECK (from_us < until_us),
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX reservations_key_set ON reservations (org_id, key_set_id, from_us);

-- No two reservations of one key set overlap ([from, until) windows).
CREATE TRIGGER reservations_no_overlap_insert BEFORE INSERT ON reservations
WHEN EXISTS (SELECT 1 FROM reservations r
	WHERE r.org_id = NEW.org_id AND r.key_set_id = NEW.key_set_id
	AND r.from_us < NEW.until_us AND NEW.from_us < r.until_us)
BEGIN SELECT RAISE(ABORT, 'keycab: reservation overlaps'); END;
CREATE TRIGGER reservations_no_overlap_update BEFORE UPDATE ON reservations
WHEN EXISTS (SELECT 1 FROM reservations r
	WHERE r.org_id = NEW.org_id AND r.key_set_id = NEW.key_set_id AND r.id <> NEW.id
	AND r.from_us < NEW.until_us AND NEW.from_us < r.until_us)
BEGIN SELECT RAISE(ABORT, 'keycab: reservation overlaps'); END;

CREATE TABLE kiosks (
	org_id       TEXT NOT NULL,
	id           TEXT NOT NULL,
	cabinet_id   TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	public_key   BLOB,
	enrolled_us  INTEGER NOT NULL,
	last_seen_us INTEGER NOT NULL DEFAULT 0,
	log_size     INTEGER NOT NULL DEFAULT 0,
	revoked_us   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id)
) STRICT;
CREATE INDEX kiosks_cabinet ON kiosks (org_id, cabinet_id);

CREATE TABLE events (
	org_id      TEXT NOT NULL,
	kiosk_id    TEXT NOT NULL,
	log_index   INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	actor_id    TEXT NOT NULL DEFAULT '',
	key_set_id  TEXT NOT NULL DEFAULT '',
	cabinet_id  TEXT NOT NULL,
	at_us       INTEGER NOT NULL,
	due_us      INTEGER NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT '',
	received_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id)
) STRICT;
CREATE INDEX events_at ON events (org_id, at_us);
CREATE INDEX events_key_set ON events (org_id, key_set_id, at_us);

CREATE TABLE custody (
	org_id     TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	log_index  INTEGER NOT NULL,
	taken_us   INTEGER NOT NULL,
	due_us     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, key_set_id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id),
	FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id)
) STRICT;
CREATE INDEX custody_member ON custody (org_id, member_id);

CREATE TABLE alarms (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	cabinet_id TEXT NOT NULL,
	alarm      TEXT NOT NULL,
	log_index  INTEGER NOT NULL,
	raised_us  INTEGER NOT NULL,
	cleared_us INTEGER NOT NULL DEFAULT 0,
	cleared_by TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id),
	FOREIGN KEY (org_id, cabinet_id) REFERENCES cabinets (org_id, id)
) STRICT;
CREATE INDEX alarms_raised ON alarms (org_id, raised_us);

CREATE TABLE admin_log (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	at_us      INTEGER NOT NULL,
	actor_id   TEXT NOT NULL,
	actor_role TEXT NOT NULL,
	action     TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, id)
) STRICT;
CREATE INDEX admin_log_at ON admin_log (org_id, at_us);

-- HQ's admin-action log and the kiosks' synced events are append-only.
CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log
BEGIN SELECT RAISE(ABORT, 'keycab: admin_log is append-only'); END;
CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
BEGIN SELECT RAISE(ABORT, 'keycab: admin_log is append-only'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;
