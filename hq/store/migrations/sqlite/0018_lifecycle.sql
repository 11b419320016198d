-- keycab HQ schema, version 18 (sqlite): the lifecycle of an
-- organisation's records (issue 15 items 3 and 4).
--
-- legal_holds: a hold on a member, a key set or a site, with a reason, the
-- member responsible for it (owner_id) and an end (ends_us; 0: until
-- ended). While a hold is active (ended_us = 0 and ends_us is 0 or in the
-- future) it suspends erasure and retention for what it covers. target_id
-- is checked by the store (it names a row of the target's kind in the
-- same organisation); the owner is a member.
CREATE TABLE legal_holds (
	org_id     TEXT NOT NULL,
	id         TEXT NOT NULL,
	target     TEXT NOT NULL CHECK (target IN ('member', 'key_set', 'site')),
	target_id  TEXT NOT NULL CHECK (target_id <> ''),
	reason     TEXT NOT NULL CHECK (reason <> ''),
	owner_id   TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	ends_us    INTEGER NOT NULL DEFAULT 0,
	ended_by   TEXT NOT NULL DEFAULT '',
	ended_us   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id) REFERENCES orgs (id),
	FOREIGN KEY (org_id, owner_id) REFERENCES members (org_id, id)
) STRICT;
CREATE INDEX legal_holds_target ON legal_holds (org_id, target, target_id);

-- retention_rules: one row per organisation that set any (none: keep
-- everything). Each *_days is the age after which the retention job
-- deletes those rows; 0 keeps them.
--   personal_text_days  personal texts (recipient, notes) at HQ and on kiosks
--   deliveries_days     the organisation's mail delivery log
--   sessions_days       sessions and auth tokens this long past their expiry
--   admin_detail_days   the detail (before and after) of admin-log entries
CREATE TABLE retention_rules (
	org_id             TEXT PRIMARY KEY REFERENCES orgs (id),
	personal_text_days INTEGER NOT NULL DEFAULT 0 CHECK (personal_text_days >= 0),
	deliveries_days    INTEGER NOT NULL DEFAULT 0 CHECK (deliveries_days >= 0),
	sessions_days      INTEGER NOT NULL DEFAULT 0 CHECK (sessions_days >= 0),
	admin_detail_days  INTEGER NOT NULL DEFAULT 0 CHECK (admin_detail_days >= 0),
	updated_us         INTEGER NOT NULL
) STRICT;

-- The admin log stays append-only but for one change: retention may
-- replace an entry's detail with the marker 'removed by retention'
-- (everything else as it was).
DROP TRIGGER admin_log_no_update;
CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log
WHEN NOT (NEW.org_id IS OLD.org_id AND NEW.id IS OLD.id AND NEW.at_us IS OLD.at_us AND NEW.actor_id IS OLD.actor_id
	AND NEW.actor_role IS OLD.actor_role AND NEW.action IS OLD.action AND NEW.target IS OLD.target
	AND NEW.detail = 'removed by retention' AND OLD.detail IS NOT NEW.detail)
BEGIN SELECT RAISE(ABORT, 'keycab: admin_log is append-only'); END;
