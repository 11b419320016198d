// Package metrics is HQ's fleet in Prometheus metrics: key sets out and
// overdue, open alarms by kind, kiosks online, behind on config,
// quarantined, push and cosigning lag, equivocations, the notice and
// webhook queues, and what each kiosk's newest heartbeat reported (disk,
// temperature, clock, door, log size).
//
// Fleet reads the store when it is scraped (at most once per MaxAge, so
// several scrapers cost one read), one read transaction per organisation
// as every tenant read is. Its series name organisations and kiosks by
// id: keycab-hq serves them only on its monitoring listener
// (--metrics-listen), never on the public one.
package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"keycab.dev/keycab/hq/store"
)

// Fleet is a prometheus.Collector of the fleet's state.
type Fleet struct {
	// Store is read at each scrape.
	Store *store.Store
	// OfflineAfter: a kiosk not seen this long is offline.
	OfflineAfter time.Duration
	// PerKiosk adds the keycab_kiosk_* series, one per kiosk not revoked.
	// Leave it off for a fleet so large that a series per kiosk costs
	// the monitoring more than it tells.
	PerKiosk bool
	// MaxAge is how long a reading serves further scrapes (default 10 s).
	MaxAge time.Duration
	// Timeout bounds one reading of the store (default 20 s).
	Timeout time.Duration
	// Logger receives a failed reading; nil discards.
	Logger *slog.Logger

	mu   sync.Mutex
	read time.Time
	snap []store.OrgFleet
	took time.Duration
}

// names are the series names of every desc, in the order declared.
var names []string

func desc(name, help string, labels ...string) *prometheus.Desc {
	names = append(names, name)
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	keySetsOut    = desc("keycab_key_sets_out", "Key sets held by someone now.", "org")
	overdue       = desc("keycab_key_sets_overdue", "Key sets held past their due time.", "org")
	alarmsOpen    = desc("keycab_alarms_open", "Open alarms, by kind.", "org", "alarm")
	kiosks        = desc("keycab_kiosks", "Kiosks by state: online, offline (not seen for --offline-after), revoked.", "org", "state")
	configBehind  = desc("keycab_kiosks_config_behind", "Kiosks not revoked that have not applied the newest config HQ issued them.", "org")
	quarantined   = desc("keycab_kiosks_quarantined", "Kiosks whose log HQ quarantined (a fork or a rewritten entry).", "org")
	equivocations = desc("keycab_equivocations_total", "Pieces of evidence HQ kept of a kiosk showing two histories.", "org")
	pushLag       = desc("keycab_push_lag_entries", "Entries the kiosks not revoked report in their logs that HQ does not hold yet, summed.", "org")
	cosignLag     = desc("keycab_cosign_lag_entries", "Entries HQ holds of the kiosks not revoked that the kiosks have no cosignature for yet, summed.", "org")
	notices       = desc("keycab_notices", "Notice mail by state: pending (the queue), sent, dry-run, failed.", "org", "state")
	webhooks      = desc("keycab_webhook_deliveries", "Webhook deliveries by state: pending (the queue, retries included), delivered, failed (given up).", "org", "state")
	readSeconds   = desc("keycab_fleet_read_seconds", "Time the newest reading of the fleet's state took.")
	readAt        = desc("keycab_fleet_read_timestamp_seconds", "When the newest reading of the fleet's state was taken.")

	kioskOnline       = desc("keycab_kiosk_online", "1 when the kiosk was seen within --offline-after.", "org", "kiosk")
	kioskLastSeen     = desc("keycab_kiosk_last_seen_timestamp_seconds", "When HQ last heard from the kiosk (0: never).", "org", "kiosk")
	kioskLogEntries   = desc("keycab_kiosk_log_entries", "The size of the kiosk's log, as its newest heartbeat reported.", "org", "kiosk")
	kioskPushLag      = desc("keycab_kiosk_push_lag_entries", "Entries the kiosk reports that HQ does not hold yet.", "org", "kiosk")
	kioskCosignLag    = desc("keycab_kiosk_cosign_lag_entries", "Entries HQ holds that the kiosk has no cosignature for yet.", "org", "kiosk")
	kioskConfigBehind = desc("keycab_kiosk_config_behind_seconds", "How long the newest config HQ issued the kiosk has waited to be applied (0: applied).", "org", "kiosk")
	kioskDiskFree     = desc("keycab_kiosk_disk_free_bytes", "Free bytes on the kiosk's data disk, as it reported.", "org", "kiosk")
	kioskTemperature  = desc("keycab_kiosk_temperature_celsius", "The kiosk's SoC temperature, as it reported.", "org", "kiosk")
	kioskClockOffset  = desc("keycab_kiosk_clock_offset_seconds", "HQ's clock minus the kiosk's, as the kiosk measured it.", "org", "kiosk")
	kioskDoorOpen     = desc("keycab_kiosk_door_open", "1 when the kiosk reported its cabinet door open.", "org", "kiosk")
	kioskAlarms       = desc("keycab_kiosk_alarms", "Alarms the kiosk reported open.", "org", "kiosk")
)

var orgDescs = []*prometheus.Desc{keySetsOut, overdue, alarmsOpen, kiosks, configBehind, quarantined, equivocations,
	pushLag, cosignLag, notices, webhooks, readSeconds, readAt}

var kioskDescs = []*prometheus.Desc{kioskOnline, kioskLastSeen, kioskLogEntries, kioskPushLag, kioskCosignLag,
	kioskConfigBehind, kioskDiskFree, kioskTemperature, kioskClockOffset, kioskDoorOpen, kioskAlarms}

