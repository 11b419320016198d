// Package api is HQ's JSON API: sign-up and sign-in, the organisation's
// people, sites, cabinets, key sets, jobs and reservations, history,
// alarms, kiosks and their verifiable logs, and key labels, described by
// the OpenAPI document it serves at /openapi.json. Requests authenticate
// with a bearer token or the dashboard's session cookie (hq/auth);
// errors are hq.WriteError's.
//
// Every request and response body is a named type (types.go), and the
// OpenAPI 3.0.3 document is generated from those types and the route
// table with kin-openapi (openapi.go), so the document, the handlers and
// the wire cannot disagree unnoticed: hq's TestOpenAPIDrift validates
// every documented operation's request and answer against it.
package api
