-- keycab HQ schema, version 31 (sqlite): external witnesses (issue 18
-- item 3; witness.go). HQ sends every kiosk's checkpoints to the witnesses
-- its operator configures (C2SP tlog-witness add-checkpoint) and keeps
-- their cosignatures. witness_cosignatures: a witness's cosignature of a
-- kiosk's checkpoint of size, as the kiosk's signed checkpoint with the
-- witness's signature lines; witness_state: per kiosk and witness, the
-- size the witness said it holds (its last cosignature or its 409) and
-- the last outcome. A split view the witness refuses is log_evidence
-- with an alarm and an admin-log entry.
CREATE TABLE witness_cosignatures (
	org_id     TEXT NOT NULL,
	kiosk_id   TEXT NOT NULL,
	witness    TEXT NOT NULL,
	size       INTEGER NOT NULL CHECK (size > 0),
	checkpoint BLOB NOT NULL,
	at_us      INTEGER NOT NULL,
	PRIMARY KEY (org_id, kiosk_id, witness, size),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
) STRICT;

CREATE TABLE witness_state (
	org_id   TEXT NOT NULL,
	kiosk_id TEXT NOT NULL,
	witness  TEXT NOT NULL,
	size     INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
	status   TEXT NOT NULL DEFAULT '',
	at_us    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org_id, kiosk_id, witness),
	FOREIGN KEY (org_id, kiosk_id) REFERENCES kiosk_logs (org_id, kiosk_id)
) STRICT;
