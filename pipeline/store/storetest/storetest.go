// Package storetest is the conformance suite that every store driver runs,
// so that the SQLite and PostgreSQL drivers behave the same way (after
// River's riverdrivertest).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
		{"Task", testTask},
		{"ConcurrentTx", testConcurrentTx},
		{"Sources", testSources},
		{"SourcesConcurrent", testSourcesConcurrent},
		{"TxExperiments", testTxExperiments},
		{"Reopen", testReopen},
		{"CloseDuringRun", testCloseDuringRun},
		{"Stop", testStop},
		{"StopInterrupts", testStopInterrupts},
		{"Start", testStart},
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

func change(repo store.RepoKey, key string) store.Change {
	return store.Change{
		Repo:      repo,
		Key:       key,
		Desired:   store.Active,
		Status:    store.Pending,
		Name:      "alpha",
		Branch:    "exp/alpha",
		BaseRef:   "main",
		Request:   json.RawMessage(`{"name":"alpha","lr":0.1}`),
		SourceURL: "https://forge.example/acme/models/issues/1",
		Requester: "ada",
		Thread:    event.Thread{Kind: event.IssueThread, Number: 1},
	}
}

func inTx(ctx context.Context, t *testing.T, s store.Store, fn func(context.Context, store.Tx) error) {
	t.Helper()
	if err := s.InTx(ctx, fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func apply(ctx context.Context, t *testing.T, s store.Store, c store.Change) (store.Experiment, bool) {
	t.Helper()
	var (
		e       store.Experiment
		changed bool
	)
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		e, changed, err = tx.ApplyChange(ctx, c)
		return err
	})
	return e, changed
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

// sameExperiment compares experiments with times at microsecond precision
// (PostgreSQL's).
func sameExperiment(t *testing.T, what string, got, want store.Experiment) {
	t.Helper()
	norm := func(e store.Experiment) store.Experiment {
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
		e.UpdatedAt = e.UpdatedAt.UTC().Truncate(time.Microsecond)
		return e
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func sameTime(a, b time.Time) bool {
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
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
		Task: func(ctx context.Context, kind string, payload json.RawMessage) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			// A driver may re-encode the JSON (PostgreSQL's jsonb does):
			// the same value must arrive, not the same bytes.
			var b bytes.Buffer
			if err := json.Compact(&b, payload); err != nil {
				return store.Permanent(err)
			}
			r.tasks = append(r.tasks, kind+" "+b.String())
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

func testDeliveries(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	at := time.Date(2025, 3, 4, 5, 6, 7, 8000, time.UTC)
	record := func(forge event.Forge, id string) bool {
		t.Helper()
		var dup bool
		inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			dup, err = tx.RecordDelivery(ctx, forge, id, "issues", at)
			return err
		})
		return dup
	}
	if record(event.GitHub, "guid-1") {
		t.Error("first delivery reported as duplicate")
	}
	if !record(event.GitHub, "guid-1") {
		t.Error("redelivery not reported as duplicate")
	}
	if record(event.GitLab, "guid-1") {
		t.Error("same id on another forge reported as duplicate")
	}
	if record(event.GitHub, "guid-2") {
		t.Error("another id reported as duplicate")
	}
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		first, err := tx.RecordDelivery(ctx, event.GitHub, "guid-3", "issues", at)
		if err != nil {
			return err
		}
		second, err := tx.RecordDelivery(ctx, event.GitHub, "guid-3", "issues", at)
		if err != nil {
			return err
		}
		if first || !second {
			t.Errorf("within one transaction: duplicate = %v then %v, want false then true", first, second)
		}
		return nil
	})
}

func testRollback(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	errBoom := errors.New("boom")
	work := func(ctx context.Context, tx store.Tx, deliveryID, key string) error {
		if _, err := tx.RecordDelivery(ctx, event.GitHub, deliveryID, "issues", time.Now()); err != nil {
			return err
		}
		e, _, err := tx.ApplyChange(ctx, change(repoA(), key))
		if err != nil {
			return err
		}
		if err := tx.EnqueueReconcile(ctx, repoA()); err != nil {
			return err
		}
		return tx.EnqueueReport(ctx, e.ID)
	}

	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := work(ctx, tx, "d-1", "issue:1"); err != nil {
			return err
		}
		return fmt.Errorf("late failure: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a panic in fn did not reach the caller")
			}
		}()
		_ = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := work(ctx, tx, "d-2", "issue:2"); err != nil {
				return err
			}
			panic("fn panics")
		})
	}()

	if n := queueDepth(ctx, t, s); n != 0 {
		t.Errorf("queue depth after rollbacks = %d, want 0", n)
	}
	for _, key := range []string{"issue:1", "issue:2"} {
		if _, err := s.ExperimentByKey(ctx, repoA(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("experiment %s after rollback: err = %v, want ErrNotFound", key, err)
		}
	}
	// The same work now commits: the deliveries are new, and the jobs count.
	for i, id := range []string{"d-1", "d-2"} {
		inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
			dup, err := tx.RecordDelivery(ctx, event.GitHub, id, "issues", time.Now())
			if err != nil {
				return err
			}
			if dup {
				t.Errorf("delivery %s survived its rolled back transaction", id)
			}
			e, _, err := tx.ApplyChange(ctx, change(repoA(), fmt.Sprintf("issue:%d", i+1)))
			if err != nil {
				return err
			}
			if err := tx.EnqueueReconcile(ctx, repoA()); err != nil {
				return err
			}
			return tx.EnqueueReport(ctx, e.ID)
		})
	}
	// One reconcile and one report job for the repository.
	if n := queueDepth(ctx, t, s); n != 2 {
		t.Errorf("queue depth after commits = %d, want 2", n)
	}
}

