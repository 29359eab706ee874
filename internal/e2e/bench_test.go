package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the bot's database after the run

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// The two performance requirements, as benchmarks against a real `expbot
// serve` (see docs/performance.md; run them with `make bench-e2e`). They
// are benchmarks, not tests, because the machines they run on are shared
// and noisy: a number from one run is a sample, not a verdict.

const (
	// 200 signed deliveries per second for 10 s; 99% acknowledged in 10 ms.
	ackRate     = 200
	ackDuration = 10 * time.Second
	ackP99Limit = 10 * time.Millisecond

	// burstSize issues labeled at once in one repository must all be done
	// within burstLimit times the end-to-end time of a single issue.
	burstSize  = 50
	burstLimit = 3.0
)

// BenchmarkAckLatency sends ackRate accepted GitHub deliveries per second
// for ackDuration, open loop: each request leaves at its scheduled time
// whether or not earlier ones were answered, and its latency counts from
// that time, so a stall shows in every request it delays (no coordinated
// omission). Every delivery labels a different issue with a valid request,
// so each runs the whole intake transaction (dedupe, desired state, River
// jobs) while the reconcile worker runs Pulumi on the ones before it. Once
// on SQLite, once on PostgreSQL (one replica).
//
// postgres-spread spreads the same deliveries over ackSpread repositories
// (one replica), to tell what one repository's transactions cost each
// other from what the intake costs alone (docs/performance.md).
func BenchmarkAckLatency(b *testing.B) {
	for _, c := range []struct {
		name      string
		store     storeKind
		repos     int
		fileState bool
	}{
		{"sqlite", onSQLite, 1, false},
		{"postgres", onPostgres, 1, false},
		{"postgres-spread", onPostgres, ackSpread, false},
		// Not a deployment's setting: it tells what the Pulumi state's
		// writes into the same server (on the same CPUs here) cost the
		// acknowledgements.
		{"postgres-filestate", onPostgres, 1, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var env map[string]string
			if c.fileState {
				env = map[string]string{"EXPBOT_PULUMI_BACKEND_URL": "file://" + b.TempDir()}
			}
			benchAckLatency(b, c.store, c.repos, env)
		})
	}
}

// ackSpread is how many repositories postgres-spread spreads over.
const ackSpread = 20

func benchAckLatency(b *testing.B, store storeKind, repos int, env map[string]string) {
	var (
		lat, lag, inBot []time.Duration
		bot             botCounters
		pgCPU           float64
	)
	for i := range b.N {
		r := runAckLoad(b, fmt.Sprintf("acme/load-%d", i), store, repos, env)
		lat, lag, inBot = append(lat, r.client.Latency...), append(lag, r.client.Lag...), append(inBot, r.inBot...)
		bot, pgCPU = bot.plus(r.bot), pgCPU+r.pgCPU
	}
	slices.Sort(lat)
	slices.Sort(lag)
	slices.Sort(inBot)
	p50, p90, p99, worst := percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99), lat[len(lat)-1]
	cpuPer := bot.cpu * 1000 / float64(len(lat))
	b.ReportMetric(0, "ns/op") // the set-up would dominate it; the latencies are the result
	b.ReportMetric(millis(p50), "p50_ms")
	b.ReportMetric(millis(p90), "p90_ms")
	b.ReportMetric(millis(p99), "p99_ms")
	b.ReportMetric(millis(worst), "max_ms")
	// The bot's own view (its log): from the request read to the answer,
	// without the client, the network stack or the wait for a connection.
	b.ReportMetric(millis(percentile(inBot, 0.99)), "bot_p99_ms")
	// How late the client sent (part of the latency above).
	b.ReportMetric(millis(percentile(lag, 0.99)), "send_lag_p99_ms")
	b.ReportMetric(float64(len(lat))/float64(b.N), "deliveries/op")
	// expbot's own CPU time (the Pulumi CLI and plugins are other
	// processes) per delivery: steadier than latency on a shared machine.
	b.ReportMetric(cpuPer, "cpu_ms/delivery")
	if store == onSQLite {
		// The disk's share: commits that waited for an fsync, and how many
		// of them took over 10 ms (each delays every delivery behind it).
		b.ReportMetric(bot.syncs/float64(b.N), "fsync_commits/op")
		b.ReportMetric(bot.slowSyncs/float64(b.N), "fsync_commits_over_10ms/op")
	} else {
		// The database server's share: its backends serving the bot.
		b.ReportMetric(pgCPU*1000/float64(len(lat)), "pg_cpu_ms/delivery")
	}
	b.Logf("%s, %d repositories, %d deliveries: p50 %v, p90 %v, p99 %v, max %v; in the bot: p50 %v, p99 %v; sent late by p50 %v, p99 %v; expbot CPU %.2f ms per delivery; %.0f commits with an fsync, %.0f of them over 10 ms; PostgreSQL backends' CPU %.2f ms per delivery",
		store, repos, len(lat), p50, p90, p99, worst, percentile(inBot, 0.50), percentile(inBot, 0.99), percentile(lag, 0.50), percentile(lag, 0.99), cpuPer, bot.syncs, bot.slowSyncs, pgCPU*1000/float64(len(lat)))
	if p99 >= ackP99Limit {
		b.Errorf("p99 acknowledgement latency %v, want under %v", p99, ackP99Limit)
	}
}

