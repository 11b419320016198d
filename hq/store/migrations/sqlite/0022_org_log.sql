-- keycab HQ schema, version 22 (sqlite): custody changes made at HQ
-- (issue 16; orglog.go, phonecustody.go). A take, return or hand-over
-- made at HQ (a phone scanning a key set's label, another app through the
-- API) is an entry of the organisation's own transparency log, in the
-- kiosks' entry format (audit.Event), RFC 6962 tree hashes stored with
-- each leaf as kiosk_leaves does, and a checkpoint signed with the
-- organisation's HQ log key. Its events join the kiosks' in events with
-- kiosk_id '' and cabinet_id '' (no kiosk made them), and its personal
-- texts the kiosks' in personal_texts, so that history, custody,
-- retention and erasure read one table each.
CREATE TABLE org_logs (
	org_id     TEXT PRIMARY KEY REFERENCES orgs (id),
	origin     TEXT NOT NULL UNIQUE,
	size       INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
	checkpoint BLOB
) STRICT;

CREATE TABLE org_log_leaves (
	org_id TEXT NOT NULL REFERENCES org_logs (org_id),
	idx    INTEGER NOT NULL CHECK (idx >= 0),
	leaf   BLOB NOT NULL,
	hashes BLOB NOT NULL,
	PRIMARY KEY (org_id, idx)
) STRICT;
CREATE TRIGGER org_log_leaves_no_update BEFORE UPDATE ON org_log_leaves
BEGIN SELECT RAISE(ABORT, 'keycab: org_log_leaves is append-only'); END;
CREATE TRIGGER org_log_leaves_no_delete BEFORE DELETE ON org_log_leaves
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: org_log_leaves is append-only'); END;

-- A custody request's id (the client's, one per intended change): the
-- same id again answers the first outcome instead of changing custody
-- twice (a replayed or retried request).
CREATE TABLE custody_requests (
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	id        TEXT NOT NULL,
	member_id TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	at_us     INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;

-- A take at HQ that needs more members to confirm (dual or triple
-- release) waits here until they do, each on their own phone, within
-- the policy's window (expires_us); then it is recorded and the row goes.
-- sealed holds the take's recipient and notes, sealed with the notes key
-- (rotate-notes-key drops the rows: they live a few minutes at most).
-- approvers is a JSON array of the members who confirmed so far.
CREATE TABLE pending_releases (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	key_set_id TEXT NOT NULL,
	member_id  TEXT NOT NULL,
	reason     TEXT NOT NULL,
	via        TEXT NOT NULL,
	sealed     BLOB,
	approvers  TEXT NOT NULL DEFAULT '[]',
	needed     INTEGER NOT NULL CHECK (needed BETWEEN 1 AND 2),
	expires_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, key_set_id) REFERENCES key_sets (org_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX pending_releases_key_set ON pending_releases (org_id, key_set_id);

-- events and personal_texts named their kiosk by a foreign key, which a
-- row of HQ's own log (kiosk_id '') cannot satisfy: both are rebuilt
-- with a trigger in its place that holds every other row to its kiosk,
-- and a kiosk that events name cannot be deleted (as on PostgreSQL since
-- migration 0008).
CREATE TABLE events_v22 (
	org_id        TEXT NOT NULL,
	kiosk_id      TEXT NOT NULL,
	log_index     INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	actor_id      TEXT NOT NULL DEFAULT '',
	key_set_id    TEXT NOT NULL DEFAULT '',
	cabinet_id    TEXT NOT NULL,
	at_us         INTEGER NOT NULL,
	due_us        INTEGER NOT NULL DEFAULT 0,
	detail        TEXT NOT NULL DEFAULT '',
	received_us   INTEGER NOT NULL,
	site_id       TEXT NOT NULL DEFAULT '',
	not_before_us INTEGER NOT NULL DEFAULT 0,
	reason        TEXT NOT NULL DEFAULT '',
	second_id     TEXT NOT NULL DEFAULT '',
	third_id      TEXT NOT NULL DEFAULT '',
	slot          INTEGER NOT NULL DEFAULT 0,
	via           TEXT NOT NULL DEFAULT '',
	context       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, kiosk_id, log_index)
) STRICT;
INSERT INTO events_v22 (org_id, kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, received_us,
	site_id, not_before_us, reason, second_id, third_id, slot, via, context)
SELECT org_id, kiosk_id, log_index, kind, actor_id, key_set_id, cabinet_id, at_us, due_us, detail, received_us,
	site_id, not_before_us, reason, second_id, third_id, slot, via, context FROM events;
DROP TABLE events;
ALTER TABLE events_v22 RENAME TO events;
CREATE INDEX events_at ON events (org_id, at_us, kiosk_id, log_index);
CREATE INDEX events_site ON events (org_id, site_id, at_us, kiosk_id, log_index);
CREATE INDEX events_key_set ON events (org_id, key_set_id, at_us, kiosk_id, log_index);
CREATE INDEX events_actor ON events (org_id, actor_id, at_us, kiosk_id, log_index);
CREATE INDEX events_kind ON events (org_id, kind, at_us, kiosk_id, log_index);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
	WHEN NOT EXISTS (SELECT 1 FROM orgs WHERE id = OLD.org_id AND purging = 1)
BEGIN SELECT RAISE(ABORT, 'keycab: events is append-only'); END;
CREATE TRIGGER events_kiosk BEFORE INSERT ON events
	WHEN NEW.kiosk_id <> '' AND NOT EXISTS (SELECT 1 FROM kiosks WHERE org_id = NEW.org_id AND id = NEW.kiosk_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER events_hq_log BEFORE INSERT ON events
	WHEN NEW.kiosk_id = '' AND NOT EXISTS (SELECT 1 FROM org_log_leaves WHERE org_id = NEW.org_id AND idx = NEW.log_index)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;

CREATE TABLE personal_texts_v22 (
	org_id    TEXT NOT NULL,
	kiosk_id  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	field     TEXT NOT NULL CHECK (field IN ('recipient', 'notes')),
	subject   TEXT NOT NULL,
	sealed    BLOB NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, log_index, field)
) STRICT;
INSERT INTO personal_texts_v22 (org_id, kiosk_id, log_index, field, subject, sealed)
SELECT org_id, kiosk_id, log_index, field, subject, sealed FROM personal_texts;
DROP TABLE personal_texts;
ALTER TABLE personal_texts_v22 RENAME TO personal_texts;
CREATE INDEX personal_texts_subject ON personal_texts (org_id, subject);
CREATE TRIGGER personal_texts_kiosk BEFORE INSERT ON personal_texts
	WHEN NEW.kiosk_id <> '' AND NOT EXISTS (SELECT 1 FROM kiosks WHERE org_id = NEW.org_id AND id = NEW.kiosk_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;

CREATE TRIGGER kiosks_in_use BEFORE DELETE ON kiosks
	WHEN EXISTS (SELECT 1 FROM events WHERE org_id = OLD.org_id AND kiosk_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER kiosks_personal_texts AFTER DELETE ON kiosks
BEGIN DELETE FROM personal_texts WHERE org_id = OLD.org_id AND kiosk_id = OLD.id; END;
