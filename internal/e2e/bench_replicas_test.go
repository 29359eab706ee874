package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of several replicas on PostgreSQL against one (and SQLite),
// same machine, same run (docs/performance.md):
//
//	go test -run '^$' -bench Intake -benchtime=1x -timeout 30m ./internal/e2e/
//	go test -run '^$' -bench Repos50 -benchtime=1x -timeout 30m ./internal/e2e/

const (
	// Saturated intake: intakeClients clients send intakeDeliveries
	// signed GitHub issues deliveries of about intakeSize bytes, each
	// labeling another issue with a valid request (so each is recorded
	// with its desired state and jobs), spread over intakeRepos
	// repositories, as fast as they are answered.
	intakeDeliveries = 4000
	intakeSize       = 14 << 10
	intakeClients    = 32
	intakeRepos      = 20
	// Each replica's pool when three share the server: the shared test
	// server allows 100 connections in all, and three default pools (16)
	// plus other tests' would come close.
	intakeReplicaPool = 8

	// reposCount repositories with one request each, on reposWorkers
	// workers in all: three replicas must finish within reposLimit times
	// the time of one.
	reposCount   = 50
	reposWorkers = 6
	reposLimit   = 1.2
	// reposPool connections in all, shared like the workers: the shared
	// test server's 100 also serve every Pulumi run and other tests.
	reposPool = 12
)

// BenchmarkIntake saturates the intake of one bot on SQLite, one replica
// on PostgreSQL and three replicas on PostgreSQL (the client spreads the
// deliveries over them in turn), one after the other, and reports each
// one's deliveries per second, latencies and where the CPU went: expbot's
// processes, the PostgreSQL backends serving them, the client, and the
// whole machine. Every delivery must be answered 202 and be in the
// database after the bots are killed.
func BenchmarkIntake(b *testing.B) {
	for _, c := range []struct {
		store storeKind
		n     int
	}{{onSQLite, 1}, {onPostgres, 1}, {onPostgres, 3}} {
		b.Run(fmt.Sprintf("%s-%d", c.store, c.n), func(b *testing.B) {
			var r intakeRun
			for i := range b.N {
				r = r.plus(runIntake(b, c.store, c.n, fmt.Sprintf("acme/intake-%d", i)))
			}
			n := float64(len(r.latency))
			slices.Sort(r.latency)
			rate := n / r.elapsed.Seconds()
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(rate, "deliveries/s")
			// Acknowledged is not yet applied on PostgreSQL (the inbox):
			// the rate at which desired state followed.
			b.ReportMetric(n/r.applied.Seconds(), "applied/s")
			b.ReportMetric(millis(percentile(r.latency, 0.50)), "p50_ms")
			b.ReportMetric(millis(percentile(r.latency, 0.99)), "p99_ms")
			b.ReportMetric(r.bot*1000/n, "expbot_cpu_ms/delivery")
			b.ReportMetric(r.pg*1000/n, "pg_cpu_ms/delivery")
			b.ReportMetric(r.client.Seconds()*1000/n, "client_cpu_ms/delivery")
			b.ReportMetric(r.forge*1000/n, "forge_cpu_ms/delivery")
			b.ReportMetric(100*r.busy/r.all, "machine_busy_%")
			b.Logf("%s-%d: %d deliveries of %d bytes over %d repositories from %d clients in %v: %.0f/s, all applied after %v (%.0f/s); p50 %v, p99 %v; CPU per delivery: expbot %.2f ms, PostgreSQL backends %.2f ms, client %.2f ms, this process (the forge) %.2f ms; machine %.0f%% busy (load average before: %s)",
				c.store, c.n, len(r.latency), r.size, intakeRepos, intakeClients, r.elapsed.Round(time.Millisecond), rate, r.applied.Round(time.Millisecond), n/r.applied.Seconds(),
				percentile(r.latency, 0.50), percentile(r.latency, 0.99), r.bot*1000/n, r.pg*1000/n, r.client.Seconds()*1000/n, r.forge*1000/n, 100*r.busy/r.all, r.loadBefore)
		})
	}
}

// intakeRun is what one saturated load saw.
type intakeRun struct {
	latency    []time.Duration
	elapsed    time.Duration
	applied    time.Duration // from the start until every delivery was applied
	bot, pg    float64       // CPU seconds: expbot's processes, the database's backends
	forge      float64       // CPU seconds of this process: the simulated forge, mostly
	client     time.Duration
	busy, all  float64 // machine CPU seconds over the load
	size       int
	loadBefore string
}

func (r intakeRun) plus(s intakeRun) intakeRun {
	return intakeRun{
		latency: append(r.latency, s.latency...), elapsed: r.elapsed + s.elapsed, applied: r.applied + s.applied,
		bot: r.bot + s.bot, pg: r.pg + s.pg, forge: r.forge + s.forge, client: r.client + s.client,
		busy: r.busy + s.busy, all: r.all + s.all, size: s.size, loadBefore: strings.TrimSpace(r.loadBefore + " " + s.loadBefore),
	}
}

