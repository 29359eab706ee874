package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/expbot/expbot/pipeline/store"
)

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

// testOutcomeReport: a run's outcome and its report are one transaction
// (store.Tx's SetOutcome and EnqueueReport): rolled back, neither is left;
// committed, the report job runs once and reads the outcome it was queued
// for.
func testOutcomeReport(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	e, _ := apply(ctx, t, s, change(repoA(), "issue:1"))
	record := func(st store.Status, detail string) func(context.Context, store.Tx) error {
		return func(ctx context.Context, tx store.Tx) error {
			if err := tx.SetOutcome(ctx, e.ID, e.Generation, st, detail, "sha-1"); err != nil {
				return err
			}
			return tx.EnqueueReport(ctx, e.ID)
		}
	}
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := record(store.Failed, "rolled back")(ctx, tx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want %v", err, boom)
	}
	if got, err := s.Experiment(ctx, e.ID); err != nil || got.Status != store.Pending || got.Detail != "" {
		t.Errorf("after a rollback: %+v, %v; want it pending as before", got, err)
	}
	if n := queueDepth(ctx, t, s); n != 0 {
		t.Errorf("queue depth after a rollback = %d, want 0", n)
	}

	inTx(ctx, t, s, record(store.Applied, "done"))
	r := newRecorder()
	seen := make(chan store.Experiment, 4)
	r.onReport = func(ctx context.Context, id int64, n int) error {
		got, err := s.Experiment(ctx, id)
		seen <- got
		return err
	}
	start(ctx, t, s, r)
	waitFor(t, "the report", func() bool { return r.reportCalls(e.ID) > 0 })
	waitIdle(ctx, t, s)
	if n := r.reportCalls(e.ID); n != 1 {
		t.Errorf("report calls = %d, want 1", n)
	}
	if got := <-seen; got.Status != store.Applied || got.Detail != "done" || got.Applied != e.Generation || got.BaseSHA != "sha-1" {
		t.Errorf("the report read %+v, want the outcome it was queued with", got)
	}
}

// testReportBesideRuns: a report does not wait for runs to end, even when
// the runs take every worker (Handlers.Workers): the report job is the one
// writer of status comments, so a comment saying that a run started would
// otherwise come only after it ended.
func testReportBesideRuns(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	e, _ := apply(ctx, t, s, change(repoB(), "issue:1"))
	g := newGate()
	r := newRecorder()
	r.onReconcile = func(ctx context.Context, repo store.RepoKey, n int) error { return g.wait(ctx) }
	h := r.handlers()
	h.Workers = 1
	if err := s.Start(ctx, h); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), waitTimeout)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	enqueueReconcile(ctx, t, s, repoA())
	g.waitEntered(t)
	enqueueReport(ctx, t, s, e.ID)
	waitFor(t, "the report while the run holds the only worker", func() bool { return r.reportCalls(e.ID) > 0 })
	close(g.open)
	waitIdle(ctx, t, s)
}
