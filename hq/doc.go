// Package hq is keycab's hosted multi-tenant service over HTTP. Server
// puts its edges behind one set of middleware: the JSON API (hq/api,
// documented at /openapi.json), the HTML dashboard (hq/dashboard) and
// the kiosks' sync API (hq/kioskapi, mounted at /v1/kiosk/), with health
// (/healthz: the process runs; /readyz: the database answers) and
// Prometheus metrics (/metrics). Accounts and sessions are hq/auth's,
// mail hq/mail's, the data hq/store's.
//
// Every response, errors and 404s included, carries the security headers
// (HSTS, a strict CSP with frame-ancestors 'none', X-Frame-Options DENY,
// nosniff, Referrer-Policy no-referrer, Permissions-Policy). Unsafe
// cross-origin browser requests are refused by net/http's
// CrossOriginProtection (the kiosk API, authenticated by kiosk keys and
// never by cookies, is exempt). A session is presented as a bearer token
// or as the dashboard's __Host- cookie (SessionCookie).
//
// keycab error codes become statuses only here (StatusOf), for every
// edge, and every edge answers errors with the one body,
// keycab.ErrorBody (WriteError): a row that is missing and a row of another organisation
// are both ENOTFOUND, so both are 404.
package hq
