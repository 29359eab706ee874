package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// Metrics are the pipeline's Prometheus series. Labels take values from
// fixed sets: none names a repository, an issue, a delivery or a replica
// (Prometheus's instance label tells replicas apart; see
// internal/e2e/metrics_test.go).
type Metrics struct {
	runs         *prometheus.CounterVec
	runDuration  *prometheus.HistogramVec
	driftChecks  *prometheus.CounterVec
	driftRepairs *prometheus.CounterVec
}

// NewMetrics registers the pipeline's series, including a queue-depth gauge
// read from st at scrape time.
func NewMetrics(reg prometheus.Registerer, st store.Store) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expbot_reconcile_runs_total",
			Help: "Reconcile runs by outcome (succeeded, failed, retrying).",
		}, []string{"outcome"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "expbot_reconcile_duration_seconds",
			Help:    "Duration of reconcile runs, Pulumi update included.",
			Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120},
		}, []string{"outcome"}),
		driftChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expbot_drift_checks_total",
			Help: "Drift checks of a repository by outcome (clean, repaired, failed: retried with backoff, refused: the repair would delete).",
		}, []string{"forge", "outcome"}),
		driftRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expbot_drift_repairs_total",
			Help: "Experiment branches repaired after a drift check, by kind (branch_deleted, file_changed, file_deleted).",
		}, []string{"forge", "kind"}),
	}
	// Every series exists from the start, at 0, so that rates and alerts
	// work before the first repair.
	for _, f := range []event.Forge{event.GitHub, event.GitLab} {
		for _, o := range []string{"clean", "repaired", "failed", "refused"} {
			m.driftChecks.WithLabelValues(string(f), o)
		}
		for _, k := range driftKinds {
			m.driftRepairs.WithLabelValues(string(f), k)
		}
	}
	depth := countGauge("expbot_queue_depth", "Jobs queued or running.", st.QueueDepth)
	reg.MustRegister(m.runs, m.runDuration, m.driftChecks, m.driftRepairs, depth)
	return m
}

func (m *Metrics) observeDriftCheck(f event.Forge, outcome string) {
	if m != nil {
		m.driftChecks.WithLabelValues(string(f), outcome).Inc()
	}
}

func (m *Metrics) observeRepair(f event.Forge, kind string) {
	if m != nil {
		m.driftRepairs.WithLabelValues(string(f), kind).Inc()
	}
}

func (m *Metrics) observeRun(outcome string, d time.Duration) {
	m.runs.WithLabelValues(outcome).Inc()
	m.runDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// InboxMetrics are the inbox's series: applications by outcome, and how
// many deliveries wait.
type InboxMetrics struct {
	applied *prometheus.CounterVec
}

// NewInboxMetrics registers the inbox's series, including a depth gauge
// read from st at scrape time.
func NewInboxMetrics(reg prometheus.Registerer, st store.Store) *InboxMetrics {
	m := &InboxMetrics{applied: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "expbot_deliveries_applied_total",
		Help: "Acknowledged deliveries applied to desired state, by outcome (accepted, duplicate, ignored, stale; retrying: the application failed and will be tried again).",
	}, []string{"outcome"})}
	for _, o := range []string{"accepted", "duplicate", "ignored", "stale", "retrying"} {
		m.applied.WithLabelValues(o)
	}
	depth := countGauge("expbot_inbox_depth", "Deliveries acknowledged and not yet applied.", st.InboxDepth)
	reg.MustRegister(m.applied, depth)
	return m
}

func (m *InboxMetrics) observe(outcome string) {
	if m != nil {
		m.applied.WithLabelValues(outcome).Inc()
	}
}

// countGauge is a gauge that counts with count at scrape time; -1 when the
// store does not answer within 2 s.
func countGauge(name, help string, count func(context.Context) (int, error)) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := count(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}
