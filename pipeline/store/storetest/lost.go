package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// testLostJobs checks queue.LostJobs: a process lists the jobs running
// under its name, and hands back only those, which then run again and know
// they are retries. (When the queue does so is queue's policy, tested
// there.)
func testLostJobs(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	lj, ok := driverPart[queue.Losing](s)
	if !ok {
		t.Fatal("the store offers no queue.Losing: a job whose end its process could not record would stay running")
	}
	l, id := lj.LostJobs(), lj.ProcessID()
	rec, g := newRecorder(), newGate()
	var (
		mu      sync.Mutex
		retried []bool // store.Retried of each call
	)
	calls := func() []bool { mu.Lock(); defer mu.Unlock(); return slices.Clone(retried) }
	rec.onReconcile = func(ctx context.Context, _ store.RepoKey, _ int) error {
		mu.Lock()
		retried = append(retried, store.Retried(ctx))
		mu.Unlock()
		return g.wait(ctx)
	}
	start(ctx, t, s, rec)
	t.Cleanup(func() { close(g.open) })
	enqueueReconcile(ctx, t, s, repoA())
	g.waitEntered(t)

	running, err := l.RunningUnder(ctx, id)
	if err != nil || len(running) != 1 {
		t.Fatalf("RunningUnder(this process) = %v, %v; want the one job its handler runs", running, err)
	}
	if other, err := l.RunningUnder(ctx, "expbot-another"); err != nil || len(other) != 0 {
		t.Fatalf("RunningUnder(another process) = %v, %v; want none", other, err)
	}
	if n, err := l.Requeue(ctx, "expbot-another", running); err != nil || n != 0 {
		t.Fatalf("Requeue under another process's name = %d, %v; want 0: the job is not its", n, err)
	}
	if n, err := l.Requeue(ctx, id, append(slices.Clone(running), running[0]+1000)); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1 (the running job, not an unknown id)", n, err)
	}
	waitFor(t, "the job handed back to run again", func() bool { return len(calls()) >= 2 })
	if !calls()[1] {
		t.Error("the job handed back does not say it was started before (store.Retried)")
	}
	if again, err := l.RunningUnder(ctx, id); err != nil || !slices.Equal(again, running) {
		t.Errorf("RunningUnder after the job runs again = %v, %v; want %v", again, err, running)
	}
}
