-- keycab HQ schema, version 7 (postgres): time anchoring (synclog.go).
-- Each event's lower bound by HQ's clock: the HQ time of the newest
-- clock.anchored entry before it in its kiosk's log, in microseconds (0:
-- none). Its upper bound is received_us, when HQ cosigned the push that
-- brought it.
ALTER TABLE events ADD COLUMN not_before_us BIGINT NOT NULL DEFAULT 0;
