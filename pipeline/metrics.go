package pipeline

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/expbot/expbot/pipeline/store"
)

// Metrics are the pipeline's Prometheus series; labels stay bounded (no
// repository or issue labels).
type Metrics struct {
	runs        *prometheus.CounterVec
	runDuration *prometheus.HistogramVec
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
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "expbot_queue_depth",
		Help: "Jobs queued or running.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	reg.MustRegister(m.runs, m.runDuration, depth)
	return m
}

func (m *Metrics) observeRun(outcome string, d time.Duration) {
	m.runs.WithLabelValues(outcome).Inc()
	m.runDuration.WithLabelValues(outcome).Observe(d.Seconds())
}
