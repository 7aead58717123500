package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agent-trace/agent-trace/internal/live"
)

// metrics live in a registry of their own, so several APIs (tests) do not collide.
type metrics struct {
	reg         *prometheus.Registry
	events      prometheus.Counter
	duplicates  prometheus.Counter
	batches     *prometheus.CounterVec
	latency     prometheus.Histogram
	storeErrors *prometheus.CounterVec
}

func newMetrics(hub *live.Hub) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agent_trace_ingest_events_total",
			Help: "Events stored for the first time.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agent_trace_ingest_duplicates_total",
			Help: "Events dropped because their ID was already stored.",
		}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agent_trace_ingest_batches_total",
			Help: "Ingest requests by outcome: ok, malformed, invalid, too_large, store_error, client_gone (the client disconnected or gave up first).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "agent_trace_ingest_duration_seconds",
			Help:    "Time to decode, validate and store one accepted batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agent_trace_store_errors_total",
			Help: "Store failures (other than not found or invalid) by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.events, m.duplicates, m.batches, m.latency, m.storeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agent_trace_sse_subscribers",
			Help: "Connected Server-Sent Events clients.",
		}, func() float64 { return float64(hub.Subscribers()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agent_trace_sse_dropped_total",
			Help: "SSE clients disconnected for falling too far behind.",
		}, func() float64 { return float64(hub.Dropped()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, o := range []string{"ok", "malformed", "invalid", "too_large", "store_error", "client_gone"} {
		m.batches.WithLabelValues(o)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RecordStoreError counts a store failure of work done beside the API (a background
// worker) under op, in the same agent_trace_store_errors_total the API's own use, so one
// metric shows every store failure.
func (a *API) RecordStoreError(op string) { a.metrics.storeErrors.WithLabelValues(op).Inc() }