// ackRun is what one load saw: the client's view, the bots' own latencies
// (their logs), their counters over the load and the CPU seconds of the
// PostgreSQL backends serving them.
type ackRun struct {
	client loadResult
	inBot  []time.Duration
	bot    botCounters
	pgCPU  float64
}

// runAckLoad runs one load against a fresh bot on store, after which it
// checks that every delivery was accepted and is in the database.
func runAckLoad(b *testing.B, repo string, store storeKind, repos int, env map[string]string) ackRun {
	b.StopTimer()
	t := newTarget(b, store, 1, 0, env)
	defer t.crash()
	n := int(ackRate * ackDuration / time.Second)
	reqs := spreadRequests(b, t.h, repo, n+1, repos, 0)
	warmUp, reqs := reqs[n], reqs[:n]

	// The set-up just built the bot and the stand-ins: hundreds of MB the
	// kernel would otherwise write back during the load, making the bot's
	// fsyncs wait behind them (p99 over 40 ms on a cold build cache). A
	// server in production is not compiling Go before it takes webhooks.
	syscall.Sync()
	before := t.counters(b)
	backends := t.pgBackends(b)
	pgBefore := cpuSeconds(backends)
	waits := t.sampleWaits(b)
	b.StartTimer()
	res := runLoadGenerator(b, loadPlan{URLs: t.webhookURLs(), Interval: time.Second / ackRate, WarmUp: warmUp, Requests: reqs})
	b.StopTimer()
	if w := waits(); len(w) > 0 {
		b.Logf("PostgreSQL backends during the load, on average (active or idle in a transaction, and what they waited for): %s", strings.Join(w[:min(len(w), 8)], "; "))
	}
	r := ackRun{client: res, bot: t.counters(b).minus(before), pgCPU: cpuSeconds(backends) - pgBefore}
	if slow := slowStretches(res.Latency, time.Second/ackRate); slow != "" {
		b.Logf("acknowledgements over %v, by second of the load: %s", ackP99Limit, slow)
	}

	checkAccepted(b, t, res, reqs)
	// Kill it as a crash would: every delivery answered 202 must already
	// be in the database, with no graceful shutdown to write anything late.
	t.crash()
	t.checkRecorded(b, reqs)
	r.inBot = botLatencies(b, t.logs(), reqs)
	return r
}

// checkAccepted fails b unless every request was answered 202 and the bots
// counted them (and the warm-up) as accepted.
func checkAccepted(b *testing.B, t benchTarget, res loadResult, reqs []ackReq) {
	b.Helper()
	bad := 0
	for i := range reqs {
		if res.Status[i] != http.StatusAccepted || res.Err[i] != "" {
			if bad++; bad <= 5 {
				b.Errorf("delivery %s: status %d, error %q; want 202", reqs[i].ID, res.Status[i], res.Err[i])
			}
		}
	}
	if bad > 0 {
		b.Fatalf("%d of %d deliveries were not accepted", bad, len(reqs))
	}
	if got, want := t.accepted(b), len(reqs)+1; got != want { // the warm-up too
		b.Errorf("accepted deliveries metric = %d, want %d", got, want)
	}
}

// botLatencies reads, from the bots' logs, how long they took over each of
// reqs.
func botLatencies(b *testing.B, logFiles []string, reqs []ackReq) []time.Duration {
	b.Helper()
	want := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		want[r.ID] = true
	}
	var out []time.Duration
	for _, f := range logFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			var e struct {
				Message  string  `json:"message"`
				Delivery string  `json:"delivery"`
				Millis   float64 `json:"duration"`
			}
			if json.Unmarshal(line, &e) == nil && e.Message == "webhook delivery" && want[e.Delivery] {
				out = append(out, time.Duration(e.Millis*float64(time.Millisecond)))
			}
		}
	}
	if len(out) != len(reqs) {
		b.Fatalf("the bots logged %d of %d deliveries", len(out), len(reqs))
	}
	return out
}