// Describe sends the descriptions of every series Fleet collects.
func (f *Fleet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range orgDescs {
		ch <- d
	}
	if f.PerKiosk {
		for _, d := range kioskDescs {
			ch <- d
		}
	}
}

// reading returns the newest reading of the store, reading it again when
// it is older than MaxAge.
func (f *Fleet) reading() ([]store.OrgFleet, time.Time, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	maxAge, timeout := f.MaxAge, f.Timeout
	if maxAge <= 0 {
		maxAge = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	if !f.read.IsZero() && time.Since(f.read) < maxAge {
		return f.snap, f.read, f.took, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	snap, err := f.Store.ReadFleet(ctx, f.OfflineAfter)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	f.snap, f.read, f.took = snap, time.Now(), time.Since(start)
	return f.snap, f.read, f.took, nil
}

// Collect reads the fleet (or reuses a reading younger than MaxAge) and
// sends its series; a failed reading fails the scrape, so Prometheus's
// up goes to 0 rather than the series silently going stale.
func (f *Fleet) Collect(ch chan<- prometheus.Metric) {
	snap, at, took, err := f.reading()
	if err != nil {
		if f.Logger != nil {
			f.Logger.Error("fleet metrics: reading the store failed", "err", err)
		}
		ch <- prometheus.NewInvalidMetric(keySetsOut, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(readSeconds, took.Seconds())
	gauge(readAt, float64(at.UnixMilli())/1000)
	for _, o := range snap {
		gauge(keySetsOut, float64(o.KeySetsOut), o.OrgID)
		gauge(overdue, float64(o.Overdue), o.OrgID)
		for alarm, n := range o.AlarmsOpen {
			gauge(alarmsOpen, float64(n), o.OrgID, alarm)
		}
		ch <- prometheus.MustNewConstMetric(equivocations, prometheus.CounterValue, float64(o.Equivocations), o.OrgID)
		for _, state := range []string{"pending", "sent", "dry-run", "failed"} {
			gauge(notices, float64(o.Notices[state]), o.OrgID, state)
		}
		for _, state := range []string{"pending", "delivered", "failed"} {
			gauge(webhooks, float64(o.Webhooks[state]), o.OrgID, state)
		}
		var online, offline, revoked, behind, quar, push, cosign int
		for _, k := range o.Kiosks {
			if !k.RevokedAt.IsZero() {
				revoked++
				continue
			}
			l := lagOf(k)
			push += l.push
			cosign += l.cosign
			if k.Online {
				online++
			} else {
				offline++
			}
			if !k.ConfigBehindSince().IsZero() {
				behind++
			}
			if k.Quarantined {
				quar++
			}
			if f.PerKiosk {
				f.collectKiosk(gauge, o, k, l)
			}
		}
		gauge(kiosks, float64(online), o.OrgID, "online")
		gauge(kiosks, float64(offline), o.OrgID, "offline")
		gauge(kiosks, float64(revoked), o.OrgID, "revoked")
		gauge(configBehind, float64(behind), o.OrgID)
		gauge(quarantined, float64(quar), o.OrgID)
		gauge(pushLag, float64(push), o.OrgID)
		gauge(cosignLag, float64(cosign), o.OrgID)
	}
}

type lag struct{ push, cosign int }

// lagOf is how far HQ is behind the kiosk's log (push) and the kiosk
// behind HQ's cosignatures (cosign), from its newest heartbeat; a kiosk
// that never sent one lags nothing it has told.
func lagOf(k store.KioskHealth) lag {
	var l lag
	if k.Heartbeat.At.IsZero() {
		return l
	}
	if d := k.Heartbeat.LogSize - k.LogSize; d > 0 {
		l.push = int(d)
	}
	if d := k.LogSize - k.Heartbeat.CosignedSize; d > 0 {
		l.cosign = int(d)
	}
	return l
}

func (f *Fleet) collectKiosk(gauge func(*prometheus.Desc, float64, ...string), o store.OrgFleet, k store.KioskHealth, l lag) {
	org, id, hb := o.OrgID, k.ID, k.Heartbeat
	gauge(kioskOnline, boolf(k.Online), org, id)
	seen := 0.0
	if !k.LastSeen.IsZero() {
		seen = float64(k.LastSeen.UnixMilli()) / 1000
	}
	gauge(kioskLastSeen, seen, org, id)
	gauge(kioskPushLag, float64(l.push), org, id)
	gauge(kioskCosignLag, float64(l.cosign), org, id)
	behind := 0.0
	if since := k.ConfigBehindSince(); !since.IsZero() {
		behind = max(o.At.Sub(since).Seconds(), 0)
	}
	gauge(kioskConfigBehind, behind, org, id)
	if hb.At.IsZero() {
		return // no heartbeat yet: nothing the kiosk reported
	}
	gauge(kioskLogEntries, float64(hb.LogSize), org, id)
	gauge(kioskDiskFree, float64(hb.DiskFree), org, id)
	if hb.TemperatureMC != 0 {
		gauge(kioskTemperature, float64(hb.TemperatureMC)/1000, org, id)
	}
	gauge(kioskClockOffset, hb.ClockOffset.Seconds(), org, id)
	gauge(kioskDoorOpen, boolf(hb.Door == "open"), org, id)
	gauge(kioskAlarms, float64(len(hb.Alarms)), org, id)
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Names lists every series name Fleet can collect, in the order
// declared (for the documentation's check).
func Names() []string { return append([]string(nil), names...) }
