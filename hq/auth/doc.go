// Package auth is HQ's authentication over hq/store: accounts and
// passwords, sessions, single-use tokens, TOTP MFA, invitations and rate
// limits. The HTTP layer (package hq) calls it and maps its keycab error
// codes to statuses.
//
// # Accounts and organisations
//
// An account (store.Account) is a person, global across HQ, identified by
// one email address. It joins an organisation through a member row of
// that organisation (store.Membership links them), which holds the role
// and site scope; the store enforces roles on that member. A session is
// bound to one membership: the access token resolves to
// store.MemberScope(org, member), which every store call then checks
// afresh.
//
// # Passwords
//
// argon2id PHC strings (passhash, OWASP parameters). CheckPassword applies
// OWASP ASVS 5.0: at least 8 characters, up to 256 accepted, no
// composition rules, and a block list of the 10,000 most common
// passwords (see password.go for its origin). Login answers an unknown
// email and a wrong password alike, after the same hashing work.
//
// # Sessions
//
// Signing in (password, then TOTP if enabled; or a sign-in link, then
// TOTP) starts a login: a family of sessions. Each session is an access
// token and a refresh token, stored only as SHA-256 hashes. A session
// ends when it is unused for IdleTimeout; a family ends AbsoluteTimeout
// after the login, refreshes included. Refresh rotates: the old pair
// stops working, and presenting a refresh token a second time revokes
// the whole family (reuse detection). Logout revokes the family;
// changing or resetting the password revokes every session of the
// account and every open reset and sign-in link.
//
// # Single-use tokens
//
// Password reset links (ResetTTL), sign-in links (MagicTTL), invitations
// (InviteTTL) and the MFA step of a login (MFATTL, MFAAttempts wrong
// codes) are random tokens stored hashed and used at most once, by an
// atomic update. Reset and sign-in requests answer known and unknown
// addresses alike. A reset never touches MFA: the next login still asks
// for the code. An invitation is bound to its email address (a signed-in
// acceptor must have it; otherwise the invitation creates that account),
// and never grants a role above its inviter's, checked when it is made
// and again, by store.CreateMember under the inviter's scope, when it is
// accepted.
//
// # TOTP
//
// RFC 6238 (HMAC-SHA1, 6 digits, 30 s, ±1 step), secrets sealed in the
// database with the notes key. A code's time step is recorded when it is
// accepted, and no step at or before it is accepted again: codes cannot
// be replayed.
//
// # Verification, recovery codes and standing
//
// A signup's address is verified by a link (VerifyTTL); an email change
// takes effect only when a link sent to the new address is opened, the
// old address told and signing in until then. Turning TOTP on answers ten
// recovery codes (token.go: 80 bits each, stored as SHA-256), each usable
// once in place of a TOTP code; regenerating them and turning MFA off
// need the password and a second factor. Authenticate returns the
// session's standing, and Principal.Gate decides from it: an unverified
// account, or an owner or admin whose organisation requires MFA they do
// not have, may do only what its edge's route allows (verify, enrol,
// see itself, sign out). See account.go.
//
// # Rate limits
//
// Fixed windows counted in the database (store.HitRateLimit), so every
// HQ process shares them: per client IP and per account (keyed by the
// email typed) for sign-ins, MFA steps, password changes and link
// requests; per IP for signups. Failed sign-ins, refused tokens, denied
// invitations and rate-limit refusals are logged, with account ids and
// IPs but never a password, token or link.
//
// # Email
//
// Invitations, reset and sign-in links go through a mail.Mailer (package
// hq/mail: SMTP, the dry-run directory, retries); every delivery, dry runs
// included, is recorded in the delivery log (store.RecordDelivery) without
// its body. With no Mailer, nothing is sent (dry run).
package auth
