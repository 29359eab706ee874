package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

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
