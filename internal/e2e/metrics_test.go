package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// metricLabels is every label /metrics may carry and the values it may
// take: fixed sets, the same on every replica, so that N replicas make N
// times the series (Prometheus's instance label) and no more. A label that
// names a replica, a process, a repository, an issue or a delivery fails
// the test that reads it. README's metrics paragraph lists the same.
var metricLabels = map[string]func(string) bool{
	"forge": oneOf("github", "gitlab"),
	"event": oneOf("other", "ping", "issues", "issue_comment", "pull_request", "push", "create", "delete",
		"installation", "installation_repositories", "Issue Hook", "Confidential Issue Hook", "Note Hook",
		"Confidential Note Hook", "Merge Request Hook", "Push Hook", "Tag Push Hook"),
	"outcome": oneOf(
		// webhook deliveries
		"accepted", "duplicate", "ignored", "stale", "unauthorized", "malformed", "too_large", "timeout",
		"busy", "error", "ping", "method_not_allowed",
		// reconcile runs
		"succeeded", "failed", "retrying", "interrupted",
		// drift checks
		"clean", "repaired", "refused"),
	"kind":   oneOf("branch_deleted", "file_changed", "file_deleted"),
	"action": oneOf("created", "deleted", "suspend", "unsuspend", "new_permissions_accepted", "added", "removed", "other"),
	"fsync":  oneOf("true", "false"),
	// Added by the client library: histogram buckets, summary quantiles,
	// the Go version (one value per binary).
	"le":       func(v string) bool { return numberOrInf.MatchString(v) },
	"quantile": func(v string) bool { return numberOrInf.MatchString(v) },
	"version":  func(v string) bool { return strings.HasPrefix(v, "go") },
}

var numberOrInf = regexp.MustCompile(`^(\+Inf|[0-9.e+-]+)$`)

func oneOf(vals ...string) func(string) bool {
	return func(v string) bool { return slices.Contains(vals, v) }
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// badMetricLabels lists the samples of a scrape whose labels are not in
// metricLabels, or whose values are not in their set.
func badMetricLabels(scrape string) (bad []string, samples int) {
	for _, line := range strings.Split(scrape, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		samples++
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			if ok := metricLabels[p[1]]; ok == nil || !ok(p[2]) {
				bad = append(bad, fmt.Sprintf("%s: %s=%q", m[1], p[1], p[2]))
			}
		}
	}
	return bad, samples
}

// The checker itself: it must see labels and refuse unknown ones.
func TestBadMetricLabels(t *testing.T) {
	scrape := `# HELP x y
expbot_reconcile_runs_total{outcome="succeeded"} 3
expbot_webhook_ack_seconds_bucket{forge="github",le="+Inf"} 2
expbot_queue_depth 0
expbot_reconcile_runs_total{outcome="succeeded",replica="expbot-0b1c"} 1
expbot_webhook_deliveries_total{event="issues",forge="github",outcome="d-123"} 1
`
	bad, n := badMetricLabels(scrape)
	want := []string{`expbot_reconcile_runs_total: replica="expbot-0b1c"`, `expbot_webhook_deliveries_total: outcome="d-123"`}
	if n != 5 || !slices.Equal(bad, want) {
		t.Errorf("badMetricLabels = %q over %d samples, want %q over 5", bad, n, want)
	}
}

// After work of every kind on PostgreSQL (where replicas run): updates on
// both forges, a drift check, deliveries of unknown events, unsigned ones
// and pings, every label of /metrics is one of metricLabels with a value
// from its set.
func TestMetricLabelsAreBounded(t *testing.T) {
	dbURL, _ := pgtest.NewDatabase(t)
	h := newHarnessEnv(t, map[string]string{"EXPBOT_STORE_URL": dbURL})
	for _, flavor := range []string{"github", "gitlab"} {
		h.labeledIssue(t, repoFor[flavor], "metrics-"+flavor, "0.3")
	}
	h.syncAndWait(t, "github", repoFor["github"])

	url := "http://" + h.addr + "/webhooks/github"
	for i, ev := range []string{"ping", "issues-from-" + h.addr, "deployment_status"} {
		body := []byte(fmt.Sprintf(`{"zen":"z","hook_id":%d}`, i))
		hdr := map[string]string{"X-GitHub-Event": ev, "X-GitHub-Delivery": fmt.Sprintf("metrics-%d", i),
			"X-Hub-Signature-256": forgesim.GitHubSignature(githubSecret, body), "Content-Type": "application/json"}
		emitJSON(t, url, hdr, body)
		delete(hdr, "X-Hub-Signature-256")
		hdr["X-GitHub-Delivery"] += "-unsigned"
		if got := emitJSON(t, url, hdr, body); got != http.StatusUnauthorized {
			t.Errorf("unsigned %s delivery: %d, want 401", ev, got)
		}
	}

	scrape := h.scrape()
	bad, n := badMetricLabels(scrape)
	for _, b := range bad {
		t.Errorf("unbounded label: %s", b)
	}
	// The work above shows in the series the test looked at.
	for _, s := range []string{
		`expbot_reconcile_runs_total{outcome="succeeded"}`,
		`expbot_drift_checks_total{forge="github",outcome="clean"}`,
		`expbot_webhook_deliveries_total{event="other",forge="github",outcome="unauthorized"}`,
		`expbot_webhook_deliveries_total{event="ping",forge="github",outcome="ping"}`,
	} {
		if v := sample(scrape, s+" "); v == "" || v == "0" {
			t.Errorf("%s = %q after the work that counts it (%d samples read)", s, v, n)
		}
	}
}