// ackRequests makes a repository without a webhook (the forge must not
// send deliveries of its own), opens n issues in it so that status
// comments have somewhere to go, and signs a "labeled" delivery for each.
// A size above zero fills each delivery with the fields GitHub sends and
// expbot does not read (users' and the repository's URLs, counts, flags),
// up to about size bytes, as GitHub's issues deliveries are (~14 KB).
func ackRequests(b *testing.B, h *harness, repo string, n, size int) []ackReq {
	b.Helper()
	info, err := h.forge.CreateRepo(repo, "main", map[string]string{"train.py": "print('hi')\n"},
		state.Signature{Name: "Alice Example", Email: "alice@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	for _, login := range []string{"alice", "expbot"} {
		if err := h.forge.SetAccess(repo, login, state.Maintainer); err != nil {
			b.Fatal(err)
		}
	}
	web := h.sim.BaseURL() + "/" + repo
	reqs := make([]ackReq, n)
	for i := range n {
		body := request(fmt.Sprintf("load-%d", i+1), "0.01")
		issue, _, err := h.forge.OpenIssue(repo, "alice", "load", body, nil)
		if err != nil {
			b.Fatal(err)
		}
		// The fields handlers.DecodeGitHub reads, as GitHub sends them.
		delivery := map[string]any{
			"action": "labeled", "label": map[string]any{"name": label},
			"issue": map[string]any{"number": issue.Number, "title": "load", "body": body, "state": "open",
				"labels": []any{map[string]any{"name": label}}, "html_url": fmt.Sprintf("%s/issues/%d", web, issue.Number),
				"user": map[string]any{"login": "alice"}},
			"repository": map[string]any{"id": info.ID, "full_name": repo, "default_branch": "main", "html_url": web},
			"sender":     map[string]any{"login": "alice", "id": 2, "type": "User"},
		}
		if size > 0 {
			fillDelivery(delivery, h.sim.BaseURL(), repo, issue.Number, size)
		}
		payload, err := json.Marshal(delivery)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = ackReq{
			ID:   fmt.Sprintf("%s-%d", strings.ReplaceAll(repo, "/", "-"), issue.Number),
			Body: payload,
			Sig:  forgesim.GitHubSignature(githubSecret, payload),
		}
	}
	return reqs
}

// botCounters are expbot's own counters: its CPU seconds (the Pulumi CLI
// and plugins are other processes), its commits that waited for an fsync,
// and those of them that took over 10 ms.
type botCounters struct{ cpu, syncs, slowSyncs float64 }

func (c botCounters) plus(d botCounters) botCounters {
	return botCounters{c.cpu + d.cpu, c.syncs + d.syncs, c.slowSyncs + d.slowSyncs}
}

func (c botCounters) minus(d botCounters) botCounters {
	return botCounters{c.cpu - d.cpu, c.syncs - d.syncs, c.slowSyncs - d.slowSyncs}
}

func readBotCounters(b *testing.B, h *harness) botCounters {
	b.Helper()
	scrape := h.scrape()
	value := func(name string) float64 {
		v, err := strconv.ParseFloat(sample(scrape, name+" "), 64)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return v
	}
	c := botCounters{cpu: value("process_cpu_seconds_total")}
	// The commit histogram is SQLite's (its write connection); on
	// PostgreSQL the server waits for the disk.
	if sample(scrape, `expbot_store_commit_seconds_count{fsync="true"} `) != "" {
		c.syncs = value(`expbot_store_commit_seconds_count{fsync="true"}`)
		c.slowSyncs = c.syncs - value(`expbot_store_commit_seconds_bucket{fsync="true",le="0.01"}`)
	}
	return c
}

// checkRecorded opens the stopped bot's database and looks for every
// delivery id.
func checkRecorded(b *testing.B, path string, reqs []ackReq) {
	b.Helper()
	db, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(deliveryIDs)
	if err != nil {
		b.Fatalf("read deliveries: %v", err)
	}
	defer rows.Close()
	wantRecorded(b, rows, reqs)
}

// deliveryIDs reads the GitHub delivery ids recorded or kept to be applied
// (the inbox), on either driver: an acknowledged delivery is in one of them.
const deliveryIDs = `SELECT delivery_id FROM deliveries WHERE forge = 'github'
	UNION SELECT delivery_id FROM inbox WHERE forge = 'github'`

// idRows is what database/sql's and pgx's rows have in common.
type idRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// wantRecorded fails b unless every acknowledged delivery is among rows'
// ids.
func wantRecorded(b *testing.B, rows idRows, reqs []ackReq) {
	b.Helper()
	have := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	missing := 0
	for _, r := range reqs {
		if !have[r.ID] {
			missing++
		}
	}
	if missing > 0 {
		b.Errorf("%d of %d acknowledged deliveries are not in the database", missing, len(reqs))
	}
}

// BenchmarkBurst compares the end-to-end time of one labeled issue (label
// → branch with its variant file, and a status comment saying it is ready)
// with that of burstSize issues labeled at once in one repository. Every
// measurement gets a fresh bot, so each starts without a stack.
func BenchmarkBurst(b *testing.B) {
	// Not measured: the first Pulumi run on a machine pays for cold caches.
	labelAndWait(b, "github", 1)
	for _, flavor := range []string{"github", "gitlab"} {
		b.Run(flavor, func(b *testing.B) {
			var single, burst time.Duration
			for range b.N {
				single += labelAndWait(b, flavor, 1)
				burst += labelAndWait(b, flavor, burstSize)
			}
			single /= time.Duration(b.N)
			burst /= time.Duration(b.N)
			ratio := burst.Seconds() / single.Seconds()
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(single.Seconds(), "single_s")
			b.ReportMetric(burst.Seconds(), "burst_s")
			b.ReportMetric(ratio, "ratio")
			b.Logf("one issue %v, %d issues %v: %.2f×", single, burstSize, burst, ratio)
			if ratio >= burstLimit {
				b.Errorf("%d issues took %.2f× the time of one; want under %.0f×", burstSize, ratio, burstLimit)
			}
		})
	}
}

// labelAndWait opens n issues on a fresh bot, labels them all at once and
// returns how long it took until every branch and status comment was final.
func labelAndWait(b *testing.B, flavor string, n int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	h := newHarness(b)
	defer h.stop()
	repo := repoFor[flavor]
	names := map[int]string{}
	numbers := make([]int, n)
	for i := range n {
		name := fmt.Sprintf("burst-%d", i+1)
		issue, _, err := h.forge.OpenIssue(repo, "alice", "burst", request(name, "0.01"), nil)
		if err != nil {
			b.Fatal(err)
		}
		numbers[i], names[issue.Number] = issue.Number, name
	}
	before := len(h.sim.Deliveries())

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, num := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.forge.LabelIssue(repo, num, "alice", []string{label}, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	// The labels are accepted (202); the bot's own comments come back
	// ignored (200).
	for _, d := range h.sim.Deliveries()[before:] {
		if d.Status != http.StatusAccepted && d.Status != http.StatusOK {
			b.Fatalf("delivery %s answered %d: %s", d.ID, d.Status, d.ResponseBody)
		}
	}

	// Poll often: the times are seconds, and the harness's 100 ms tick
	// would blur them.
	pending := slices.Clone(numbers)
	deadline := start.Add(waitLimit)
	for {
		pending = slices.DeleteFunc(pending, func(num int) bool { return issueDone(h, repo, num, names[num]) })
		if len(pending) == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v, %d of %d issues are not done (#%d: status comment %q)",
				waitLimit, len(pending), n, pending[0], statusBody(h, repo, pending[0]))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// issueDone reports whether an issue's branch holds its variant file and its
// status comment says it is ready.
func issueDone(h *harness, repo string, number int, name string) bool {
	if !strings.Contains(statusBody(h, repo, number), "is ready") {
		return false
	}
	return strings.Contains(h.branch(repo, fmt.Sprintf("exp/%d-%s", number, name)).file, "name: "+name)
}

func statusBody(h *harness, repo string, number int) string {
	cs := h.statusComments(repo, number)
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1].Body
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spreadRequests is ackRequests over repos repositories (named after repo),
// which take turns: request i is repository i%repos's.
func spreadRequests(b *testing.B, h *harness, repo string, n, repos, size int) []ackReq {
	if repos <= 1 {
		return ackRequests(b, h, repo, n, size)
	}
	per := make([][]ackReq, repos)
	for r := range repos {
		per[r] = ackRequests(b, h, fmt.Sprintf("%s-%d", repo, r), (n+repos-1)/repos, size)
	}
	reqs := make([]ackReq, n)
	for i := range n {
		reqs[i] = per[i%repos][i/repos]
	}
	return reqs
}

// fillDelivery adds to a GitHub issues delivery the fields GitHub sends
// besides those expbot reads: the users' and the repository's many URLs,
// ids, counts and flags, then a note in the issue's body after the request
// until the JSON is about size bytes.
func fillDelivery(d map[string]any, base, repo string, number, size int) {
	user := func(login string, id int) map[string]any {
		u := map[string]any{"login": login, "id": id, "node_id": fmt.Sprintf("MDQ6VXNlcj%08d", id),
			"gravatar_id": "", "type": "User", "user_view_type": "public", "site_admin": false}
		for _, k := range []string{"avatar", "url", "html", "followers", "following", "gists", "starred",
			"subscriptions", "organizations", "repos", "events", "received_events"} {
			u[k+"_url"] = fmt.Sprintf("%s/users/%s/%s", base, login, k)
		}
		return u
	}
	issue := d["issue"].(map[string]any)
	issue["user"], d["sender"] = user("alice", 2), user("alice", 2)
	for _, k := range []string{"url", "repository_url", "labels_url", "comments_url", "events_url", "timeline_url"} {
		issue[k] = fmt.Sprintf("%s/repos/%s/issues/%d/%s", base, repo, number, k)
	}
	issue["id"], issue["node_id"], issue["comments"], issue["locked"] = 1000000+number, fmt.Sprintf("I_kwDOA%08d", number), 0, false
	issue["created_at"], issue["updated_at"], issue["author_association"] = "2026-12-06T06:00:00Z", "2026-12-06T06:00:01Z", "OWNER"
	issue["assignees"], issue["reactions"] = []any{}, map[string]any{"url": issue["url"], "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
	issue["labels"] = []any{map[string]any{"id": 7, "node_id": "LA_kwDOA0000007", "url": base + "/repos/" + repo + "/labels/" + label,
		"name": label, "color": "0e8a16", "default": false, "description": "Make an experiment branch"}}
	d["label"] = issue["labels"].([]any)[0]
	r := d["repository"].(map[string]any)
	owner, name, _ := strings.Cut(repo, "/")
	r["name"], r["owner"], r["private"], r["node_id"] = name, user(owner, 3), false, "R_kgDOA0000001"
	for _, k := range []string{"url", "forks", "keys", "collaborators", "teams", "hooks", "issue_events", "events",
		"assignees", "branches", "tags", "blobs", "git_tags", "git_refs", "trees", "statuses", "languages",
		"stargazers", "contributors", "subscribers", "subscription", "commits", "git_commits", "comments",
		"issue_comment", "contents", "compare", "merges", "archive", "downloads", "issues", "pulls",
		"milestones", "notifications", "labels", "releases", "deployments", "git", "ssh", "clone", "svn"} {
		r[k+"_url"] = fmt.Sprintf("%s/repos/%s/%s{/id}", base, repo, k)
	}
	r["created_at"], r["updated_at"], r["pushed_at"] = "2026-01-01T00:00:00Z", "2026-12-06T06:00:00Z", "2026-12-06T06:00:00Z"
	for _, k := range []string{"size", "stargazers_count", "watchers_count", "forks_count", "open_issues_count", "forks", "open_issues", "watchers"} {
		r[k] = 1
	}
	for _, k := range []string{"fork", "has_issues", "has_projects", "has_downloads", "has_wiki", "has_pages", "has_discussions", "archived", "disabled", "allow_forking", "is_template", "web_commit_signoff_required"} {
		r[k] = false
	}
	r["visibility"], r["language"], r["topics"], r["description"] = "public", "Python", []any{"llm", "training"}, "Training runs"
	d["organization"] = map[string]any{"login": owner, "id": 3, "url": base + "/orgs/" + owner, "description": ""}

	raw, _ := json.Marshal(d)
	if pad := size - len(raw); pad > 0 {
		note := "\n\nNotes from the last run, kept for whoever picks this up:\n"
		for len(note) < pad {
			note += "- the loss curve flattened after the warm-up; try a lower rate and a longer schedule.\n"
		}
		issue["body"] = issue["body"].(string) + note[:pad]
	}
}

// slowStretches counts, for each second of a load sent every interval, the
// deliveries acknowledged after ackP99Limit or later: whether slow ones
// come spread out or in stretches.
func slowStretches(lat []time.Duration, interval time.Duration) string {
	perSecond := int(time.Second / interval)
	var parts []string
	for start := 0; start < len(lat); start += perSecond {
		n := 0
		for _, l := range lat[start:min(start+perSecond, len(lat))] {
			if l >= ackP99Limit {
				n++
			}
		}
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, " ")
}