func testApplyChange(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	requestV2 := json.RawMessage(`{"name":"alpha","lr":0.2}`)
	cur := change(repoA(), "issue:1")
	var e store.Experiment // as the last step left it

	steps := []struct {
		name    string
		before  func(t *testing.T) // runs against e before the change
		edit    func(c *store.Change)
		changed bool
		gen     int64
		status  store.Status
		check   func(t *testing.T, e store.Experiment)
	}{
		{
			name: "create", changed: true, gen: 1, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.ID == 0 || e.Desired != store.Active || e.Applied != 0 || e.BaseSHA != "" || e.CommentID != 0 {
					t.Errorf("new experiment = %+v", e)
				}
				if e.CreatedAt.IsZero() || !sameTime(e.CreatedAt, e.UpdatedAt) {
					t.Errorf("created %v, updated %v: want set and equal", e.CreatedAt, e.UpdatedAt)
				}
			},
		},
		{name: "redelivery", changed: false, gen: 1, status: store.Pending},
		{
			name: "same change after it was applied",
			before: func(t *testing.T) {
				if err := s.SetOutcome(ctx, e.ID, 1, store.Applied, "applied", "sha-1"); err != nil {
					t.Fatal(err)
				}
			},
			changed: false, gen: 1, status: store.Applied,
			check: func(t *testing.T, e store.Experiment) {
				if e.Applied != 1 || e.BaseSHA != "sha-1" || e.Detail != "applied" {
					t.Errorf("applied = %d, base sha %q, detail %q", e.Applied, e.BaseSHA, e.Detail)
				}
			},
		},
		{
			name: "requester and source do not matter",
			edit: func(c *store.Change) {
				c.Requester, c.SourceURL = "bob", "https://forge.example/acme/models/issues/1#note-2"
			},
			changed: false, gen: 1, status: store.Applied,
			check: func(t *testing.T, e store.Experiment) {
				if e.Requester != "ada" {
					t.Errorf("requester = %q, want unchanged ada", e.Requester)
				}
			},
		},
		{
			name: "new request bytes", edit: func(c *store.Change) { c.Request = requestV2 },
			changed: true, gen: 2, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if string(e.Request) != string(requestV2) || e.Detail != "" || e.Requester != "bob" {
					t.Errorf("request %s, detail %q, requester %q", e.Request, e.Detail, e.Requester)
				}
				if e.BaseSHA != "sha-1" || e.Applied != 1 {
					t.Errorf("base sha %q, applied %d: want kept sha-1, 1", e.BaseSHA, e.Applied)
				}
			},
		},
		{name: "new branch", edit: func(c *store.Change) { c.Branch = "exp/beta" }, changed: true, gen: 3, status: store.Pending},
		{name: "new name", edit: func(c *store.Change) { c.Name = "beta" }, changed: true, gen: 4, status: store.Pending},
		{
			name: "new base ref clears the base sha, keeps the comment",
			before: func(t *testing.T) {
				if err := s.SetComment(ctx, e.ID, 77, "discussion-9"); err != nil {
					t.Fatal(err)
				}
			},
			edit:    func(c *store.Change) { c.BaseRef = "dev" },
			changed: true, gen: 5, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.BaseRef != "dev" || e.BaseSHA != "" {
					t.Errorf("base ref %q, sha %q: want dev and cleared", e.BaseRef, e.BaseSHA)
				}
				if e.CommentID != 77 || e.CommentNote != "discussion-9" {
					t.Errorf("comment %d %q lost", e.CommentID, e.CommentNote)
				}
			},
		},
		{
			name: "invalid edit keeps the last valid request",
			edit: func(c *store.Change) {
				c.Status, c.Detail = store.Invalid, "- line 1: unknown key"
				c.Name, c.Branch, c.BaseRef, c.Request = "", "", "", nil
			},
			changed: true, gen: 6, status: store.Invalid,
			check: func(t *testing.T, e store.Experiment) {
				if e.Name != "beta" || e.Branch != "exp/beta" || e.BaseRef != "dev" || string(e.Request) != string(requestV2) {
					t.Errorf("invalid edit replaced the request: %+v", e)
				}
				if e.Detail != "- line 1: unknown key" {
					t.Errorf("detail = %q", e.Detail)
				}
			},
		},
		{name: "same invalid edit", changed: false, gen: 6, status: store.Invalid},
		{
			name: "another problem", edit: func(c *store.Change) { c.Detail = "- line 2: bad value" },
			changed: true, gen: 7, status: store.Invalid,
		},
		{
			name: "valid again with the last valid request",
			edit: func(c *store.Change) {
				c.Status, c.Detail = store.Pending, ""
				c.Name, c.Branch, c.BaseRef, c.Request = "beta", "exp/beta", "dev", requestV2
			},
			changed: true, gen: 8, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Detail != "" {
					t.Errorf("detail = %q, want cleared", e.Detail)
				}
			},
		},
		{
			name: "retire", edit: func(c *store.Change) { c.Desired = store.Retired },
			changed: true, gen: 9, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Desired != store.Retired || e.DeleteBranch || e.Branch != "exp/beta" || e.Name != "beta" {
					t.Errorf("retired experiment = %+v, want desired retired, branch kept", e)
				}
			},
		},
		{name: "retire again", changed: false, gen: 9, status: store.Pending},
		{
			name: "retire deleting the branch", edit: func(c *store.Change) { c.DeleteBranch = true },
			changed: true, gen: 10, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if !e.DeleteBranch {
					t.Error("delete branch not set")
				}
			},
		},
		{
			name: "retire after release",
			before: func(t *testing.T) {
				if err := s.SetOutcome(ctx, e.ID, 10, store.Released, "released", ""); err != nil {
					t.Fatal(err)
				}
			},
			changed: false, gen: 10, status: store.Released,
			check: func(t *testing.T, e store.Experiment) {
				if e.Applied != 10 {
					t.Errorf("applied = %d, want 10", e.Applied)
				}
			},
		},
		{
			name: "bring back", edit: func(c *store.Change) { c.Desired, c.DeleteBranch = store.Active, false },
			changed: true, gen: 11, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Desired != store.Active || e.DeleteBranch {
					t.Errorf("desired %s, delete branch %v", e.Desired, e.DeleteBranch)
				}
			},
		},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before(t)
		}
		if st.edit != nil {
			st.edit(&cur)
		}
		got, changed := apply(ctx, t, s, cur)
		if changed != st.changed || got.Generation != st.gen || got.Status != st.status {
			t.Fatalf("%s: changed %v, generation %d, status %s; want %v, %d, %s",
				st.name, changed, got.Generation, got.Status, st.changed, st.gen, st.status)
		}
		if e.ID != 0 && got.ID != e.ID {
			t.Fatalf("%s: id changed from %d to %d", st.name, e.ID, got.ID)
		}
		stored, err := s.Experiment(ctx, got.ID)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		sameExperiment(t, st.name+": stored vs returned", stored, got)
		if st.check != nil {
			t.Run(st.name, func(t *testing.T) { st.check(t, got) })
		}
		if !st.changed && e.ID != 0 && !sameTime(got.UpdatedAt, e.UpdatedAt) && st.before == nil {
			t.Errorf("%s: a no-op change wrote the row (updated %v -> %v)", st.name, e.UpdatedAt, got.UpdatedAt)
		}
		e = got
	}

	byKey, err := s.ExperimentByKey(ctx, repoA(), "issue:1")
	if err != nil {
		t.Fatal(err)
	}
	sameExperiment(t, "by key", byKey, e)
}

