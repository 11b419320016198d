// Package wire defines the messages of keycab's kiosk-to-HQ sync protocol,
// version 1, and the signatures they carry. The kiosk side is sync/agent,
// the HQ side hq/kioskapi. The protocol is modelled on the C2SP
// tlog-witness protocol: HQ acts as a witness of each kiosk's log.
//
// # Versions
//
// The major version is in the path: every endpoint lives under
// /v1/kiosk/. A breaking change gets a new path (/v2/) and HQ serves both
// for as long as kiosks of the old one exist. Within a major version,
// every JSON message carries "v", the minor version of the sender
// (Minor). Minor versions only add optional fields whose zero value means
// "not said", and receivers ignore fields they do not know, so a kiosk
// and an HQ of different minor versions talk without negotiation. A
// receiver never rejects a message because its v is larger than its own.
//
// # Endpoints
//
//	POST /v1/kiosk/enrol       EnrolRequest -> EnrolResponse (no request signature: the token is the credential)
//	POST /v1/kiosk/push        PushRequest  -> 200 PushResponse (cosigned)
//	                                           409 PushResponse (HQ's size; resend from there)
//	                                           422 PushResponse (fork: the kiosk is quarantined)
//	GET  /v1/kiosk/config?after=N&wait=S
//	                           -> 200 ConfigResponse (a bundle newer than N)
//	                           -> 204 (nothing newer within S seconds: long poll)
//	POST /v1/kiosk/heartbeat   Heartbeat -> HeartbeatResponse
//
// Errors other than 409 and 422 are answered with HQ's one error body,
// keycab.ErrorBody ({"error": {"code": ..., "message": ...}}, the body
// of every HQ edge; it carries no "v"), and the status of HQ's one
// mapping (hq.StatusOf): 400 malformed (a message, path or query holding
// text HQ cannot store, NUL or invalid UTF-8, included), 401 not
// authenticated (bad signature, stale date, replayed nonce, unknown or
// revoked kiosk), 403 not allowed, 404 not found, 409 conflict or a cap
// reached, 413 too large, 422 evidence that fails to verify, 429 locked
// out, 5xx try again later. Request bodies may be sent with
// Content-Encoding: gzip; HQ bounds the decoded size (MaxBody).
//
// Minor version 1 brought that body; HQs of minor version 0 answered
// Error ({"v": 0, "code": ..., "error": "message"}) and sent ETAMPERED,
// ECAPACITY and ELOCKED as 500. A kiosk reads both bodies; a kiosk of
// minor version 0 acts on the status alone and shows a body it cannot
// read as text, so it keeps working against a newer HQ.
//
// In a config poll, after (a config version, 0 if absent) must be a
// whole number, 0 or more, and wait (seconds, none if absent) a number,
// 0 or more; each is given at most once. Anything else is 400, never a
// full bundle.
//
// HQ stores a heartbeat only when every field is in range, and answers
// 400 naming the field otherwise: v, log_size, cosigned_size,
// config_version and disk_free not negative; cosigned_size at most
// log_size and at most the size HQ holds (HQ cosigned no more);
// config_version at most the newest HQ issued to the kiosk; door "open",
// "closed" or empty; at most MaxAlarms alarms, each a keycab.Alarm* kind
// (one may be open more than once); software at most MaxSoftware bytes
// of UTF-8 without control characters; temperature_mc between
// MinTemperatureMC and MaxTemperatureMC; clock_offset_ms at most
// MaxClockOffsetMS either way.
//
// # Request signatures
//
// Every request but enrol is signed with the kiosk's Ed25519 key (the
// key of its log) in a small scheme documented at SignRequest: the
// signature covers the method, path and query, the kiosk's identity, a
// date, a random nonce and the SHA-256 digest of the body as sent. HQ
// accepts a date within ±ReplayWindow of its clock and each nonce once
// (kept in the database for the window), so a captured request cannot be
// replayed, and a kiosk identifies only itself: HQ serves it only its own
// cabinet's data.
//
// The date is HQ's time as the kiosk knows it, not the kiosk's wall
// clock, which may read 1970 (a Pi without a clock battery, before
// network time) or be hours off. The kiosk measures the offset from the
// standard Date header of every HQ answer; when the offset it measures
// moves by more than two seconds it takes it, and a request HQ refused
// with 401 meanwhile is signed again at the corrected time and sent once
// more (HQ checks the date before it does anything). It never signs a
// date earlier than the newest HQ cosignature it holds, and checks HQ's
// TLS certificate at the same time. Its heartbeat reports the offset
// (clock_offset_ms, minor version 1); its log keeps its own times, which
// HQ flags where its anchors and receipt times show them off.
//
// # Push
//
// The kiosk sends the leaves [old_size, size) of its log, exactly as
// stored (base64 of the deterministic CBOR bytes, audit/doc.go), and its
// signed checkpoint (C2SP tlog-checkpoint, signed note) of size. HQ
// verifies the kiosk's signature, recomputes the root from its stored
// tree plus the new leaves under a per-kiosk lock, stores the leaves and
// their events, and answers with the same checkpoint cosigned by HQ.
//
//   - old_size must be HQ's size; otherwise 409 with HQ's size (and its
//     last cosigned checkpoint), and the kiosk resends from there.
//   - A checkpoint HQ already holds (size <= HQ's size, same root as HQ's
//     tree at that size, the same leaves) is an identical resend, and
//     nothing is stored twice. As C2SP tlog-witness has a witness answer,
//     HQ never cosigns afresh a checkpoint older than the newest it has
//     cosigned (a cosignature asserts that HQ has seen no larger tree):
//     one of HQ's size gets 200 with the cosignature HQ already gave it,
//     an older one 409 with HQ's size and its newest cosigned checkpoint,
//     from which the kiosk resumes. (HQs before 2026-12 answered 200 and
//     cosigned an older checkpoint again with the current time; kiosks of
//     every minor version handle both answers.)
//   - A checkpoint whose root differs from HQ's tree at that size, or a
//     new checkpoint whose root is not HQ's cosigned tree plus the sent
//     leaves, is a fork: 422, the kiosk is quarantined, an
//     alarm raised (keycab.AlarmEquivocation), and both checkpoints kept
//     as evidence.
//
// # Cosignatures
//
// HQ cosigns in the C2SP tlog-cosignature format (cosignature/v1, the
// format of tlog-witness): a note signature line by HQ's cosigner key
// whose signature is an 8-byte big-endian Unix timestamp in seconds
// followed by the Ed25519 signature of
//
//	"cosignature/v1\ntime <timestamp>\n" + checkpoint text
//
// and whose key hash is the first 4 bytes of SHA-256(name || "\n" ||
// 0x04 || public key). The timestamp is HQ's clock at cosigning, which
// bounds from above the time of every entry the checkpoint covers. The
// cosigner's verifier key is written name+hash+base64(0x04 || key); see
// NewCosigner and NewCosignatureVerifier. Standard note libraries ignore
// the line as a signature by an unknown key, so a cosigned checkpoint is
// still a valid kiosk checkpoint.
//
// # Config bundles
//
// A config bundle is a signed note (Ed25519, HQ's config key) whose text
// is
//
//	keycab config bundle v1
//	<kiosk id>
//	<version in decimal>
//	<keycab.Config as one line of JSON (encoding/json)>
//
// The version increases strictly for each kiosk. The kiosk verifies the
// signature with the pinned config key, checks that the bundle names it
// and its cabinet, and applies only versions newer than its own.
//
// # Touchscreen changes (minor version 2)
//
// A key fob label enrolled, a badge linked or a slot mapped at a kiosk's
// touchscreen travels to HQ as the signed admin.change entry the kiosk
// logs for it (no message of its own): Detail["change"] is
// keycab.ChangeTokenEnrolled (the key set in the entry's key set,
// Detail["token_hash"] the hex keycab.TokenHash),
// keycab.ChangeBadgeLinked (Detail["member"], Detail["badge_hash"] the
// hex keycab.BadgeHash under the bundle's salt, Detail["badge_kind"];
// from minor version 8 a reference in place of the hash, below) or
// keycab.ChangeSlotMapped (Detail["slot"], the slot's number, and the key
// set it now homes in the entry's key set, empty for none), and the
// entry's actor is the admin who made it.
// HQ applies it in the transaction that stores the push, as that admin
// would make it on the dashboard (the same role checks, at the kiosk's
// site). A change HQ cannot apply (an admin HQ does not know or whose
// role may not, a key set or member deleted or of another site, a badge
// or label HQ holds for another or revoked, a malformed detail) is
// refused: HQ keeps the refusal and logs it, and the push still lands
// whole, since the entry is signed and in the kiosk's tree. Of a badge or
// label linked both at HQ and at a kiosk, the first HQ applies wins.
//
// The config bundle answers them in two fields of keycab.Config, absent
// (zero) before minor version 2: ChangesThrough, one past the newest
// admin.change entry of the kiosk HQ has applied or refused, and Refused,
// the newest refusals (index, change, reason). The kiosk applies its own
// changes of index ChangesThrough and later again over every bundle, so
// that none vanishes before HQ has read it, never applies a refused one
// again, and logs each refusal once as an admin.change entry of change
// keycab.ChangeRefused, which HQ does not apply. A kiosk of minor version
// 1 or less ignores both fields; an HQ of minor version 1 or less keeps
// the entries as history only.
//
// # Remote actions (minor version 3)
//
// Minor version 3 adds remote actions: HQ asks a kiosk to release a slot
// or its door, to mark a key set out returned, lost or handed over to
// another member, or to take a key set's replacement fob. Two endpoints,
// signed like every kiosk request:
//
//	GET  /v1/kiosk/actions?wait=S  -> 200 ActionsResponse (actions waiting, oldest first)
//	                                -> 204 (none within S seconds: long poll)
//	POST /v1/kiosk/actions/ack     ActionAck -> 204
//
// Each action is a signed note by HQ's config key (the key the kiosk
// pinned at enrolment for bundles) whose text is
//
//	keycab remote action v1
//	<kiosk id>
//	<Action as one line of JSON (encoding/json)>
//
// The kiosk verifies the signature and that the note names it, refuses
// an action whose expires (Unix seconds, HQ's clock, as the kiosk knows
// it) has passed, and refuses a release (release_slot, release_door)
// unless its policy allows remote release (keycab.Policy.RemoteRelease).
// It records every action it acts on or refuses in its log with the
// action's id and who asked at HQ (keycab.RemoteActionID, keycab.RemoteBy):
// remote.release, key.returned, key.lost, key.handed_over, remote.done or
// remote.refused. Then it acks: outcome "done" or "refused", the refusal
// (at most MaxRefusal bytes) and the index of that entry. HQ keeps the
// first ack of an action and hands out only actions not yet acked and
// not expired; an ack of an action already acked is a no-op, of another
// kiosk's or an unknown action 404 (final: the kiosk does not resend it).
// A kiosk that restarts before its ack answers from its log, where the
// action's entry names it: an action is carried out at most once. An action whose signature fails is
// acked as refused when its id can be read, and never acted on. A kiosk
// of an older minor version never asks, and HQ's actions for it expire.
//
// # Personal texts (minor version 4)
//
// An entry never holds personal text: its recipient and notes fields
// hold audit.PersonalRef(salt, text), a salted SHA-256 reference, and the
// kiosk keeps the salt and the text in its personal table. From minor
// version 4 a push carries, in "texts", each text the pushed entries
// reference that the kiosk still keeps: {"index": the entry's index in
// the log, "field": "recipient" or "notes", "salt": the 32-byte salt
// (base64), "text": the text}. A text already erased at the kiosk
// (store.Erase), one longer than audit.MaxPersonalText bytes, or one that
// no longer matches its reference (the kiosk's audit verify names it as
// tampering) is left out; the reference alone travels, as before.
// The reference is not sent again: HQ reads it from the entry.
//
// HQ keeps a text only when audit.PersonalRef(salt, text) is the
// reference the entry at index carries in field. A push with a text that
// does not match (its text or salt edited, or moved to another entry or
// field), names an entry outside the push or a field the entry has no
// reference in, is sent twice, or is empty, too long, NUL or invalid
// UTF-8, is refused whole with 400 (EINVALID: the message is wrong; not
// 422, which a kiosk takes for a fork), and nothing of it is stored. HQ
// seals the texts it keeps with its notes key (hq/store/personal.go);
// an HQ without one checks them and keeps none. Texts of an identical
// resend are checked and not stored again. An HQ of minor version 3 or
// less ignores the field; a kiosk of minor version 3 or less sends none,
// and its pushes land as before.
//
// # Record lifecycle (minor version 5)
//
// Minor version 5 adds three optional fields to the bundle's config
// (keycab.Config), each omitted when empty:
//
//	Erased            every member of the organisation erased at HQ (ids)
//	Held              the ids (members, key sets, sites) under an active legal hold
//	PersonalTextDays  the retention rule for personal texts, in days (0: keep)
//
// An erased member is absent from Members and Badges. The kiosk erases
// each listed member it still holds anything of (a member row, a badge,
// a personal text) and has not erased before: it deletes their personal
// texts and badges, blanks their name, logs member.erased naming them
// (Detail "member"), and compacts the database (secure_delete, VACUUM, a
// truncating WAL checkpoint) so the bytes are in neither file; the
// running controller reloads. It deletes the personal texts of entries
// older than PersonalTextDays whose actor and key set are not held (all
// are kept while its own site is held), logging personal.expired with the
// cut-off (Detail "before", Unix ms) and the held ids (Detail "held",
// comma-separated); keycab audit verify counts such texts as removed by
// retention, not as missing. Entries are never touched. A kiosk of an
// older minor version ignores the fields (and keeps what HQ erased); HQ
// sends them to every kiosk. (Minor version 4 is the personal-text side
// channel.)
//
// # Custody changes made at HQ (minor version 6)
//
// Minor version 6 adds HQCustody to the bundle's config, omitted when
// empty: for each key set of the kiosk's site that the organisation's HQ
// log names (a phone's take, return or hand-over), its newest entry
// there (Index, At by HQ's clock) and who has the key set now as HQ's
// custody says (MemberID, Since, Due; no MemberID when it is back). The
// kiosk adopts each entry once: where its own custody of the key set
// differs and was not changed after At, it logs custody.hq (KeySet,
// Second the new holder or none, Detail hq_index and holder, the holder
// before) and custody follows; HQ applies nothing for custody.hq, which
// it already holds. A kiosk of an older minor version ignores the field.
//
// # Languages (minor version 7)
//
// Minor version 7 adds Language to the bundle's site and to each member,
// omitted when empty: a locale of internal/i18n (en-GB, en-US, de). The
// kiosk's screens speak the site's; a member's own, when set, overrides
// it for that member's session. A kiosk of an older minor version
// ignores both and speaks English; an empty or unknown one is en-GB.
//
// # Badges linked at a touchscreen (minor version 8)
//
// A badge hash in a signed entry
// could never be erased, and with the organisation's badge salt and a
// short RFID code the code is found by trying them all. From minor
// version 8 a kiosk's badge.linked entry carries no hash: its
// Detail["badge_ref"] (audit.BadgeRefKey) holds, in hex,
// audit.PersonalRef(salt, hex badge hash), and the kiosk keeps the salt
// and the hex hash in its personal table under the linked member, like a
// recipient or notes. The push that carries the entry carries the value
// in "texts" as field "badge" ({"index", "field": "badge", "salt",
// "text": the hex keycab.BadgeHash}), checked like a text: a value that
// does not match the entry's reference, or a badge value for an entry
// with no badge reference, is refused whole with 400 and nothing of the
// push is stored. HQ applies the link from that checked value (and keeps
// it only in its badges table, not as a sealed text); an entry whose
// value did not come (erased at the kiosk before the push) is refused as
// a change. Erasing the member removes the value on both sides (the
// kiosk's store.Erase, HQ's EraseMember); the entry, with its reference
// alone, verifies unchanged, and the kiosk's audit verify checks a kept
// value against its reference (an edited one is tampering, an erased one
// counted as erased). Retention never deletes a badge value. Entries of
// older kiosks, with Detail["badge_hash"], are applied as before, and
// their hashes stay in their entries (entries are immutable). An HQ of an
// older minor version refuses a change that has no badge_hash.
//
// # Offline passes (minor version 9)
//
// A pass (Pass, SignPass, OpenPass) travels outside the protocol, as a
// QR code HQ prints or mails: "keycab-pass:" then the base64url (no
// padding) of its JSON ({"id", "org", "member", "key_sets", "nbf",
// "exp", "iat"}; times in Unix seconds), ".", and the base64url of the
// 64-byte Ed25519 signature of the note text "keycab pass v1\n<json>\n"
// by HQ's config key, the key the kiosk pinned at enrolment: the
// signature a signed note of that text carries, without its key name and
// hash. A kiosk checks it offline; fields it does not know are ignored.
// The bundle's Config.RevokedPasses lists the organisation's revoked
// passes that have not expired; an older kiosk ignores it.
//
// # External witnesses (minor version 10)
//
// HQ hands each kiosk's checkpoints to the C2SP tlog-witness witnesses its
// operator names and keeps their cosignatures. From minor version 10 the
// push and heartbeat answers carry Witnessed: the newest checkpoint of the
// kiosk's log each witness cosigned, the kiosk's signed checkpoint with
// the witness's cosignature/v1 lines. The kiosk keeps each whose tree
// matches its own log (store.DB.AddCosignature, under the witness's
// name), so that its export carries them; it does not check the
// witness's key (it pins none): keycab audit verify --witness does. A
// kiosk of an older minor version ignores the field.
//
// # Camera stills (minor version 11)
//
// Where the kiosk's policy asks for stills (keycab.Policy Stills), its
// key.taken, key.returned and alarm.raised entries carry in
// Detail["still"] (audit.StillKey) the hex SHA-256 of a JPEG from its
// camera (audit.StillHash), or in Detail["still_missing"] why there is
// none (the flow never waits for the camera). The kiosk keeps the JPEG in
// its stills table like a personal text (erasure and retention remove
// it). The push that carries such an entry carries in "stills" the JPEGs
// the kiosk still keeps ({"index", "jpeg": base64}, at most
// audit.MaxStill bytes each, at most one an entry). HQ keeps one only when
// its SHA-256 is the hash its entry holds; a push with any other (edited,
// moved to another entry, for an entry outside the push or with no hash,
// twice, empty or too large) is refused whole with 400 EINVALID and
// nothing of it is stored. An HQ of an older minor version ignores
// "stills" (the entries, with their hashes, verify all the same); an
// older kiosk sends none.
//
// # Enrolment
//
// An admin makes a single-use token for one cabinet at HQ. The kiosk
// generates an Ed25519 key, sends the token and the raw public key, and
// HQ burns the token and answers with the kiosk's id, the origin of its
// log (the name of its note key, chosen by HQ), and HQ's cosigner and
// config verifier keys, which the kiosk pins.
//
// # Re-enrolment: key rotation
//
// An enrolled kiosk gets a new key without a token: its old key is the
// credential. The kiosk pushes its whole log, then appends a key.rotate
// entry that names the old and the new note verifier key (same origin)
// and carries signatures by both of a statement that binds the origin
// and the entry's index (audit/rotate.go); the checkpoint that covers the
// entry is signed by both keys. It pushes that one entry, in a request
// signed by the old key. HQ checks that the old key is the one pinned and
// that both signatures hold, pins the new key in the same transaction as
// the entry, and from then on refuses the old key (401). A rotation that
// fails the check is refused (401) and nothing of its push is stored. The
// log keeps its origin and its tree; checkpoints up to the rotation are
// signed by the old key, from it on by the new one.
package wire
