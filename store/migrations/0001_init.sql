-- keycab kiosk database, schema version 1.

-- The audit log. Entries, kept checkpoints, cosignatures and the log's
-- identity are append-only: triggers below abort UPDATE and DELETE.
CREATE TABLE log_meta (
	id           INTEGER PRIMARY KEY CHECK (id = 1),
	origin       TEXT    NOT NULL,
	verifier_key TEXT    NOT NULL,
	created_ms   INTEGER NOT NULL
) STRICT;

-- One row per entry: the exact leaf bytes and the tree hashes that
-- tlog.StoredHashes returned when it was appended, packed (audit.EncodeHashes).
-- The newest row also holds the log's head: the checkpoint for the tree
-- that ends with it, signed in the same transaction. The next append
-- clears it (the only change the triggers allow), so the head shares a
-- page with the newest entries and an append writes one page, not two.
CREATE TABLE log_entries (
	idx    INTEGER PRIMARY KEY CHECK (idx >= 0),
	leaf   BLOB    NOT NULL,
	hashes BLOB    NOT NULL,
	head   BLOB
) STRICT;

-- Checkpoints kept for good (see audit.RetainEvery).
CREATE TABLE log_checkpoints (
	size       INTEGER PRIMARY KEY,
	checkpoint BLOB    NOT NULL,
	why        TEXT    NOT NULL
) STRICT;

-- HQ's cosigned checkpoints, as received.
CREATE TABLE log_cosignatures (
	size        INTEGER NOT NULL,
	cosigner    TEXT    NOT NULL,
	checkpoint  BLOB    NOT NULL,
	received_ms INTEGER NOT NULL,
	PRIMARY KEY (size, cosigner)
) STRICT;

CREATE TRIGGER log_meta_no_update BEFORE UPDATE ON log_meta BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_meta_no_delete BEFORE DELETE ON log_meta BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
	WHEN NEW.idx IS NOT OLD.idx OR NEW.leaf IS NOT OLD.leaf OR NEW.hashes IS NOT OLD.hashes OR NEW.head IS NOT NULL
		OR NOT EXISTS (SELECT 1 FROM log_entries WHERE idx > OLD.idx)
	BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_cosignatures_no_update BEFORE UPDATE ON log_cosignatures BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER log_cosignatures_no_delete BEFORE DELETE ON log_cosignatures BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- Personal free text referenced from entries by audit.PersonalRef; erasable.
CREATE TABLE personal (
	ref     BLOB PRIMARY KEY,
	subject TEXT NOT NULL,  -- member id the text is about or belongs to
	salt    BLOB NOT NULL,
	text    TEXT NOT NULL
) STRICT;
CREATE INDEX personal_subject ON personal (subject);

-- The config snapshot the kiosk runs from (keycab.Config).
CREATE TABLE config (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	version    INTEGER NOT NULL,
	org_id     TEXT    NOT NULL,
	org_name   TEXT    NOT NULL,
	site_id    TEXT    NOT NULL,
	site_name  TEXT    NOT NULL,
	time_zone  TEXT    NOT NULL,
	badge_salt BLOB    NOT NULL,
	policy     TEXT    NOT NULL, -- JSON of keycab.Policy
	branding   TEXT    NOT NULL DEFAULT '{}', -- JSON of keycab.Branding
	applied_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE cabinet (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL CHECK (kind IN ('slotted', 'open-shelf')),
	door_lock   TEXT NOT NULL,
	door_sensor TEXT NOT NULL
) STRICT;

CREATE TABLE keysets (
	id           TEXT PRIMARY KEY,
	label        TEXT    NOT NULL,
	sensitive    INTEGER NOT NULL,
	pin_required INTEGER NOT NULL,
	max_out_ms   INTEGER NOT NULL
) STRICT;

CREATE TABLE keyset_tokens (
	hash       BLOB PRIMARY KEY,
	keyset_id  TEXT    NOT NULL REFERENCES keysets (id) ON DELETE CASCADE,
	issued_ms  INTEGER NOT NULL,
	revoked_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE slots (
	number    INTEGER PRIMARY KEY CHECK (number >= 1),
	lock      TEXT NOT NULL,
	sensor    TEXT NOT NULL,
	keyset_id TEXT UNIQUE REFERENCES keysets (id) ON DELETE SET NULL
) STRICT;

CREATE TABLE members (
	id           TEXT PRIMARY KEY,
	name         TEXT    NOT NULL,
	email        TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	site_ids     TEXT    NOT NULL, -- JSON array
	pin_hash     TEXT    NOT NULL,
	max_keys_out INTEGER NOT NULL,
	schedule     TEXT    NOT NULL, -- JSON array of keycab.Window
	disabled     INTEGER NOT NULL,
	erased_ms    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE badges (
	hash       BLOB PRIMARY KEY,
	member_id  TEXT    NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	kind       TEXT    NOT NULL,
	revoked_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE reservations (
	id        TEXT PRIMARY KEY,
	keyset_id TEXT    NOT NULL,
	member_id TEXT    NOT NULL,
	from_ms   INTEGER NOT NULL,
	until_ms  INTEGER NOT NULL CHECK (until_ms > from_ms)
) STRICT;

CREATE TABLE jobs (
	id         TEXT PRIMARY KEY,
	member_id  TEXT    NOT NULL,
	keyset_ids TEXT    NOT NULL, -- JSON array
	from_ms    INTEGER NOT NULL,
	until_ms   INTEGER NOT NULL CHECK (until_ms > from_ms),
	descriptor TEXT    NOT NULL
) STRICT;

-- Custody: who holds which key set now. Derived from the log (every row
-- change happens in the transaction that appends the matching entry).
CREATE TABLE custody (
	keyset_id     TEXT PRIMARY KEY,
	member_id     TEXT    NOT NULL,
	second_id     TEXT    NOT NULL,
	slot          INTEGER NOT NULL,
	log_index     INTEGER NOT NULL REFERENCES log_entries (idx) DEFERRABLE INITIALLY DEFERRED,
	taken_ms      INTEGER NOT NULL,
	due_ms        INTEGER NOT NULL,
	reason        TEXT    NOT NULL,
	recipient_ref BLOB,
	notes_ref     BLOB
) STRICT;

-- Sync state with HQ (one row).
CREATE TABLE sync_state (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	hq_url        TEXT    NOT NULL DEFAULT '',
	acked_size    INTEGER NOT NULL DEFAULT 0,
	cosigned_size INTEGER NOT NULL DEFAULT 0,
	last_push_ms  INTEGER NOT NULL DEFAULT 0,
	last_pull_ms  INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO sync_state (id) VALUES (1);
