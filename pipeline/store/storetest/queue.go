package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

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

type commandTask struct {
	Delivery string `json:"delivery"`
}

func (commandTask) TaskKind() string { return "command" }

type sweepTask struct {
	Delivery string `json:"delivery"`
}

func (sweepTask) TaskKind() string { return "sweep" }

// testTask: a task reaches the handler of its kind once, as JSON, even when
// the same task is enqueued twice; a rolled-back one never does, nor one
// that is not JSON; one of a kind without a handler is given up.
func testTask(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	enqueue := func(task store.Task, fail bool) {
		t.Helper()
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EnqueueTask(ctx, task); err != nil {
				return err
			}
			if fail {
				return errors.New("roll back")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatalf("EnqueueTask(%#v): %v", task, err)
		}
	}
	enqueue(commandTask{Delivery: "a"}, false)
	enqueue(commandTask{Delivery: "a"}, false)
	enqueue(sweepTask{Delivery: "b"}, false)
	enqueue(commandTask{Delivery: "c"}, true)
	enqueue(store.RawTask{Kind: "unknown", Payload: json.RawMessage(`{"delivery":"d"}`)}, false)
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueTask(ctx, store.RawTask{Kind: "command", Payload: json.RawMessage("{not json")})
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
