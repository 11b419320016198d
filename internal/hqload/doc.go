// Package hqload fills an HQ database with realistic history and measures
// the history page and the dashboard over it: `keycab-hq bench`
// (docs/PERFORMANCE.md, issue 5).
//
// # The data
//
// Five organisations, found by their owners' accounts (Email) or made
// through hq/auth's signup and hq/store's Create methods: the first, the
// one measured, has 20 sites (a cabinet and a kiosk each), 10 key sets a
// site and 300 members (one a site manager of two sites); the others 5
// sites and 60 members. The first holds half of the events, the others
// share the rest; within an organisation kiosk j gets weight 1/(j+1), so
// some sites are busy and some sparse. Each kiosk's log is a realistic
// kind mix (key.taken and key.returned 30% each, sign-ins 24%, doors 10%,
// failures 3%, alarms 1%, boots 1%) spread over two years, actors picked
// with a skew; then, at each kiosk of the first organisation, twelve live
// events of the last hour (every key set of its site taken, some overdue,
// and a door alarm).
//
// Every event is recorded through the store as its kiosk
// (store.Store.RecordEvents, the path a kiosk's push takes, in batches of
// RecordBatch), so custody and alarms are what the store makes of the
// history, and the rows are the store's own. Nothing is written with SQL
// of this package's: the events' indexes are kept up during the fill and
// no ANALYZE is run, as in the service.
//
// With Config.Ingest (`keycab-hq bench --ingest`, issue 19 item 5) the
// history is grown by ingest instead: HQ's kiosk API runs on a loopback
// server, each kiosk is enrolled through it (an enrolment token, the
// kiosk's own Ed25519 key), its events are appended to its own signed log
// in a kiosk database and pushed by the sync agent, and HQ verifies and
// records every push as in service (ingest.go). Each kiosk's log then
// also holds the clock.anchored entries its agent writes.
//
// # Reuse
//
// A database that already holds the bench's organisations and exactly the
// events asked for (the history plus the live events: the kiosks' log
// sizes, as ListKiosks reports them; grown by ingest, up to two
// clock.anchored entries a kiosk more) is reused as it is; one that holds
// none is filled; one that holds another number is refused, to be removed
// (or its PostgreSQL database dropped) by hand.
//
// # The measurement
//
// Per filter, the history page's p50 and p95 latency through the store
// (ListEvents, one page of 51 events as the dashboard asks) and, when a
// Handler is given, through the signed-in HTTP handler on loopback (GET
// /history), the plan each filter's query gets, and then the requests per
// second of the dashboard's main pages under a Go load generator in the
// same process, with error counts.
package hqload
