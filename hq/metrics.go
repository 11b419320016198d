package hq

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics counts requests and writes them in the Prometheus text
// exposition format (version 0.0.4). Written here rather than with
// prometheus/client_golang: HQ exports a counter and a histogram, which
// take sixty lines, and the client library would bring a dozen modules.
type Metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	hist     map[string]*histogram // by route
	start    time.Time
}

type reqKey struct {
	method, route string
	code          int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[reqKey]uint64{}, hist: map[string]*histogram{}, start: time.Now()}
}

func (m *Metrics) observe(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	} else if _, p, ok := strings.Cut(route, " "); ok {
		route = p
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{method, route, code}]++
	h := m.hist[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets)+1)}
		m.hist[route] = h
	}
	sec := d.Seconds()
	i, _ := slices.BinarySearch(buckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

// ServeHTTP writes the metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP keycab_hq_http_requests_total HTTP requests served, by method, route and status.\n")
	b.WriteString("# TYPE keycab_hq_http_requests_total counter\n")
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b reqKey) int {
		return strings.Compare(fmt.Sprint(a.route, a.method, a.code), fmt.Sprint(b.route, b.method, b.code))
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "keycab_hq_http_requests_total{method=%s,route=%s,code=\"%d\"} %d\n", quote(k.method), quote(k.route), k.code, m.requests[k])
	}
	b.WriteString("# HELP keycab_hq_http_request_duration_seconds Time to serve HTTP requests, by route.\n")
	b.WriteString("# TYPE keycab_hq_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.hist))
	for r := range m.hist {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		h := m.hist[r]
		var cum uint64
		for i, le := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "keycab_hq_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", quote(r), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(&b, "keycab_hq_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", quote(r), h.n)
		fmt.Fprintf(&b, "keycab_hq_http_request_duration_seconds_sum{route=%s} %s\n", quote(r), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "keycab_hq_http_request_duration_seconds_count{route=%s} %d\n", quote(r), h.n)
	}
	b.WriteString("# HELP keycab_hq_uptime_seconds Seconds since the process started serving.\n")
	b.WriteString("# TYPE keycab_hq_uptime_seconds gauge\n")
	fmt.Fprintf(&b, "keycab_hq_uptime_seconds %s\n", strconv.FormatFloat(time.Since(m.start).Seconds(), 'f', 3, 64))
	w.Write([]byte(b.String()))
}

// quote escapes a label value: backslash, double quote and newline.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
