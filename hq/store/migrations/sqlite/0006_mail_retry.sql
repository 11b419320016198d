-- Schema version 6: the retry queue of HQ's sign-in, reset and invitation
-- mail that failed to send (see notice.go). Bodies carry single-use links,
-- so they are stored sealed with the notes key (AES-256-GCM, the row id as
-- associated data), never in clear. The columns match notice_outbox;
-- queue is always 'auth' and org_id is the message's organisation ('' for
-- none): the table is global, like deliveries.
CREATE TABLE mail_retry (
	queue      TEXT NOT NULL DEFAULT 'auth',
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL,
	to_email   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 1,
	next_us    INTEGER NOT NULL,
	lease_us   INTEGER NOT NULL DEFAULT 0,
	state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dry-run', 'failed')),
	last_error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX mail_retry_due ON mail_retry (queue, state, next_us);