func testApplyChangeEdges(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)

	retire := change(repoA(), "issue:404")
	retire.Desired = store.Retired
	e, changed := apply(ctx, t, s, retire)
	if changed || !reflect.DeepEqual(e, store.Experiment{}) {
		t.Errorf("retiring an unknown key: changed %v, experiment %+v; want false and zero", changed, e)
	}
	if _, err := s.ExperimentByKey(ctx, repoA(), "issue:404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retiring an unknown key stored it: err = %v", err)
	}

	invalid := store.Change{
		Repo: repoA(), Key: "issue:5", Desired: store.Active, Status: store.Invalid, Detail: "- line 3: no name",
		SourceURL: "https://forge.example/acme/models/issues/5", Requester: "cy",
		Thread: event.Thread{Kind: event.CommitThread, SHA: "0123abcd"},
	}
	e, changed = apply(ctx, t, s, invalid)
	if !changed || e.Generation != 1 || e.Status != store.Invalid || e.Detail != invalid.Detail || e.Request != nil {
		t.Errorf("new invalid experiment: changed %v, %+v", changed, e)
	}
	got, err := s.ExperimentByKey(ctx, repoA(), "issue:5")
	if err != nil {
		t.Fatal(err)
	}
	sameExperiment(t, "invalid experiment", got, e)
	if got.Thread != invalid.Thread {
		t.Errorf("thread = %+v, want %+v", got.Thread, invalid.Thread)
	}

	// Same key on another repository or forge is another experiment.
	a, _ := apply(ctx, t, s, change(repoA(), "issue:1"))
	b, changedB := apply(ctx, t, s, change(repoB(), "issue:1"))
	c, changedC := apply(ctx, t, s, change(store.RepoKey{Forge: event.GitLab, Path: repoA().Path}, "issue:1"))
	if !changedB || !changedC || a.ID == b.ID || a.ID == c.ID || b.ID == c.ID {
		t.Errorf("same key elsewhere: ids %d %d %d, changed %v %v", a.ID, b.ID, c.ID, changedB, changedC)
	}

	bad := []struct {
		name string
		edit func(c *store.Change)
	}{
		{"no desired state", func(c *store.Change) { c.Desired = "" }},
		{"status a change cannot set", func(c *store.Change) { c.Status = store.Applied }},
		{"request not JSON", func(c *store.Change) { c.Request = json.RawMessage(`{"name":`) }},
		{"no key", func(c *store.Change) { c.Key = "" }},
	}
	for _, b := range bad {
		c := change(repoC(), "issue:9")
		b.edit(&c)
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ApplyChange(ctx, c)
			return err
		})
		if err == nil {
			t.Errorf("%s: ApplyChange accepted %+v", b.name, c)
		}
	}
	if es, err := s.Experiments(ctx, repoC()); err != nil || len(es) != 0 {
		t.Errorf("rejected changes stored experiments: %v, %v", es, err)
	}
}

