package handlers

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/expbot/expbot/internal/event"
)

// Metrics are the webhook endpoints' Prometheus collectors. Create one per
// registry and share it between the GitHub and GitLab handlers.
type Metrics struct {
	deliveries    *prometheus.CounterVec
	ack           *prometheus.HistogramVec
	installations *prometheus.CounterVec
}

// Outcome label values of expbot_webhook_deliveries_total (also the "status"
// of the JSON answer).
const (
	outAccepted         = "accepted"
	outDuplicate        = "duplicate"
	outIgnored          = "ignored"
	outStale            = "stale"
	outUnauthorized     = "unauthorized"
	outMalformed        = "malformed"
	outTooLarge         = "too_large"
	outTimeout          = "timeout"
	outBusy             = "busy"
	outError            = "error"
	outPing             = "ping"
	outMethodNotAllowed = "method_not_allowed"
)

// eventLabel bounds the "event" label: the header is sender-controlled (and
// read before authentication), so names outside a known set count as "other".
func eventLabel(f event.Forge, name string) string {
	switch {
	case f == event.GitHub && slices.Contains([]string{"ping", "issues", "issue_comment", "pull_request", "push", "create", "delete",
		"installation", "installation_repositories"}, name),
		f == event.GitLab && slices.Contains([]string{"Issue Hook", "Confidential Issue Hook", "Note Hook", "Confidential Note Hook",
			"Merge Request Hook", "Push Hook", "Tag Push Hook"}, name):
		return name
	default:
		return "other"
	}
}

// NewMetrics creates the collectors and registers them with reg (none when
// reg is nil). Registering twice with one registry panics, as any duplicate
// registration does: create Metrics once per registry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expbot_webhook_deliveries_total",
			Help: "Webhook deliveries received, by forge, event and outcome.",
		}, []string{"forge", "event", "outcome"}),
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "expbot_webhook_ack_seconds",
			Help: "Time from receiving a webhook to answering it; the forges give up after 10 s.",
			// Milliseconds matter: an answer waits for one store transaction.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"forge"}),
		installations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expbot_github_installation_events_total",
			Help: "GitHub App installation and installation_repositories deliveries, by action.",
		}, []string{"action"}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.ack, m.installations)
	}
	return m
}

// observeInstallation counts an installation event; unknown actions count
// as "other" (the label must stay bounded).
func (m *Metrics) observeInstallation(action string) {
	if !slices.Contains([]string{"created", "deleted", "suspend", "unsuspend", "new_permissions_accepted", "added", "removed"}, action) {
		action = "other"
	}
	m.installations.WithLabelValues(action).Inc()
}

func (m *Metrics) observe(f event.Forge, eventName, outcome string, seconds float64) {
	m.deliveries.WithLabelValues(string(f), eventLabel(f, eventName), outcome).Inc()
	m.ack.WithLabelValues(string(f)).Observe(seconds)
}
