-- keycab HQ schema, version 8 (sqlite): nothing changes. PostgreSQL's
-- version 8 checks a push's events and leaves against their kiosk once a
-- statement instead of by row foreign keys; SQLite keeps its foreign
-- keys, whose checks cost little in process.
SELECT 1;
