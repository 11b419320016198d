// Package hq is keycab's hosted multi-tenant service over HTTP: the JSON
// API (documented at /openapi.json), authentication through hq/auth, the
// kiosks' sync API mounted at /v1/kiosk/ (Server.KioskAPI), health
// (/healthz: the process runs; /readyz: the database answers) and
// Prometheus metrics (/metrics).
//
// Every response, errors and 404s included, carries the security headers
// (HSTS, a strict CSP with frame-ancestors 'none', X-Frame-Options DENY,
// nosniff, Referrer-Policy no-referrer, Permissions-Policy). Unsafe
// cross-origin browser requests are refused by net/http's
// CrossOriginProtection (the kiosk API, authenticated by kiosk keys and
// never by cookies, is exempt). A session is presented as a bearer token
// or as the dashboard's __Host- cookie.
//
// keycab error codes become statuses only here (statusOf): a row that is
// missing and a row of another organisation are both ENOTFOUND, so both
// are 404.
package hq
