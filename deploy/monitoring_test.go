package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"keycab.dev/keycab/hq/metrics"
	"keycab.dev/keycab/internal/testenv"
)

// hqRequestMetrics are the series of HQ's request metrics (hq.Metrics),
// with the suffixes a histogram adds.
var hqRequestMetrics = []string{"keycab_hq_http_requests_total", "keycab_hq_http_request_duration_seconds_bucket",
	"keycab_hq_uptime_seconds"}

// knownSeries are the keycab series HQ exports.
func knownSeries() []string { return append(metrics.Names(), hqRequestMetrics...) }

var seriesName = regexp.MustCompile(`\bkeycab_[a-z0-9_]+`)

// mustKnow fails for every keycab_ series expr names that HQ does not
// export: a rule or panel on a series renamed or never made is silently
// empty in Prometheus and Grafana.
func mustKnow(t *testing.T, where, expr string) {
	t.Helper()
	for _, name := range seriesName.FindAllString(expr, -1) {
		if !slices.Contains(knownSeries(), name) {
			t.Errorf("%s: %s is not a series keycab-hq exports", where, name)
		}
	}
}

// The alert rules load in Prometheus's own checker, their unit tests pass
// (the alerts fire on the series they name, and not before their for:),
// and every series they use is one HQ exports.
func TestAlertRules(t *testing.T) {
	promtool := testenv.MustHaveTool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "keycab.rules.yml"}, {"test", "rules", "keycab.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile("monitoring/keycab.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			mustKnow(t, "keycab.rules.yml", expr)
		}
	}
	if !strings.Contains(string(rules), "keycab_equivocations_total") {
		t.Error("no rule alerts on a log fork")
	}
}

// The Grafana dashboard is JSON Grafana can import: panels with ids, a
// place and a Prometheus query each, on series HQ exports.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("monitoring/keycab-grafana.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			GridPos *struct {
				W, H int
			} `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("keycab-grafana.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels: %+v", d)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if p.ID == 0 || ids[p.ID] || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || len(p.Targets) == 0 {
			t.Errorf("panel %q: id %d (unique, not 0), a grid position and a query needed", p.Title, p.ID)
		}
		ids[p.ID] = true
		for _, q := range p.Targets {
			if q.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			mustKnow(t, "panel "+p.Title, q.Expr)
		}
	}
}
