// Package kiosk is the cabinet controller: it turns badge and QR scans,
// door and slot sensors and touches on the screen into custody changes,
// drives the locks, raises alarms, and records everything in the kiosk's
// signed audit log (store).
//
// One goroutine owns all state. Everything that happens (a scan, a sensor
// change, a touch, a timer) is posted to it as an event and handled in
// order; the result is a new Screen that the UI (kiosk/ui) renders and
// nothing else. Every step of a flow has a deadline that returns the
// kiosk to idle and secures every lock.
//
// The controller defines the small interfaces it needs of the hardware
// (Locks, Scanner) so that the real drivers and their simulated twins
// (hardware/sim) plug in alike.
package kiosk

import "runtime/debug"

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) a
// kiosk program sets: a Pi kiosk runs for months beside a GPU driver and
// a camera, and its Go heap lives at about 10 MiB; without a limit the
// collector lets it grow to twice its live size between collections.
const MemoryLimit = 48 << 20

// GCPercent is the collector's target (runtime/debug.SetGCPercent) a
// kiosk program sets: the heap may grow by half its live size between
// collections, not all of it. The kiosk is idle most of the time, so the
// collections cost nothing users see; the memory saved is about 4.5 MB
// (docs/PERFORMANCE.md, kiosk memory).
const GCPercent = 50

// TuneMemory applies MemoryLimit and GCPercent to the running program.
func TuneMemory() {
	debug.SetMemoryLimit(MemoryLimit)
	debug.SetGCPercent(GCPercent)
}