func testSetOutcome(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	c := change(repoA(), "issue:1")
	e1, _ := apply(ctx, t, s, c)

	read := func() store.Experiment {
		t.Helper()
		e, err := s.Experiment(ctx, e1.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	setOutcome := func(gen int64, st store.Status, detail, sha string) {
		t.Helper()
		if err := s.SetOutcome(ctx, e1.ID, gen, st, detail, sha); err != nil {
			t.Fatalf("SetOutcome(gen %d, %s): %v", gen, st, err)
		}
	}

	setOutcome(1, store.Running, "", "sha-a")
	if e := read(); e.Status != store.Running || e.BaseSHA != "sha-a" || e.Applied != 0 {
		t.Errorf("running: %+v", e)
	}

	c.Request = json.RawMessage(`{"name":"alpha","lr":0.3}`)
	e2, _ := apply(ctx, t, s, c)
	if e2.Generation != 2 {
		t.Fatalf("generation %d, want 2", e2.Generation)
	}
	setOutcome(1, store.Applied, "stale run", "sha-b") // a run of gen 1 ends after gen 2 arrived
	if e := read(); e.Status != store.Pending || e.Applied != 0 || e.Detail != "" || e.BaseSHA != "sha-a" || e.Generation != 2 {
		t.Errorf("a stale outcome changed the experiment: %+v", e)
	}

	setOutcome(2, store.Failed, "boom", "")
	if e := read(); e.Status != store.Failed || e.Detail != "boom" || e.Applied != 0 || e.BaseSHA != "sha-a" {
		t.Errorf("failed: %+v (an empty sha must not clear the stored one)", e)
	}
	setOutcome(2, store.Applied, "done", "")
	if e := read(); e.Status != store.Applied || e.Applied != 2 || e.Detail != "done" {
		t.Errorf("applied: %+v", e)
	}

	c.Desired = store.Retired
	if e3, _ := apply(ctx, t, s, c); e3.Generation != 3 {
		t.Fatalf("generation %d, want 3", e3.Generation)
	}
	setOutcome(3, store.Released, "gone", "")
	if e := read(); e.Status != store.Released || e.Applied != 3 {
		t.Errorf("released: %+v", e)
	}

	const missing = 1 << 40
	if err := s.SetOutcome(ctx, missing, 1, store.Applied, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetOutcome of a missing experiment: %v, want ErrNotFound", err)
	}
	if err := s.SetComment(ctx, missing, 1, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetComment of a missing experiment: %v, want ErrNotFound", err)
	}
	if _, err := s.Experiment(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Experiment of a missing id: %v, want ErrNotFound", err)
	}
}

func testExperiments(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	active, _ := apply(ctx, t, s, change(repoA(), "issue:1"))

	retiring := change(repoA(), "issue:2")
	apply(ctx, t, s, retiring)
	retiring.Desired = store.Retired
	retiringE, _ := apply(ctx, t, s, retiring)

	released := change(repoA(), "issue:3")
	apply(ctx, t, s, released)
	released.Desired = store.Retired
	releasedE, _ := apply(ctx, t, s, released)
	if err := s.SetOutcome(ctx, releasedE.ID, releasedE.Generation, store.Released, "", ""); err != nil {
		t.Fatal(err)
	}

	invalid := change(repoA(), "issue:4")
	invalid.Status, invalid.Detail = store.Invalid, "bad"
	invalidE, _ := apply(ctx, t, s, invalid)

	failed, _ := apply(ctx, t, s, change(repoA(), "issue:5"))
	if err := s.SetOutcome(ctx, failed.ID, failed.Generation, store.Failed, "boom", ""); err != nil {
		t.Fatal(err)
	}
	other, _ := apply(ctx, t, s, change(repoB(), "issue:1"))

	ids := func(repo store.RepoKey) []int64 {
		t.Helper()
		es, err := s.Experiments(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, e := range es {
			if e.Repo != repo {
				t.Errorf("Experiments(%v) returned one of %v", repo, e.Repo)
			}
			out = append(out, e.ID)
		}
		return out
	}
	if got, want := ids(repoA()), []int64{active.ID, retiringE.ID, releasedE.ID, invalidE.ID, failed.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Experiments(A) = %v, want %v (all of them, oldest first)", got, want)
	}
	if got, want := ids(repoB()), []int64{other.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Experiments(B) = %v, want %v", got, want)
	}
	if got := ids(store.RepoKey{Forge: event.GitLab, Path: repoA().Path}); len(got) != 0 {
		t.Errorf("same path on another forge: %v, want none", got)
	}
	onGitLab, _ := apply(ctx, t, s, change(store.RepoKey{Forge: event.GitLab, Path: "a/a"}, "issue:1"))
	repos, err := s.Repos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each repository once, released experiments counting, by forge then path.
	if want := []store.RepoKey{repoA(), onGitLab.Repo, repoB()}; !reflect.DeepEqual(repos, want) {
		t.Errorf("Repos = %v, want %v", repos, want)
	}
}

func testRuns(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r1, err := s.StartRun(ctx, repoA(), t0)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.StartRun(ctx, repoA(), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := s.StartRun(ctx, repoB(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r1.ID == 0 || r1.ID == r2.ID || r2.ID == r3.ID || r1.Repo != repoA() || !sameTime(r1.StartedAt, t0) {
		t.Fatalf("runs %+v %+v %+v", r1, r2, r3)
	}
	r1.FinishedAt, r1.Outcome, r1.Summary = t0.Add(3*time.Second), "succeeded", "+1 ~0 -0"
	if err := s.FinishRun(ctx, r1); err != nil {
		t.Fatal(err)
	}

	runs, err := s.Runs(ctx, repoA(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != r2.ID || runs[1].ID != r1.ID {
		t.Fatalf("Runs(A) = %+v, want r2 then r1", runs)
	}
	got := runs[1]
	if !sameTime(got.StartedAt, t0) || !sameTime(got.FinishedAt, r1.FinishedAt) || got.Outcome != "succeeded" ||
		got.Summary != r1.Summary || got.Repo != repoA() {
		t.Errorf("finished run = %+v, want %+v", got, r1)
	}
	if !runs[0].FinishedAt.IsZero() || runs[0].Outcome != "" {
		t.Errorf("unfinished run = %+v", runs[0])
	}
	if runs, err := s.Runs(ctx, repoA(), 1); err != nil || len(runs) != 1 || runs[0].ID != r2.ID {
		t.Errorf("Runs(A, 1) = %+v, %v; want the newest", runs, err)
	}
	if runs, err := s.Runs(ctx, repoB(), 10); err != nil || len(runs) != 1 || runs[0].ID != r3.ID {
		t.Errorf("Runs(B) = %+v, %v", runs, err)
	}
	if err := s.FinishRun(ctx, store.Run{ID: 1 << 40, Outcome: "failed"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun of a missing run: %v, want ErrNotFound", err)
	}
}

// testCoalescing: a burst of requests for one repository queued before the
// workers start costs one run.
func testCoalescing(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	for range 20 {
		enqueueReconcile(ctx, t, s, repoA())
	}
	enqueueReconcile(ctx, t, s, repoB())
	enqueueReconcile(ctx, t, s, repoC())
	if n := queueDepth(ctx, t, s); n != 3 {
		t.Errorf("queue depth = %d, want one job per repository (3)", n)
	}
	r := newRecorder()
	start(ctx, t, s, r)
	waitFor(t, "three repositories reconciled", func() bool {
		return r.reconcileCalls(repoA()) > 0 && r.reconcileCalls(repoB()) > 0 && r.reconcileCalls(repoC()) > 0
	})
	waitIdle(ctx, t, s)
	for _, repo := range []store.RepoKey{repoA(), repoB(), repoC()} {
		if n := r.reconcileCalls(repo); n != 1 {
			t.Errorf("%v reconciled %d times, want 1", repo, n)
		}
	}
}

// testFollowUp: requests arriving while a repository is reconciled cost
// exactly one more run, which starts after the first one ends.
func testFollowUp(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	g := newGate()
	r := newRecorder()
	r.onReconcile = func(ctx context.Context, repo store.RepoKey, n int) error {
		if n == 1 {
			return g.wait(ctx)
		}
		return nil
	}
	start(ctx, t, s, r)
	enqueueReconcile(ctx, t, s, repoA())
	g.waitEntered(t)
	for range 5 {
		enqueueReconcile(ctx, t, s, repoA())
	}
	if n := queueDepth(ctx, t, s); n != 1 {
		t.Errorf("queue depth while running = %d, want 1 (the running job absorbs requests)", n)
	}
	close(g.open)
	waitFor(t, "the follow-up run", func() bool { return r.reconcileCalls(repoA()) >= 2 })
	waitIdle(ctx, t, s)
	if n := r.reconcileCalls(repoA()); n != 2 {
		t.Errorf("reconciled %d times, want 2 (the run and one follow-up)", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxInflight != 1 {
		t.Errorf("%d runs of one repository at once, want 1", r.maxInflight)
	}
}

// testFollowUpAfterPermanent: a run that fails for good still leaves the
// requests that arrived during it to a follow-up.
func testFollowUpAfterPermanent(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	g := newGate()
	r := newRecorder()
	r.onReconcile = func(ctx context.Context, repo store.RepoKey, n int) error {
		if n == 1 {
			if err := g.wait(ctx); err != nil {
				return err
			}
			return store.Permanent(errors.New("cannot reach the forge"))
		}
		return nil
	}
	start(ctx, t, s, r)
	enqueueReconcile(ctx, t, s, repoA())
	g.waitEntered(t)
	enqueueReconcile(ctx, t, s, repoA())
	close(g.open)
	waitFor(t, "the follow-up run", func() bool { return r.reconcileCalls(repoA()) >= 2 })
	waitIdle(ctx, t, s)
	if n := r.reconcileCalls(repoA()); n != 2 {
		t.Errorf("reconciled %d times, want 2", n)
	}
}

func testSnooze(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	const delay = 100 * time.Millisecond
	r := newRecorder()
	r.onReconcile = func(ctx context.Context, repo store.RepoKey, n int) error {
		if n == 1 {
			return store.Snooze(delay)
		}
		return nil
	}
	start(ctx, t, s, r)
	enqueueReconcile(ctx, t, s, repoA())
	waitFor(t, "the snoozed job to run again", func() bool { return r.reconcileCalls(repoA()) >= 2 })
	waitIdle(ctx, t, s)
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.reconciles[repoA()]; n != 2 {
		t.Errorf("called %d times, want 2", n)
	}
	// A lower bound only: the job must not come back before its delay.
	if at := r.calledAt[repoA()]; len(at) == 2 && at[1].Sub(at[0]) < delay/2 {
		t.Errorf("ran again after %s, snoozed for %s", at[1].Sub(at[0]), delay)
	}
}

func testPermanent(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	r := newRecorder()
	r.onReconcile = func(context.Context, store.RepoKey, int) error {
		return store.Permanent(errors.New("repository is gone"))
	}
	start(ctx, t, s, r)
	enqueueReconcile(ctx, t, s, repoA())
	waitFor(t, "the first run", func() bool { return r.reconcileCalls(repoA()) >= 1 })
	waitIdle(ctx, t, s)
	if n := r.reconcileCalls(repoA()); n != 1 {
		t.Errorf("called %d times, want 1 (no retry)", n)
	}
	// A job given up does not block later requests.
	enqueueReconcile(ctx, t, s, repoA())
	waitFor(t, "a run for a new request", func() bool { return r.reconcileCalls(repoA()) >= 2 })
	waitIdle(ctx, t, s)
	if n := r.reconcileCalls(repoA()); n != 2 {
		t.Errorf("called %d times, want 2", n)
	}
}

func testRetry(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	r := newRecorder()
	r.onReconcile = func(_ context.Context, _ store.RepoKey, n int) error {
		if n <= 2 {
			return fmt.Errorf("transient failure %d", n)
		}
		return nil
	}
	start(ctx, t, s, r)
	enqueueReconcile(ctx, t, s, repoA())
	waitFor(t, "two retries", func() bool { return r.reconcileCalls(repoA()) >= 3 })
	waitIdle(ctx, t, s)
	if n := r.reconcileCalls(repoA()); n != 3 {
		t.Errorf("called %d times, want 3 (two failures, one success)", n)
	}
}

func testReport(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	e1, _ := apply(ctx, t, s, change(repoA(), "issue:1"))
	e2, _ := apply(ctx, t, s, change(repoA(), "issue:2"))
	for range 3 {
		enqueueReport(ctx, t, s, e1.ID)
	}
	enqueueReport(ctx, t, s, e2.ID)
	if n := queueDepth(ctx, t, s); n != 1 {
		t.Errorf("queue depth = %d, want one report job for the repository", n)
	}
	r := newRecorder()
	start(ctx, t, s, r)
	waitFor(t, "both reports", func() bool { return r.reportCalls(e1.ID) > 0 && r.reportCalls(e2.ID) > 0 })
	waitIdle(ctx, t, s)
	r.mu.Lock()
	defer r.mu.Unlock()
	if want := map[int64]int{e1.ID: 1, e2.ID: 1}; !reflect.DeepEqual(r.reports, want) {
		t.Errorf("reports = %v, want %v", r.reports, want)
	}
	if len(r.reconciles) != 0 {
		t.Errorf("reconciles = %v, want none", r.reconciles)
	}
}

// testReportOutcomes: reports of one repository fail and succeed each on
// its own: a failing one is retried until it succeeds without repeating
// the others, a permanent failure is not retried, and a request made while
// an experiment's report runs gets a report of its own afterwards.
func testReportOutcomes(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	ok, flaky, perm, again := func() (store.Experiment, store.Experiment, store.Experiment, store.Experiment) {
		a, _ := apply(ctx, t, s, change(repoA(), "issue:1"))
		b, _ := apply(ctx, t, s, change(repoA(), "issue:2"))
		c, _ := apply(ctx, t, s, change(repoA(), "issue:3"))
		d, _ := apply(ctx, t, s, change(repoA(), "issue:4"))
		return a, b, c, d
	}()
	for _, e := range []store.Experiment{ok, flaky, perm, again} {
		enqueueReport(ctx, t, s, e.ID)
	}
	r := newRecorder()
	r.onReport = func(ctx context.Context, id int64, n int) error {
		switch {
		case id == flaky.ID && n < 3:
			return errors.New("forge unavailable")
		case id == perm.ID:
			return store.Permanent(errors.New("thread deleted"))
		case id == again.ID && n == 1:
			enqueueReport(ctx, t, s, again.ID)
		}
		return nil
	}
	start(ctx, t, s, r)
	waitFor(t, "the reports", func() bool { return r.reportCalls(flaky.ID) >= 3 && r.reportCalls(again.ID) >= 2 })
	waitIdle(ctx, t, s)
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[int64]int{ok.ID: 1, flaky.ID: 3, perm.ID: 1, again.ID: 2}
	if !reflect.DeepEqual(r.reports, want) {
		t.Errorf("report calls = %v, want %v (ok, flaky, permanent, again: %d %d %d %d)",
			r.reports, want, ok.ID, flaky.ID, perm.ID, again.ID)
	}
}

// testTask: a task reaches its handler once with its kind and payload, even
// when the same payload is enqueued twice; a rolled-back one never does.
func testTask(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	enqueue := func(kind, payload string, fail bool) {
		t.Helper()
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EnqueueTask(ctx, kind, json.RawMessage(payload)); err != nil {
				return err
			}
			if fail {
				return errors.New("roll back")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatalf("EnqueueTask(%s, %s): %v", kind, payload, err)
		}
	}
	enqueue("command", `{"delivery":"a"}`, false)
	enqueue("command", `{"delivery":"a"}`, false)
	enqueue("sweep", `{"delivery":"b"}`, false)
	enqueue("command", `{"delivery":"c"}`, true)
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueTask(ctx, "command", json.RawMessage("{not json"))
	}); err == nil {
		t.Errorf("a task with a payload that is not JSON was accepted")
	}
	r := newRecorder()
	start(ctx, t, s, r)
	waitFor(t, "both tasks", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.tasks) >= 2 })
	waitIdle(ctx, t, s)
	r.mu.Lock()
	defer r.mu.Unlock()
	got := slices.Sorted(slices.Values(r.tasks))
	if want := []string{`command {"delivery":"a"}`, `sweep {"delivery":"b"}`}; !reflect.DeepEqual(got, want) {
		t.Errorf("tasks = %q, want %q", got, want)
	}
}

// testConcurrentTx: intake transactions from many goroutines, while the
// workers use the database too, all succeed.
func testConcurrentTx(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	r := newRecorder()
	start(ctx, t, s, r)
	const goroutines, perGoroutine = 16, 3
	repoOf := func(g int) store.RepoKey {
		return store.RepoKey{Forge: event.GitHub, Path: fmt.Sprintf("acme/repo-%d", g)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				errs <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					dup, err := tx.RecordDelivery(ctx, event.GitHub, fmt.Sprintf("d-%d-%d", g, i), "issues", time.Now())
					if err != nil || dup {
						return fmt.Errorf("record delivery: duplicate %v, %w", dup, err)
					}
					e, _, err := tx.ApplyChange(ctx, change(repoOf(g), fmt.Sprintf("issue:%d", i)))
					if err != nil {
						return err
					}
					if err := tx.EnqueueReconcile(ctx, repoOf(g)); err != nil {
						return err
					}
					return tx.EnqueueReport(ctx, e.ID)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("InTx: %v", err)
		}
	}
	waitIdle(ctx, t, s)
	var ids []int64
	for g := range goroutines {
		es, err := s.Experiments(ctx, repoOf(g))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != perGoroutine {
			t.Errorf("%v has %d experiments, want %d", repoOf(g), len(es), perGoroutine)
		}
		if n := r.reconcileCalls(repoOf(g)); n < 1 || n > perGoroutine {
			t.Errorf("%v reconciled %d times, want 1..%d", repoOf(g), n, perGoroutine)
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		if n := r.reportCalls(id); n != 1 {
			t.Errorf("experiment %d reported %d times, want 1", id, n)
		}
	}
}

// testReopen: what was acknowledged survives a restart, including a job
// committed but not yet worked.
func testReopen(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s1 := open(t)
	var e store.Experiment
	inTx(ctx, t, s1, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.RecordDelivery(ctx, event.GitHub, "guid-1", "issues", time.Now()); err != nil {
			return err
		}
		var err error
		if e, _, err = tx.ApplyChange(ctx, change(repoA(), "issue:1")); err != nil {
			return err
		}
		if err := tx.EnqueueReconcile(ctx, repoA()); err != nil {
			return err
		}
		return tx.EnqueueReport(ctx, e.ID)
	})
	run, err := s1.StartRun(ctx, repoA(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s2 := openStore(t, open)
	inTx(ctx, t, s2, func(ctx context.Context, tx store.Tx) error {
		dup, err := tx.RecordDelivery(ctx, event.GitHub, "guid-1", "issues", time.Now())
		if err == nil && !dup {
			t.Error("delivery forgotten across reopen")
		}
		return err
	})
	got, err := s2.ExperimentByKey(ctx, repoA(), "issue:1")
	if err != nil {
		t.Fatalf("experiment after reopen: %v", err)
	}
	sameExperiment(t, "experiment after reopen", got, e)
	if runs, err := s2.Runs(ctx, repoA(), 0); err != nil || len(runs) != 1 || runs[0].ID != run.ID {
		t.Errorf("runs after reopen = %+v, %v", runs, err)
	}
	if n := queueDepth(ctx, t, s2); n != 2 {
		t.Errorf("queue depth after reopen = %d, want 2", n)
	}
	r := newRecorder()
	start(ctx, t, s2, r)
	waitFor(t, "the jobs committed before the restart", func() bool {
		return r.reconcileCalls(repoA()) > 0 && r.reportCalls(e.ID) > 0
	})
	waitIdle(ctx, t, s2)
	if a, b := r.reconcileCalls(repoA()), r.reportCalls(e.ID); a != 1 || b != 1 {
		t.Errorf("after reopen: %d reconciles, %d reports; want 1 each", a, b)
	}
}

// testCloseDuringRun: closing the store cancels a running handler, and its
// job runs again after a restart.
func testCloseDuringRun(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s1 := open(t)
	g := newGate()
	r1 := newRecorder()
	r1.onReconcile = func(ctx context.Context, _ store.RepoKey, _ int) error { return g.wait(ctx) }
	if err := s1.Start(ctx, r1.handlers()); err != nil {
		t.Fatal(err)
	}
	enqueueReconcile(ctx, t, s1, repoA())
	g.waitEntered(t)
	if err := s1.Close(); err != nil { // g never opens: only cancellation ends the handler
		t.Fatalf("close: %v", err)
	}

	s2 := openStore(t, open)
	r2 := newRecorder()
	start(ctx, t, s2, r2)
	waitFor(t, "the interrupted job to run again", func() bool { return r2.reconcileCalls(repoA()) > 0 })
	waitIdle(ctx, t, s2)
	if n := r2.reconcileCalls(repoA()); n != 1 {
		t.Errorf("after restart: %d runs, want 1", n)
	}
}

// testStop: Stop lets a running job finish.
func testStop(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	g := newGate()
	r := newRecorder()
	r.onReconcile = func(ctx context.Context, _ store.RepoKey, _ int) error { return g.wait(ctx) }
	if err := s.Start(ctx, r.handlers()); err != nil {
		t.Fatal(err)
	}
	enqueueReconcile(ctx, t, s, repoA())
	g.waitEntered(t)

	stopped := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		stopped <- s.Stop(sctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.open)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Stop did not return after the job finished")
	}
	if n := queueDepth(ctx, t, s); n != 0 {
		t.Errorf("queue depth after Stop = %d, want 0 (the job completed)", n)
	}
	// Stopped: a new request waits in the queue.
	enqueueReconcile(ctx, t, s, repoB())
	if n := queueDepth(ctx, t, s); n != 1 {
		t.Errorf("queue depth = %d, want 1", n)
	}
	if n := r.reconcileCalls(repoB()); n != 0 {
		t.Errorf("a stopped store ran %d jobs", n)
	}
}

// testStopInterrupts: a job still running when Stop's ctx ends is
// cancelled, Stop returns once its handler has (saying so), and the job
// runs again after a restart instead of counting as done.
func testStopInterrupts(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s1 := open(t)
	g := newGate()
	r1 := newRecorder()
	returned := make(chan struct{})
	r1.onReconcile = func(ctx context.Context, _ store.RepoKey, _ int) error {
		defer close(returned)
		return g.wait(ctx)
	}
	if err := s1.Start(ctx, r1.handlers()); err != nil {
		t.Fatal(err)
	}
	enqueueReconcile(ctx, t, s1, repoA())
	g.waitEntered(t)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := s1.Stop(sctx) // g never opens: only cancellation ends the handler
	cancel()
	if err == nil {
		t.Error("Stop returned no error although it interrupted a job")
	}
	select {
	case <-returned:
	default:
		t.Error("Stop returned while the handler was still running")
	}
	if n := queueDepth(ctx, t, s1); n != 1 {
		t.Errorf("queue depth after the interrupting Stop = %d, want 1 (the job is still to do)", n)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s2 := openStore(t, open)
	r2 := newRecorder()
	start(ctx, t, s2, r2)
	waitFor(t, "the interrupted job to run again", func() bool { return r2.reconcileCalls(repoA()) > 0 })
	waitIdle(ctx, t, s2)
	if n := r2.reconcileCalls(repoA()); n != 1 {
		t.Errorf("after restart: %d runs, want 1", n)
	}
}

func testStart(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Start(ctx, store.Handlers{}); err == nil {
		t.Error("Start without handlers succeeded")
	}
	r := newRecorder()
	start(ctx, t, s, r)
	if err := s.Start(ctx, r.handlers()); err == nil {
		t.Error("a second Start succeeded")
	}
	enqueueReconcile(ctx, t, s, repoA())
	waitFor(t, "a run", func() bool { return r.reconcileCalls(repoA()) == 1 })
}

// advance runs AdvanceSource in a transaction of its own.
func advance(ctx context.Context, t *testing.T, s store.Store, src store.Source, settled bool) store.Order {
	t.Helper()
	var o store.Order
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		o, err = tx.AdvanceSource(ctx, src, settled)
		return err
	})
	return o
}

func readSource(ctx context.Context, t *testing.T, s store.Store, repo store.RepoKey, key string) (store.Source, error) {
	t.Helper()
	var got store.Source
	var srcErr error
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		got, srcErr = tx.Source(ctx, repo, key)
		return nil
	})
	return got, srcErr
}

// testSources: a source's stored state only moves forward, times survive
// to the nanosecond and a reopen, keys are per repository, and a rolled
// back transaction records nothing.
func testSources(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 123456789, time.UTC)
	src := func(repo store.RepoKey, sec int, state string) store.Source {
		return store.Source{Repo: repo, Key: "issue:7", At: t0.Add(time.Duration(sec) * time.Second), State: state}
	}
	if _, err := readSource(ctx, t, s, repoA(), "issue:7"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Source of nothing stored: %v, want ErrNotFound", err)
	}
	steps := []struct {
		name    string
		s       store.Source
		settled bool
		want    store.Order
		stored  store.Source
	}{
		{"first", src(repoA(), 0, "lr=0.02"), false, store.Newer, src(repoA(), 0, "lr=0.02")},
		{"later", src(repoA(), 2, "lr=0.04"), false, store.Newer, src(repoA(), 2, "lr=0.04")},
		{"late delivery", src(repoA(), 0, "lr=0.02"), false, store.Older, src(repoA(), 2, "lr=0.04")},
		{"repeat", src(repoA(), 2, "lr=0.04"), false, store.Same, src(repoA(), 2, "lr=0.04")},
		{"same second, other state", src(repoA(), 2, "retired"), false, store.Tied, src(repoA(), 2, "lr=0.04")},
		{"read from the forge", src(repoA(), 2, "retired"), true, store.Newer, src(repoA(), 2, "retired")},
		{"other repository", src(repoB(), 0, "x"), false, store.Newer, src(repoA(), 2, "retired")},
	}
	for _, st := range steps {
		if got := advance(ctx, t, s, st.s, st.settled); got != st.want {
			t.Fatalf("%s: AdvanceSource = %v, want %v", st.name, got, st.want)
		}
		got, err := readSource(ctx, t, s, repoA(), "issue:7")
		if err != nil || got.State != st.stored.State || !got.At.Equal(st.stored.At) || got.Key != "issue:7" || got.Repo != repoA() {
			t.Fatalf("%s: stored %+v, %v; want %+v", st.name, got, err, st.stored)
		}
	}
	if got, err := readSource(ctx, t, s, repoB(), "issue:7"); err != nil || got.State != "x" {
		t.Fatalf("repository B's source: %+v, %v", got, err)
	}

	// No time: stored as unknown, then ordered by state alone.
	untimed := store.Source{Repo: repoC(), Key: "pull:1", State: "open"}
	if got := advance(ctx, t, s, untimed, false); got != store.Newer {
		t.Fatalf("untimed first: %v", got)
	}
	if got, err := readSource(ctx, t, s, repoC(), "pull:1"); err != nil || !got.At.IsZero() {
		t.Fatalf("untimed stored as %+v, %v; want a zero time", got, err)
	}
	untimed.State = "closed"
	if got := advance(ctx, t, s, untimed, false); got != store.Tied {
		t.Fatalf("untimed other state: %v, want tied", got)
	}

	// A rolled back transaction leaves the stored source as it was.
	errBoom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.AdvanceSource(ctx, src(repoA(), 9, "rolled back"), false); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v", err)
	}
	if got, _ := readSource(ctx, t, s, repoA(), "issue:7"); got.State != "retired" {
		t.Fatalf("after a rollback the source is %+v", got)
	}
	// Required fields.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AdvanceSource(ctx, store.Source{Repo: repoA()}, false)
		return err
	})
	if err == nil {
		t.Error("AdvanceSource without a key succeeded")
	}

	// Durable across a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, open)
	if got, err := readSource(ctx, t, s2, repoA(), "issue:7"); err != nil || got.State != "retired" || !got.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

// testSourcesConcurrent: deliveries of one source racing in separate
// transactions leave the newest state stored, whatever order they commit
// in, and exactly one of them sees a given state as Newer.
func testSourcesConcurrent(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	const n = 24
	var wg sync.WaitGroup
	newer := make(chan int, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				o, err := tx.AdvanceSource(ctx, store.Source{Repo: repoA(), Key: "tag:sweep-1", At: t0.Add(time.Duration(i) * time.Second), State: fmt.Sprint(i)}, false)
				if o == store.Newer {
					newer <- i
				}
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	close(newer)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readSource(ctx, t, s, repoA(), "tag:sweep-1"); err != nil || got.State != fmt.Sprint(n-1) {
		t.Fatalf("stored %+v, %v; want the newest state %d", got, err, n-1)
	}
	seen := 0
	for range newer {
		seen++
	}
	if seen == 0 || seen > n {
		t.Fatalf("%d transactions saw their state as newer", seen)
	}
}

// testTxExperiments: a transaction lists the repository's experiments with
// its own writes, and those of other transactions committed before it.
func testTxExperiments(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	apply(ctx, t, s, change(repoA(), "issue:1"))
	apply(ctx, t, s, change(repoB(), "issue:9"))
	var keys []string
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		if _, _, err := tx.ApplyChange(ctx, change(repoA(), "issue:2")); err != nil {
			return err
		}
		es, err := tx.Experiments(ctx, repoA())
		for _, e := range es {
			if e.Repo != repoA() {
				t.Errorf("experiment of another repository listed: %+v", e)
			}
			keys = append(keys, e.Key)
		}
		return err
	})
	if !reflect.DeepEqual(keys, []string{"issue:1", "issue:2"}) {
		t.Fatalf("the transaction listed %q, want issue:1 and its own issue:2, oldest first", keys)
	}
}
