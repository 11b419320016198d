-- keycab HQ schema, version 14 (postgres): remote actions (keycab.RemoteAction,
-- sync/wire minor version 3). One row per action asked at HQ; the kiosk's
-- answer (outcome: '' pending, 'done' or 'refused'; refusal; the index of
-- the log entry that recorded it) is filled in once, by the kiosk's ack.
-- token holds a replacement fob's token text until the kiosk acks it.
CREATE TABLE remote_actions (
	org_id       TEXT NOT NULL,
	id           TEXT NOT NULL,
	kiosk_id     TEXT NOT NULL,
	kind         TEXT NOT NULL,
	slot         BIGINT NOT NULL DEFAULT 0,
	key_set_id   TEXT NOT NULL DEFAULT '',
	member_id    TEXT NOT NULL DEFAULT '',
	token        TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	requested_by TEXT NOT NULL,
	requested_us BIGINT NOT NULL,
	expires_us   BIGINT NOT NULL,
	outcome      TEXT NOT NULL DEFAULT '',
	refusal      TEXT NOT NULL DEFAULT '',
	log_index    BIGINT NOT NULL DEFAULT -1,
	done_us      BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX remote_actions_kiosk ON remote_actions (org_id, kiosk_id, outcome, requested_us);

ALTER TABLE remote_actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE remote_actions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON remote_actions
	USING (org_id = current_setting('keycab.org_id', true))
	WITH CHECK (org_id = current_setting('keycab.org_id', true));
