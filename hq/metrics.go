package hq

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics counts the requests HQ serves, in a Prometheus registry of
// their own: these carry no tenant data, so the server's /metrics serves
// them to anyone who reaches it. The fleet's metrics (hq/metrics), which
// name organisations and kiosks, are served only on the separate
// monitoring listener (keycab-hq serve --metrics-listen), which gathers
// this registry too.
type Metrics struct {
	// Registry holds the request metrics and the uptime gauge.
	Registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	handler   http.Handler
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	start := time.Now()
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycab_hq_http_requests_total",
			Help: "HTTP requests served, by method, route and status.",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keycab_hq_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.Registry.MustRegister(m.requests, m.durations, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keycab_hq_uptime_seconds",
		Help: "Seconds since the process started serving.",
	}, func() float64 { return time.Since(start).Seconds() }))
	m.handler = promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	return m
}

func (m *Metrics) observe(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	} else if _, p, ok := strings.Cut(route, " "); ok {
		route = p
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.durations.WithLabelValues(route).Observe(d.Seconds())
}

// ServeHTTP writes the request metrics in the text exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}
