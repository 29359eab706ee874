// Package storetest is the conformance suite that every store driver runs,
// so that the SQLite and PostgreSQL drivers behave the same way (after
// River's riverdrivertest). One file per area: deliveries.go (deliveries
// and transactions), inbox.go, experiments.go, runs.go, sources.go, repolock.go, queue.go
// (coalescing, follow-ups, retries, tasks), reports.go, lifecycle.go
// (start, stop, reopen) and lease.go (the leases of processes sharing a
// database, and the records of Pulumi runs); this one holds Exercise and
// the shared helpers.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// waitTimeout bounds every wait for queued work. It is a deadline for a
// condition polled every few milliseconds, not an expected duration.
const waitTimeout = 20 * time.Second

// Exercise runs the suite. open must return a Store on the database of t: a
// fresh, empty database for a t it has not seen, and the same database again
// when called again with the same t (the suite closes a store and reopens
// it to check durability). The suite closes every store it opens, and
// Close must tolerate being called twice. The tests run in parallel, so
// open must be safe for concurrent use. Drivers should configure short poll
// and retry intervals so that the suite runs quickly; it stays correct,
// only slower, with long ones.
//
// Besides the store.Store contract, the suite pins down what a driver
// decides: Request bytes round-trip verbatim (store them as text, not
// jsonb), an Invalid change keeps the last valid request, Runs lists newest
// first, and at most one job per repository runs at a time.
func Exercise(ctx context.Context, t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(context.Context, *testing.T, func(*testing.T) store.Store)
	}{
		{"Deliveries", testDeliveries},
		{"Inbox", testInbox},
		{"InboxConcurrentClaims", testInboxConcurrentClaims},
		{"Rollback", testRollback},
		{"ApplyChange", testApplyChange},
		{"ApplyChangeEdges", testApplyChangeEdges},
		{"SetOutcome", testSetOutcome},
		{"Experiments", testExperiments},
		{"Runs", testRuns},
		{"Coalescing", testCoalescing},
		{"FollowUp", testFollowUp},
		{"FollowUpAfterPermanent", testFollowUpAfterPermanent},
		{"Snooze", testSnooze},
		{"Permanent", testPermanent},
		{"Retry", testRetry},
		{"Report", testReport},
		{"ReportOutcomes", testReportOutcomes},
		{"OutcomeReport", testOutcomeReport},
		{"ReportBesideRuns", testReportBesideRuns},
		{"Task", testTask},
		{"ConcurrentTx", testConcurrentTx},
		{"RepoLock", testRepoLock},
		{"CommentLock", testCommentLock},
		{"Sources", testSources},
		{"SourcesConcurrent", testSourcesConcurrent},
		{"TxExperiments", testTxExperiments},
		{"Reopen", testReopen},
		{"CloseDuringRun", testCloseDuringRun},
		{"Stop", testStop},
		{"StopInterrupts", testStopInterrupts},
		{"Start", testStart},
		{"Leases", testLeases},
		{"LostJobs", testLostJobs},
		{"PulumiRuns", testPulumiRuns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(ctx, t, open)
		})
	}
}

// openStore opens a store and closes it when the test ends.
func openStore(t *testing.T, open func(*testing.T) store.Store) store.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// The repositories the tests use (functions: no shared mutable state).
func repoA() store.RepoKey { return store.RepoKey{Forge: event.GitHub, Path: "acme/models"} }
func repoB() store.RepoKey { return store.RepoKey{Forge: event.GitLab, Path: "acme/research/models"} }
func repoC() store.RepoKey { return store.RepoKey{Forge: event.GitHub, Path: "acme/other"} }

func inTx(ctx context.Context, t *testing.T, s store.Store, fn func(context.Context, store.Tx) error) {
	t.Helper()
	if err := s.InTx(ctx, fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func enqueueReconcile(ctx context.Context, t *testing.T, s store.Store, repo store.RepoKey) {
	t.Helper()
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) })
}

func enqueueReport(ctx context.Context, t *testing.T, s store.Store, id int64) {
	t.Helper()
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReport(ctx, id) })
}

func queueDepth(ctx context.Context, t *testing.T, s store.Store) int {
	t.Helper()
	n, err := s.QueueDepth(ctx)
	if err != nil {
		t.Fatalf("QueueDepth: %v", err)
	}
	return n
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitIdle waits until no job is queued or running: after that, no handler
// can be called again without a new request.
func waitIdle(ctx context.Context, t *testing.T, s store.Store) {
	t.Helper()
	waitFor(t, "an empty queue", func() bool { return queueDepth(ctx, t, s) == 0 })
}

// recorder counts handler calls; per-test hooks decide what a call returns.
type recorder struct {
	mu          sync.Mutex
	reconciles  map[store.RepoKey]int
	reports     map[int64]int
	tasks       []string // "kind payload", in call order
	inflight    map[store.RepoKey]int
	maxInflight int
	calledAt    map[store.RepoKey][]time.Time

	// onReconcile is called for the n-th (from 1) call for repo.
	onReconcile func(ctx context.Context, repo store.RepoKey, n int) error
	onReport    func(ctx context.Context, id int64, n int) error
}

func newRecorder() *recorder {
	return &recorder{
		reconciles: map[store.RepoKey]int{},
		reports:    map[int64]int{},
		inflight:   map[store.RepoKey]int{},
		calledAt:   map[store.RepoKey][]time.Time{},
	}
}

func (r *recorder) handlers() store.Handlers {
	return store.Handlers{
		Workers: 4,
		Reconcile: func(ctx context.Context, repo store.RepoKey) error {
			r.mu.Lock()
			r.reconciles[repo]++
			n := r.reconciles[repo]
			r.inflight[repo]++
			r.maxInflight = max(r.maxInflight, r.inflight[repo])
			r.calledAt[repo] = append(r.calledAt[repo], time.Now())
			hook := r.onReconcile
			r.mu.Unlock()
			defer func() {
				r.mu.Lock()
				r.inflight[repo]--
				r.mu.Unlock()
			}()
			if hook != nil {
				return hook(ctx, repo, n)
			}
			return nil
		},
		Report: func(ctx context.Context, id int64) error {
			r.mu.Lock()
			r.reports[id]++
			n := r.reports[id]
			hook := r.onReport
			r.mu.Unlock()
			if hook != nil {
				return hook(ctx, id, n)
			}
			return nil
		},
		Tasks: map[string]func(context.Context, json.RawMessage) error{"command": r.task("command"), "sweep": r.task("sweep")},
	}
}

// task records the tasks of kind.
func (r *recorder) task(kind string) func(context.Context, json.RawMessage) error {
	return func(ctx context.Context, payload json.RawMessage) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		// A driver may re-encode the JSON (PostgreSQL's jsonb does): the
		// same value must arrive, not the same bytes.
		var b bytes.Buffer
		if err := json.Compact(&b, payload); err != nil {
			return store.Permanent(err)
		}
		r.tasks = append(r.tasks, kind+" "+b.String())
		return nil
	}
}

func (r *recorder) reconcileCalls(repo store.RepoKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconciles[repo]
}

func (r *recorder) reportCalls(id int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reports[id]
}

// start starts s's queue with r and stops it when the test ends.
func start(ctx context.Context, t *testing.T, s store.Store, r *recorder) {
	t.Helper()
	if err := s.Start(ctx, r.handlers()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), waitTimeout)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// gate blocks a handler until the test opens it (or the job is cancelled).
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context) error {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the handler to start")
	}
}
