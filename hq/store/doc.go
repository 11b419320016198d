// Package store is HQ's data layer: one API over two engines, embedded
// SQLite (modernc.org/sqlite, pure Go; DSN "sqlite:PATH") and PostgreSQL
// (github.com/jackc/pgx/v5 through database/sql; DSN "postgres://...").
//
// # Engines
//
// Both engines run the same SQL (the $n placeholders, ON CONFLICT and
// RETURNING are common to both) through database/sql, so there is one
// query path to scope, trace and test (but for the lookups across
// organisations, which call functions on PostgreSQL: see Tenancy); pgx's own pool would give a few
// percent more speed and a second code path. On SQLite the store keeps
// one writer connection in immediate-transaction mode (WAL,
// synchronous=FULL, foreign keys on) and a pool of query-only readers, so
// every read-check-write runs alone. On PostgreSQL it uses one pool of
// the application role's connections.
//
// # Types
//
// Store holds the organisation's own data (organisations, sites,
// cabinets, key sets, members, groups, jobs, policy, kiosks and their
// events, history, custody, lifecycle, erasure, legal holds, subject
// access) and the helpers every topic shares (transactions, scopes,
// the sealer). Four topics, each mostly one part of HQ's, are methods
// of their own types, defined over the same struct and reached
// from a Store by a method of that name:
//
//	Accounts      st.Accounts()      sign-in: accounts, passwords, MFA, sessions, one-time tokens, SSO, API keys, rate limits, the delivery log (hq/auth; the edges' account pages)
//	Provisioning  st.Provisioning()  SCIM tokens, users and groups (hq/scim, hq/auth; the SCIM token pages)
//	Outbox        st.Outbox()        what is sent out: notices, the mail retry queue, webhooks, report mail (hq/notify, hq/webhook, hq/mail's retry queue; the edges' settings)
//	KioskLogs     st.KioskLogs()     the kiosk edge's side: kiosks' logs, pushes, nonces, config versions, heartbeats, refusals, public logs (hq/kioskapi; the log views of hq/api and hq/dashboard)
//
// A group's methods call the shared helpers through store(), the Store
// it is. A new method goes with its topic's file and type; an unexported
// helper several topics use stays on Store.
//
// # Schema (version 1)
//
// Migrations are embedded in migrations/sqlite and migrations/postgres,
// numbered NNNN_what.sql, recorded in schema_migrations, each applied in
// one transaction; Migrate is a no-op when nothing is pending, and on
// PostgreSQL serialises concurrent runs with an advisory lock. Open
// refuses a database at another version. Times are Unix microseconds
// (0: never); ids are random text with a prefix naming the kind.
//
//	orgs          id, name, caps (key sets, sites, cabinets, members), badge salt, scheduled deletion
//	sites         org_id, id, name, address, time zone, notes (sealed)
//	cabinets      org_id, id, site_id -> sites, kind, door pins
//	key_sets      org_id, id, site_id -> sites, label, flags, max out
//	slots         org_id, cabinet_id -> cabinets, number, pins, key_set_id -> key_sets
//	qr_tokens     org_id, id, key_set_id -> key_sets, hash (keycab.TokenHash), issued, revoked
//	members       org_id, id, name, email, role, PIN hash, disabled, erased
//	member_sites  org_id, member_id -> members, site_id -> sites (the site scope)
//	badges        org_id, hash (keycab.BadgeHash under the org's salt), member_id -> members
//	jobs          org_id, id, member_id -> members, window
//	job_key_sets  org_id, job_id -> jobs, key_set_id -> key_sets
//	reservations  org_id, id, key_set_id -> key_sets, member_id -> members, window; no overlaps
//	kiosks        org_id, id, cabinet_id -> cabinets, public key, last seen, log size, revoked
//	events        org_id, kiosk_id -> kiosks, log_index, kind, actor, key set, time (append-only)
//	custody       org_id, key_set_id -> key_sets, member_id -> members: keys out now
//	alarms        org_id, id, kiosk_id -> kiosks, cabinet_id -> cabinets, alarm, cleared
//	admin_log     org_id, id, time, actor, role, action, target, detail (append-only)
//	personal_texts org_id, kiosk_id -> kiosks, log_index, field (recipient, notes),
//	              subject (the member), sealed salt || text (migration 0016)
//	still_images  org_id, kiosk_id -> kiosks, log_index, subject (the member), sealed JPEG (0029)
//	notes_key     the notes key's generation and a check value sealed under it (0016; global)
//	legal_holds   org_id, id, target (member, key_set, site), target id, reason, owner -> members, end, ended (0018)
//	retention_rules org_id, days for personal texts, deliveries, expired sessions and tokens, admin-log details (0018)
//	kiosk_directory kiosk id -> org_id, kept by a trigger, for public logs (0021); orgs.public_logs
//	api_keys      org_id, id, name, SHA-256 hash, scopes, role, expiry, last used, revoked (0025);
//	              a SCIM token is one whose scopes are "scim" (scim.go)
//	scim_users    org_id, member_id -> members (cascade), user name (unique, lower-cased), external id (0028)
//	scim_groups   org_id, group_id -> groups (cascade), external id (0028)
//	passes        org_id, id, member_id -> members (cascade), key set ids (JSON), window, issued, note, revoked (0030)
//	witness_cosignatures org_id, kiosk_id -> kiosk_logs, witness, size, the checkpoint with its cosignature (0031)
//	witness_state org_id, kiosk_id -> kiosk_logs, witness, the size it holds, last outcome (0031)
//	sso_configs, sso_logins, sso_domains  an organisation's OpenID Connect provider, sign-ins under way, verified domain -> org_id (0026)
//
// Accounts (version 2, and 17): accounts (email, password hash, sealed
// TOTP secret, verified), account_members, sessions (token hashes,
// times, user agent and IP), auth_tokens (reset, magic, invite, mfa,
// verify, email: hashes only), recovery_codes (account_id, SHA-256 hash,
// used; global like accounts: read by account id only), rate_limits,
// deliveries; orgs.require_mfa is the organisation's MFA rule for owners
// and admins.
//
// # Tenancy
//
// Every tenant row carries org_id (orgs: id), and every reference to a
// tenant row is a composite foreign key (org_id, parent_id), so no row
// can point into another organisation on either engine.
//
// Every store method but CreateOrg (signup) runs for a Scope: a member or
// a kiosk of one organisation. Each call is one transaction; it first
// loads the principal's role and site scope (a removed or disabled member
// or a revoked kiosk is EUNAUTHORIZED at once), then scopes every
// statement with org_id = the scope's organisation. The tests run every
// statement through a checker that fails on one touching a tenant table
// without that condition.
//
// On PostgreSQL the database enforces the same on its own: row-level
// security is enabled and forced on every tenant table, with a policy
// comparing org_id with current_setting('keycab.org_id', true); the store
// sets it per transaction with set_config(..., true), never for the
// session, so a pooled connection never carries a tenant into another
// request, and with none set no row is visible or insertable. The service
// connects as an application role (DefaultAppRole) that owns no table,
// is no superuser and has NOBYPASSRLS (Open refuses any other); Migrate
// runs as the schema owner and grants the application role SELECT,
// INSERT, UPDATE and DELETE, but only SELECT and INSERT on the
// append-only tables, which triggers also protect from the owner (but
// for retention's marker in admin_log.detail: UPDATE of that column,
// which a trigger allows only to AdminDetailRemoved; schema version 18).
//
// The account tables that carry org_id (account_members, sessions,
// auth_tokens, deliveries, mail_retry, org_directory; schema version 9)
// are under the same forced policy, which never matches a row of no
// organisation (an empty org_id: an account's reset and sign-in links and
// their mail); a transaction with no tenant set may insert those, and
// read the delivery log and retry queue of them. What must be found
// before the tenant is known runs through SECURITY DEFINER functions
// (migration 0009), owned by the schema owner, with a fixed search_path,
// each one statement: a session by its token's hash, an account's
// memberships and sign-out everywhere, a token by its hash, an account's
// open links, every organisation's id, and the mail retry worker's due
// mail, lease and outcome. The owner passes its own forced policy only
// inside them (policy "definer": current_user <> session_user); EXECUTE
// is revoked from PUBLIC and granted to the application role. A session
// found by hash binds the rest of its transaction to its organisation.
//
// A row of another organisation, or outside the principal's scope,
// answers exactly as a missing row: keycab.ENOTFOUND.
//
// # Roles
//
// Owners and admins run the organisation; site managers manage their own
// sites' cabinets, key sets, jobs, kiosks and alarms, and staff and
// contractors scoped to those sites; auditors read everything and write
// nothing; staff see their sites and reserve for themselves; contractors
// see only the key sets of their jobs, inside each job's window (a
// deleted job revokes at once); a kiosk reads only its own cabinet, its
// site's key sets and its config, and records its own log. Nobody grants
// a role above their own or changes a member ranked above them; the last
// owner cannot be demoted or leave. Caps and the last-owner rule are
// checked under a lock of the organisation's row (PostgreSQL) or the
// single writer (SQLite), so racing requests cannot pass them.
// Reservations cannot overlap: an exclusion constraint (btree_gist) on
// PostgreSQL, triggers on SQLite.
//
// # Sealed values: site notes, TOTP secrets, mail, personal texts, webhook secrets
//
// Site notes, TOTP secrets, retried mail bodies, kiosks' personal texts
// and webhook signing secrets are sealed by one sealer (crypto.go) with AES-256-GCM under the
// notes key given in Options.NotesKey (from the environment or a key
// file, never the database), each with associated data naming what it
// is and its row ("keycab site notes v1", the org id and the site id; a
// personal text's org, kiosk, log index and field), stored as key
// generation || nonce || ciphertext. notes_key holds the generation and
// a check value: Open refuses a key that does not open it, and
// RotateNotesKey (keycab-hq rotate-notes-key) re-seals every value under
// a new key at the next generation in one transaction. Site notes are
// opened for owners and admins, and for staff and contractors while they
// hold a key set of that site; everyone else gets them redacted.
//
// # Personal texts
//
// An entry's recipient and notes reach HQ beside the push (sync/wire
// minor 4) and are kept only when they hash to the reference the entry
// carries (personal.go); a push with one that does not is refused whole
// (EINVALID). ListEvents fills them in for owners and admins, and for
// site managers, staff and contractors at a site where they hold a key
// set now; auditors and kiosks never get them. Without a notes key HQ
// checks them and keeps none. DeleteMemberTexts removes a member's (by
// subject) for erasure.
//
// # Admin log
//
// Every mutating method appends an admin_log row in its own transaction.
//
// # Erasure, legal hold and retention
//
// EraseMember keeps the member row as a tombstone (erased_us set, name,
// email and PIN blank, disabled) and deletes what erasureSteps list; a
// table of personal data adds its step there. Holds (legal_holds) refuse
// erasure and removal of what they cover and spare it from retention;
// ApplyRetention runs retentionSteps, one per rule. Kiosks learn both
// through the bundle (kioskLifecycle: Config.Erased, Held,
// PersonalTextDays). SQLite runs under secure_delete, and EraseMember
// clears sqlite_stat4's samples of the tables it touched and truncates
// the WAL afterwards. PostgreSQL leaves the old row versions as dead
// tuples until VACUUM, which frees their space without zeroing it, and
// in WAL archives and backups: docs/DESIGN.md says what an operator runs.
package store
