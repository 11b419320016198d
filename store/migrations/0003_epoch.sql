-- keycab kiosk database, schema version 3: a restored kiosk's pending log
-- epoch (store.Restore). A restore copies the config and custody of a
-- backup into a new database that has no log yet; when the kiosk's new
-- log is created (at enrolment, when HQ names it), the first entry is a
-- log.epoch entry naming the previous log's origin, size and root, and the
-- custody rows are recreated pointing at it. The row is deleted in that
-- same transaction.
CREATE TABLE log_epoch_pending (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	prev_origin   TEXT    NOT NULL,
	prev_kiosk    TEXT    NOT NULL, -- its kiosk id at HQ ('' if never enrolled)
	hq_url        TEXT    NOT NULL, -- the HQ it was enrolled with ('' if none)
	prev_size     INTEGER NOT NULL,
	prev_root     TEXT    NOT NULL, -- base64 tlog root of prev_size entries
	prev_cosigned INTEGER NOT NULL, -- the size HQ had cosigned in the backup
	backup_ms     INTEGER NOT NULL, -- when the backup was taken (its head's time)
	restored_ms   INTEGER NOT NULL,
	custody       TEXT    NOT NULL  -- JSON array of the backup's custody rows
) STRICT;
