// Package api is HQ's JSON API: sign-up and sign-in, the organisation's
// people, sites, cabinets, key sets, jobs and reservations, history,
// alarms, kiosks and their verifiable logs, and key labels, described by
// the OpenAPI document it serves at /openapi.json. Requests authenticate
// with a bearer token or the dashboard's session cookie (hq/auth);
// errors are hq.WriteError's.
package api