func runIntake(b *testing.B, store storeKind, replicas int, repo string) intakeRun {
	b.StopTimer()
	pool := 0
	if replicas > 1 {
		pool = intakeReplicaPool
	}
	t := newTarget(b, store, replicas, pool, nil)
	defer t.crash()
	reqs := spreadRequests(b, t.h, repo, intakeDeliveries+1, intakeRepos, intakeSize)
	warmUp, reqs := reqs[intakeDeliveries], reqs[:intakeDeliveries]

	syscall.Sync() // the set-up's builds, written back now rather than during the load
	r := intakeRun{size: len(reqs[0].Body), loadBefore: loadAverage()}
	before := t.counters(b)
	backends := t.pgBackends(b)
	pgBefore := cpuSeconds(backends)
	busy, all := machineCPU()
	self := selfCPU()
	waits := t.sampleWaits(b)
	b.StartTimer()
	start := time.Now()
	res := runLoadGenerator(b, loadPlan{URLs: t.webhookURLs(), Concurrency: intakeClients, WarmUp: warmUp, Requests: reqs})
	b.StopTimer()
	r.applied = t.drained(b).Sub(start)
	if w := waits(); len(w) > 0 {
		b.Logf("%s-%d: PostgreSQL backends during the load, on average (active or idle in a transaction, and what they waited for): %s", store, replicas, strings.Join(w[:min(len(w), 8)], "; "))
	}
	busy2, all2 := machineCPU()
	r.busy, r.all, r.forge = busy2-busy, all2-all, selfCPU()-self
	r.bot, r.pg = t.counters(b).minus(before).cpu, cpuSeconds(backends)-pgBefore
	r.latency, r.elapsed, r.client = res.Latency, res.Elapsed, res.ClientCPU

	checkAccepted(b, t, res, reqs)
	t.crash()
	t.checkRecorded(b, reqs)
	return r
}

// BenchmarkRepos50 labels one issue in each of reposCount repositories at
// once and times until every branch and status comment is final, on one
// replica with reposWorkers workers and on three replicas sharing them
// (reposWorkers/3 each), alternating which goes first. Fails when three
// replicas take reposLimit times as long as one or more.
func BenchmarkRepos50(b *testing.B) {
	var one, three time.Duration
	for i := range b.N {
		order := []int{1, 3}
		if i%2 == 1 {
			order = []int{3, 1}
		}
		for _, n := range order {
			d := runRepos(b, n)
			if n == 1 {
				one += d
			} else {
				three += d
			}
		}
	}
	one /= time.Duration(b.N)
	three /= time.Duration(b.N)
	ratio := three.Seconds() / one.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(one.Seconds(), "one_replica_s")
	b.ReportMetric(three.Seconds(), "three_replicas_s")
	b.ReportMetric(ratio, "ratio")
	b.Logf("%d repositories, %d workers in all: one replica %v, three replicas %v: %.2f×", reposCount, reposWorkers, one, three, ratio)
	if ratio >= reposLimit {
		b.Errorf("three replicas took %.2f× the time of one; want under %.1f×", ratio, reposLimit)
	}
}

// runRepos starts replicas on a fresh database, sends one labeled issue
// of each of reposCount fresh repositories to them in turn, all at once,
// and returns how long it took until all were done.
func runRepos(b *testing.B, replicas int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	t := newTarget(b, onPostgres, replicas, reposPool/replicas, map[string]string{"EXPBOT_WORKERS": strconv.Itoa(reposWorkers / replicas)})
	defer t.crash()
	type job struct {
		repo   string
		number int
		req    ackReq
	}
	var jobs []job
	for i := range reposCount {
		repo := fmt.Sprintf("acme/fleet-%02d", i)
		r := ackRequests(b, t.h, repo, 1, 0)[0]
		number, err := strconv.Atoi(r.ID[strings.LastIndexByte(r.ID, '-')+1:])
		if err != nil {
			b.Fatalf("delivery id %s: %v", r.ID, err)
		}
		jobs = append(jobs, job{repo, number, r})
	}
	urls := t.webhookURLs()
	loadBefore := loadAverage()
	busy, all := machineCPU()

	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, len(jobs))
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Go(func() { codes[i], errs[i] = postDelivery(http.DefaultClient, urls[i%len(urls)], j.req) })
	}
	wg.Wait()
	for i := range jobs {
		if errs[i] != nil || codes[i] != http.StatusAccepted {
			b.Fatalf("delivery %s: %d %v", jobs[i].req.ID, codes[i], errs[i])
		}
	}
	pending := slices.Clone(jobs)
	deadline := start.Add(10 * time.Minute)
	for {
		pending = slices.DeleteFunc(pending, func(j job) bool { return issueDone(t.h, j.repo, j.number, "load-1") })
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d replicas: after %v, %d of %d repositories are not done (%s#%d: %q)",
				replicas, time.Since(start), len(pending), len(jobs), pending[0].repo, pending[0].number, statusBody(t.h, pending[0].repo, pending[0].number))
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	busy2, all2 := machineCPU()
	var ran bytes.Buffer
	for i, h := range t.bots {
		fmt.Fprintf(&ran, " replica %d: %d runs;", i, countLines(h.log.Name(), `"message":"reconciled"`))
	}
	b.Logf("%d replicas × %d workers: %d repositories done in %v (machine %.0f%% busy, load average before %s);%s",
		replicas, reposWorkers/replicas, len(jobs), took.Round(time.Millisecond), 100*(busy2-busy)/(all2-all), loadBefore, ran.String())
	return took
}
