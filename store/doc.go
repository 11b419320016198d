// Package store is the kiosk's database: one SQLite file (modernc.org/sqlite,
// pure Go) holding the config snapshot the kiosk runs from, custody (who
// holds which key now), sync state, and the kiosk's signed audit log.
//
// The database runs in WAL mode with synchronous=FULL, foreign keys on and
// a busy timeout. Its schema is versioned by PRAGMA user_version and built
// by the embedded migrations in migrations/, applied in order at open; the
// file is marked with PRAGMA application_id so that keycab never mistakes
// another SQLite file for its own.
//
// Every append writes the entry, its tree hashes and a newly signed head
// checkpoint in one transaction, together with whatever custody change the
// entry records, so that after a crash the database holds either all of
// it or none of it. Triggers abort UPDATE and DELETE on the log's tables.
// Personal free text lives in the personal table, referenced from entries
// by a salted hash (audit.PersonalRef), and Erase removes it for good.
package store
