// Package agent is the kiosk's side of the sync protocol (sync/wire): it
// enrols the kiosk with HQ, pushes the kiosk's log to HQ and stores HQ's
// cosignatures, pulls HQ-signed config bundles by long poll and applies
// the newer ones, and sends heartbeats.
//
// The agent works from the kiosk database (store): what HQ acknowledged
// is in sync_state, the HQ keys pinned at enrolment in hq_peer. It pushes
// contiguous ranges from HQ's acknowledged size in batches of at most
// BatchSize entries, each with a checkpoint the agent signs with the
// kiosk's key at the batch's end; request bodies over a kilobyte are
// gzipped; failures are retried with exponential backoff and full
// jitter. A push answered 409 resumes from HQ's size; one answered 422
// (the log forked: HQ quarantined the kiosk) stops pushing until an admin
// intervenes (ErrForked).
//
// When it stores HQ's cosignature the agent logs the cosignature's time
// as a clock.anchored entry (the first after start, then at most every
// AnchorEvery), so HQ can bound the time of every later entry by its own
// clock even when the kiosk's clock is wrong. Heartbeats carry the log,
// cosigned and config sizes, the software, disk free (statfs of the data
// directory) and the temperature (ThermalFile); the kiosk fills in the
// door and alarms (SetStatus). Rotate re-enrols an enrolled kiosk with a
// new key (sync/wire: key rotation).
package agent
