// Package keycab holds the domain of the keycab key-cabinet controller:
// organisations and their sites, cabinets, slots and key sets, the members
// who take keys and their badges, checkouts, reservations and contractor
// jobs, the kinds of event that enter a kiosk's audit log, and the error
// codes that the kiosk and HQ share.
//
// The package depends on the standard library only. Storage (store, hq),
// devices (hardware), the screens (kiosk/ui) and the wire (sync/...) each
// live in their own package and speak in these types.
package keycab
