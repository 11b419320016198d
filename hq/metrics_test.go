package hq_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/metrics"
	"keycab.dev/keycab/hq/store"
)

// scrape serves the registry over HTTP as Prometheus would scrape it and
// parses the answer with Prometheus's own text parser.
func scrape(t *testing.T, reg prometheus.Gatherer) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	res, err := http.DefaultClient.Do(req)
	MustNoErr(t, err)
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return res.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	MustNoErr(t, err)
	return res.StatusCode, fams
}

// value is the series of family name whose labels include want, or
// fails: a series missing is a failure, not a zero.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && labels[want[i]] == want[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

// The fleet's metrics count each organisation's own key sets, alarms and
// kiosks (one organisation's never under another's label), report what a
// kiosk's newest heartbeat said, and fail the scrape when the store cannot
// be read.
func TestFleetMetrics(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		acme, other := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		sc := store.MemberScope(acme.owner.orgID, acme.owner.memberID)
		e.clock.Advance(10 * time.Minute) // both kiosks go silent, past OfflineAfter
		// Acme: a webhook for custody changes; a second key set out,
		// overdue; a second alarm; a revoked kiosk; a heartbeat ahead of
		// what HQ holds.
		_, _, err := e.st.Outbox().CreateWebhook(ctx, sc, store.Webhook{URL: "https://hooks.acme.test/keycab", Events: []string{store.WebhookCustodyChanged}, Enabled: true})
		MustNoErr(t, err)
		now := e.clock.Now()
		MustNoErr(t, e.st.RecordEvents(ctx, store.KioskScope(acme.owner.orgID, acme.kiosk.ID), []store.Event{
			{LogIndex: 8, Kind: keycab.EventKeyTaken, ActorID: acme.staff.memberID, KeySetID: acme.ks[1].ID, CabinetID: acme.cab.ID,
				At: now.Add(-3 * time.Hour), DueAt: now.Add(-time.Hour)},
			{LogIndex: 9, Kind: keycab.EventAlarmRaised, CabinetID: acme.cab.ID, Detail: keycab.AlarmKeyRemoved, At: now.Add(-time.Minute)},
		}))
		gone, err := e.st.CreateKiosk(ctx, sc, store.Kiosk{CabinetID: acme.cab.ID, Name: "old kiosk"})
		MustNoErr(t, err)
		MustNoErr(t, e.st.RevokeKiosk(ctx, sc, gone.ID))
		MustNoErr(t, e.st.KioskLogs().RecordHeartbeat(ctx, store.KioskScope(acme.owner.orgID, acme.kiosk.ID), store.Heartbeat{
			Door: "open", Alarms: []string{keycab.AlarmDoorHeld}, LogSize: 25, CosignedSize: 0, DiskFree: 1 << 30,
			TemperatureMC: 48_500, ClockOffset: -1500 * time.Millisecond}))
		ks, err := e.st.ListKiosks(ctx, sc)
		MustNoErr(t, err)
		var held int64
		for _, k := range ks {
			if k.ID == acme.kiosk.ID {
				held = k.LogSize
			}
		}

		reg := prometheus.NewRegistry()
		reg.MustRegister(&metrics.Fleet{Store: e.st, OfflineAfter: 5 * time.Minute, PerKiosk: true})
		code, fams := scrape(t, reg)
		if code != 200 {
			t.Fatalf("scrape: %d", code)
		}
		a, o := acme.owner.orgID, other.owner.orgID
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"keycab_key_sets_out", []string{"org", a}, 2},
			{"keycab_key_sets_out", []string{"org", o}, 1},
			{"keycab_key_sets_overdue", []string{"org", a}, 1},
			{"keycab_key_sets_overdue", []string{"org", o}, 0},
			{"keycab_alarms_open", []string{"org", a, "alarm", keycab.AlarmDoorHeld}, 1},
			{"keycab_alarms_open", []string{"org", a, "alarm", keycab.AlarmKeyRemoved}, 1},
			{"keycab_alarms_open", []string{"org", o, "alarm", keycab.AlarmDoorHeld}, 1},
			{"keycab_kiosks", []string{"org", a, "state", "online"}, 1},
			{"keycab_kiosks", []string{"org", a, "state", "revoked"}, 1},
			{"keycab_kiosks", []string{"org", o, "state", "offline"}, 1},
			{"keycab_kiosks", []string{"org", o, "state", "revoked"}, 0},
			{"keycab_kiosks_config_behind", []string{"org", a}, 0},
			{"keycab_kiosks_quarantined", []string{"org", a}, 0},
			{"keycab_equivocations_total", []string{"org", a}, 0},
			{"keycab_push_lag_entries", []string{"org", a}, float64(25 - held)},
			{"keycab_cosign_lag_entries", []string{"org", a}, float64(held)},
			{"keycab_push_lag_entries", []string{"org", o}, 0},
			{"keycab_notices", []string{"org", a, "state", "pending"}, 0},
			{"keycab_webhook_deliveries", []string{"org", a, "state", "pending"}, 1},
			{"keycab_webhook_deliveries", []string{"org", o, "state", "pending"}, 0},
			{"keycab_kiosk_online", []string{"org", a, "kiosk", acme.kiosk.ID}, 1},
			{"keycab_kiosk_online", []string{"org", o, "kiosk", other.kiosk.ID}, 0},
			{"keycab_kiosk_log_entries", []string{"org", a, "kiosk", acme.kiosk.ID}, 25},
			{"keycab_kiosk_push_lag_entries", []string{"org", a, "kiosk", acme.kiosk.ID}, float64(25 - held)},
			{"keycab_kiosk_door_open", []string{"org", a, "kiosk", acme.kiosk.ID}, 1},
			{"keycab_kiosk_alarms", []string{"org", a, "kiosk", acme.kiosk.ID}, 1},
			{"keycab_kiosk_temperature_celsius", []string{"org", a, "kiosk", acme.kiosk.ID}, 48.5},
			{"keycab_kiosk_clock_offset_seconds", []string{"org", a, "kiosk", acme.kiosk.ID}, -1.5},
			{"keycab_kiosk_disk_free_bytes", []string{"org", a, "kiosk", acme.kiosk.ID}, 1 << 30},
		} {
			if got := value(t, fams, c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		for _, m := range fams["keycab_kiosk_online"].Metric {
			for _, l := range m.Label {
				if l.GetName() == "kiosk" && l.GetValue() == gone.ID {
					t.Errorf("a revoked kiosk has per-kiosk series")
				}
			}
		}
		// A kiosk never heard from reports nothing it did not say.
		for _, m := range fams["keycab_kiosk_log_entries"].Metric {
			for _, l := range m.Label {
				if l.GetName() == "kiosk" && l.GetValue() == other.kiosk.ID {
					t.Errorf("a kiosk without a heartbeat has a log size series")
				}
			}
		}

		// Without PerKiosk, no keycab_kiosk_* series.
		reg2 := prometheus.NewRegistry()
		reg2.MustRegister(&metrics.Fleet{Store: e.st, OfflineAfter: 5 * time.Minute})
		if _, fams := scrape(t, reg2); fams["keycab_kiosk_online"] != nil || fams["keycab_key_sets_out"] == nil {
			t.Errorf("PerKiosk off: %v", fams)
		}

		// A reading that cannot finish fails the scrape instead of
		// serving stale or empty series.
		reg3 := prometheus.NewRegistry()
		reg3.MustRegister(&metrics.Fleet{Store: e.st, OfflineAfter: time.Minute, Timeout: time.Nanosecond})
		if code, _ := scrape(t, reg3); code != 500 {
			t.Errorf("a failed reading scraped %d, want 500", code)
		}
	})
}

// Every series the fleet collector has is listed in docs/OPERATIONS.md.
func TestFleetMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/OPERATIONS.md")
	MustNoErr(t, err)
	for _, name := range metrics.Names() {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/OPERATIONS.md does not list %s", name)
		}
	}
}
