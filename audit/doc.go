// Package audit is keycab's signed, tamper-evident log: the format of its
// entries, the Merkle tree over them, the signed checkpoints that commit
// to the tree, proofs, verification and export.
//
// Each kiosk keeps its own log, the way Certificate Transparency logs and
// Go's checksum database do. This file documents format version 1.
//
// # Entries (leaves)
//
// An entry is one Event encoded once in CBOR with the core deterministic
// encoding of RFC 8949 section 4.2.1, and stored and hashed as exactly
// those bytes. The encoding is a map with small unsigned integer keys:
//
//	0  version        uint, always 1 in this format
//	1  kind           text, an event kind such as "key.taken" (keycab.EventKind)
//	2  time           int, the kiosk's wall clock in Unix milliseconds; untrusted
//	3  mono           int, nanoseconds since the kiosk's boot (monotonic)
//	4  boot           bytes(16), random identity of the boot
//	5  actor          text, the member id who acted; absent when none
//	6  second         text, the second member of a dual release
//	7  keyset         text, the key set id
//	8  slot           uint, the slot number counted from 1
//	9  due            int, due time in Unix milliseconds
//	10 reason         text, a reason preset code
//	11 recipient      bytes(32), reference to personal text (see below)
//	12 notes          bytes(32), reference to personal text
//	13 detail         map text to text, kind-specific, never personal data
//	14 prev           bytes(32), the leaf hash of the previous entry; absent
//	                  only in entry 0
//
// Absent fields are omitted. A decoder rejects unknown keys, duplicate
// keys, indefinite lengths, invalid UTF-8, another version, and any
// encoding that is not the deterministic one (it re-encodes and compares),
// so one event has exactly one valid byte string. An entry is at most
// MaxLeafSize bytes (the length prefix of a tlog-tiles entry bundle).
//
// Entries never name people: they carry member ids. Personal free text
// (a recipient's name, notes) is kept outside the log; the entry holds
// PersonalRef(salt, text), SHA-256 over a random 32-byte salt and the
// text. Erasing the text and its salt leaves the entry, and so the tree,
// unchanged, and the reference alone reveals nothing. A badge linked at a
// kiosk (an admin.change of change badge.linked) is kept the same way: the
// entry's Detail[BadgeRefKey] holds, in hex, the reference to the badge's
// hex hash, never the hash (Event.PersonalRefs lists an entry's
// references).
//
// # Tree
//
// The tree is the Merkle tree of RFC 6962 section 2.1 over the entries in
// log order, built with golang.org/x/mod/sumdb/tlog: a leaf hash is
// SHA-256(0x00 || entry), an interior hash SHA-256(0x01 || left || right).
// Order comes from the index, never from the time fields. The prev field
// chains each entry to the one before it, so a verifier names the exact
// entry that was edited, moved or removed even when the attacker also
// recomputed the stored tree hashes.
//
// # Checkpoints
//
// A checkpoint is a C2SP tlog-checkpoint: the text
//
//	<origin>\n<size in decimal>\n<root hash in standard base64>\n
//
// signed as a C2SP signed note (golang.org/x/mod/sumdb/note) with the
// kiosk's Ed25519 key, whose name is the origin. HQ's cosignatures are
// further signatures on the same note text.
//
// An append commits its entries without waiting for a signature; the
// writer signs a new head checkpoint over them within one second (the
// kiosk store: within store.DefaultSealDelay, 250 ms), at once when
// anything reads the head (before every push to HQ, every export, every
// verification by the writer), and at close. The head is kept on the
// newest entry's row, so a burst of appends shares one signature and each
// append writes about one page, as a plain insert does. A log's first
// append, a key rotation and every checkpoint kept for good are signed in
// the entry's own transaction. Checkpoints are kept for good at every
// multiple of RetainEvery entries, at a key rotation and at a new epoch
// (store's Retain); the newest head covers the rest, and the cosigned
// checkpoints HQ returns are kept beside the log. So a verifier checks a
// bounded number of signatures while the chain and the kept checkpoints
// still catch every edit.
//
// Between an append and its head, and after a crash in between until the
// writer opens the log again, the newest entries are not covered by a
// signature. Nothing committed is lost: each entry is stored with
// TailMAC, an HMAC under a key derived from the log's private key, and
// the writer, opening a log whose newest entries no head covers, checks
// that every one chains to the entry before it, matches its stored tree
// hashes and carries its MAC, and only then signs a head over them; an
// entry without the MAC (another program's) is tampering, and the log
// takes no more appends. The writer's open also checks that the head it
// starts from is its own signature over the stored tree at that size. A
// verifier without the key checks such entries for their chain and
// hashes, which does not prove them: whoever can edit the file can also
// move the head back to an older checkpoint the file holds (a kept or
// cosigned one) and rewrite or add entries after it, and that looks the
// same. So keycab audit verify --db counts them and fails unless told to
// accept them unproven (--allow-unsigned); the kiosk's next open, with
// the key, settles them, and so does HQ's copy of what was pushed. A
// restore names only the signed part of a backup in its new log's epoch.
// A head behind a kept or cosigned checkpoint, and entries with no head
// at all, are faults.
//
// # Export
//
// Export writes a C2SP tlog-tiles directory: "checkpoint", hash tiles of
// height 8 at tile/<L>/<N>[.p/<W>], and entry bundles at
// tile/entries/<N>[.p/<W>], each entry as a big-endian uint16 length and
// the entry's bytes. Any standard verifier can check it.
package audit

// FormatVersion is the version of the entry format this package writes.
const FormatVersion = 1

// RetainEvery is how often (in entries) a checkpoint is kept for good.
const RetainEvery = 1024
