// Package kioskapi is HQ's side of the kiosk sync protocol (sync/wire): an
// http.Handler serving everything under /v1/kiosk/ — enrolment, signed
// log pushes answered with HQ's cosignatures, signed config bundles by
// long poll, heartbeats, and remote actions signed by HQ's config key by
// long poll with the kiosk's acks (wire minor version 3) — on top of
// hq/store.
//
// Every request but enrolment is authenticated by the kiosk's key
// (wire.SignRequest) with replay protection: a date within
// wire.ReplayWindow and a nonce that the database accepts once. The
// kiosk's identity becomes an hq/store KioskScope, so a kiosk reads and
// writes only its own cabinet's data, and a revoked kiosk is refused at
// once.
//
// Pushes run under a per-kiosk lock (hq/store UpdateKioskLog: a row lock
// on PostgreSQL, the single writer on SQLite), so any number of HQ
// processes may serve one kiosk. The handler keeps no state between
// requests but the wake-up channels of long polls (ConfigChanged), which
// only shorten a wait: every long poll also re-reads the database each
// PollInterval, so a change made by another HQ process reaches a waiting
// kiosk within that interval.
package kioskapi
