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
// Every append writes the entry, its tree hashes and its MAC
// (audit.Signer.TailMAC) in one transaction, together with whatever
// custody change the entry records, so that after a crash the database
// holds either all of it or none of it. A signed head over the new entries
// follows within Options.SealDelay (DefaultSealDelay, 250 ms) in a
// transaction of its own, and at once when Head, Checkpoints, Verify or
// Close is called, so that a push or an export always carries a head over
// every committed entry (the audit package doc says what the window
// between the two means). Open checks and signs what a crash left without
// a head. Triggers abort UPDATE and DELETE on the log's tables, except
// that a head may be set once on the newest entry and cleared from one
// that is no longer the newest.
// Personal free text lives in the personal table, referenced from entries
// by a salted hash (audit.PersonalRef), as does the hash of a badge linked
// at the touchscreen (LinkBadge, Record.Badge), and Erase removes it for good
// (ApplyConfig too, for each member a bundle lists in Config.Erased);
// ExpirePersonal deletes texts past the bundle's retention rule, except
// held ones, and logs personal.expired. Verify checks every kept text
// against its entry's reference and counts erased and expired ones
// (personalcheck.go states the rules).
//
// # The high-water mark
//
// SQLite trusts its write-ahead log only up to the first frame whose
// checksum is wrong: a few damaged bytes in the WAL (or a database file
// put back from an older copy) make committed, signed entries vanish, and
// what is left is a smaller log that is whole in itself and verifies. So
// the store keeps, outside the database, the newest signed checkpoint it
// knows reached the disk, in a file beside it (MarkPath: kiosk.db-mark).
// Its format, version 1 (MarkFormatVersion), is
//
//	keycab log mark 1\n
//	<a C2SP signed checkpoint note of the log, verbatim>
//
// The first line names the format and its version. The note is one of the
// log's own checkpoints, signed with the log's key (and perhaps cosigned
// by HQ); a mark that does not verify under one of the log's keys is not
// believed. The mark is written atomically (a temporary file, fsync,
// rename, fsync of the directory) after each commit that keeps a
// checkpoint for good (every RetainEvery entries, a key rotation, a new
// epoch), when HQ's cosignature of a pushed checkpoint is stored, and at
// Close; it only moves forward. At RetainEvery = 1024 that is one small
// file write per 1024 appends, and one per push.
//
// Open compares the log with its mark. A log shorter than the mark, a
// different root at the mark's size, a mark beside a missing or empty
// database or one with no log, and a mark that is unreadable, of another
// log or not signed by this log's key, are ErrBehindMark, saying what was
// found. A database opened to write is refused: the kiosk must not append
// over a lost tail (the check is made on a read-only connection first, so
// that the damaged WAL is not checkpointed away). Opened read-only (audit
// verify, backup) it opens, and Verify reports the fault as a problem at
// the log's size. No mark is no fault: a new database, or one from before
// the mark, gets one at its next kept checkpoint or Close. A backup holds
// no mark, and Restore refuses to run while the replaced log's mark is
// beside the new database (keycab-kiosk restore moves it aside with the
// database and key); the restored kiosk's new log writes its own.
package store
