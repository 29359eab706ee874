package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// leasing returns s's leases (queue.Leasing); false for a driver without
// leases.
func leasing(s store.Store) (queue.Leasing, bool) { return driverPart[queue.Leasing](s) }

// driverPart returns what s's driver offers as T, looking through
// decorators that say what they wrap (Unwrap).
func driverPart[T any](s store.Store) (T, bool) {
	for {
		if p, ok := s.(T); ok {
			return p, true
		}
		u, ok := s.(interface{ Unwrap() store.Store })
		if !ok {
			var zero T
			return zero, false
		}
		s = u.Unwrap()
	}
}

// testLeases checks queue.Leaser's semantics through the store and its
// Leaser, on a driver whose database several processes share. A driver
// without a Leaser (one process per database) says so instead: its jobs
// left running by a dead process are recovered at the next Start
// (queue.Driver.RecoverOrphans; see testReopen and testCloseDuringRun),
// and the rest of this test does not apply to it.
func testLeases(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	if _, ok := leasing(openStore(t, open)); !ok {
		t.Log("this driver has no queue.Leaser (a database of one process): lease semantics do not apply; orphans are recovered at Start")
		return
	}
	for _, tc := range []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, open func(*testing.T) store.Store)
	}{
		{"LiveKept", testLeaseLiveKept},
		{"HeartbeatRenews", testLeaseHeartbeatRenews},
		{"Expired", testLeaseExpired},
		{"Release", testLeaseRelease},
		{"PulumiRunsOfLiveProcess", testPulumiRunsOfLiveProcess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(ctx, t, open)
		})
	}
}

// leased is a store with a job held running by its handler (in a gate)
// under its process's lease.
type leased struct {
	s    store.Store
	l    queue.Leaser
	id   string
	rec  *recorder
	gate *gate

	mu      sync.Mutex
	retried []bool // store.Retried of each reconcile call
}

func runningUnderLease(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) *leased {
	t.Helper()
	s := openStore(t, open)
	ls, _ := leasing(s)
	x := &leased{s: s, l: ls.Leaser(), id: ls.ProcessID(), rec: newRecorder(), gate: newGate()}
	x.rec.onReconcile = func(ctx context.Context, _ store.RepoKey, _ int) error {
		x.mu.Lock()
		x.retried = append(x.retried, store.Retried(ctx))
		x.mu.Unlock()
		return x.gate.wait(ctx)
	}
	start(ctx, t, s, x.rec)
	t.Cleanup(func() { x.open() })
	enqueueReconcile(ctx, t, s, repoA())
	x.gate.waitEntered(t)
	return x
}

func (x *leased) open() {
	select {
	case <-x.gate.open:
	default:
		close(x.gate.open)
	}
}

// recover runs RecoverExpired, failing t on an error.
func (x *leased) recover(ctx context.Context, t *testing.T) int64 {
	t.Helper()
	n, err := x.l.RecoverExpired(ctx)
	if err != nil {
		t.Fatalf("RecoverExpired: %v", err)
	}
	return n
}

func (x *leased) heartbeat(ctx context.Context, t *testing.T, lease time.Duration) {
	t.Helper()
	if err := x.l.Heartbeat(ctx, x.id, lease); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
}

// takenOver repeats step (which ends this process's lease somehow) and
// RecoverExpired until the job runs a second time: the store renews its own
// lease meanwhile, as a live process does, which may undo one step. The
// second run must know it is a retry.
func (x *leased) takenOver(ctx context.Context, t *testing.T, step func()) {
	t.Helper()
	waitFor(t, "the job to run again", func() bool {
		step()
		x.recover(ctx, t)
		return x.rec.reconcileCalls(repoA()) >= 2
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.retried[1] {
		t.Error("the job made available again does not say it was started before (store.Retried)")
	}
}

// testLeaseLiveKept: the running job of a process whose lease is live is
// left to it.
func testLeaseLiveKept(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	x := runningUnderLease(ctx, t, open)
	if n := x.recover(ctx, t); n != 0 {
		t.Fatalf("RecoverExpired made %d jobs of a live process available", n)
	}
	if calls := x.rec.reconcileCalls(repoA()); calls != 1 {
		t.Fatalf("%d reconcile calls, want the one still running", calls)
	}
}

// testLeaseHeartbeatRenews: a heartbeat extends the lease from now: a lease
// that would have run out, renewed in time, keeps the job its process's.
func testLeaseHeartbeatRenews(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	x := runningUnderLease(ctx, t, open)
	const short = 100 * time.Millisecond
	x.heartbeat(ctx, t, short)
	x.heartbeat(ctx, t, time.Hour)
	time.Sleep(3 * short) // past the first lease, by the database's clock too
	if n := x.recover(ctx, t); n != 0 {
		t.Fatalf("RecoverExpired made %d jobs of a renewed lease available", n)
	}
}

// testLeaseExpired: once a process's lease has run out, the job it was
// running is made available again and runs (on a live process: here the
// same store, which renews its lease afterwards, as a process that was
// only stalled does).
func testLeaseExpired(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	x := runningUnderLease(ctx, t, open)
	x.takenOver(ctx, t, func() {
		x.heartbeat(ctx, t, time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	})
}

// testLeaseRelease: a released lease hands its process's running jobs back
// at once, without waiting for it to run out.
func testLeaseRelease(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	x := runningUnderLease(ctx, t, open)
	x.heartbeat(ctx, t, time.Hour)
	x.takenOver(ctx, t, func() {
		if err := x.l.Release(ctx, x.id); err != nil {
			t.Fatalf("Release: %v", err)
		}
	})
}

// testPulumiRunsOfLiveProcess: another process's record of a stack is not
// gone while that process's lease lives, and is once it has ended.
func testPulumiRunsOfLiveProcess(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	x := runningUnderLease(ctx, t, open) // a process with a live lease
	at := time.Now().Truncate(time.Microsecond)
	if _, err := x.s.BeginPulumi(ctx, "github.acme-models", "host-a", at); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, open) // another process on the same database
	gone := func() bool {
		t.Helper()
		runs, err := other.PulumiRuns(ctx, "github.acme-models")
		if err != nil || len(runs) != 1 || runs[0].Self || runs[0].Process != x.id {
			t.Fatalf("another process's records: %+v, %v; want the one of %s", runs, err, x.id)
		}
		return runs[0].Gone
	}
	x.heartbeat(ctx, t, time.Hour)
	if gone() {
		t.Fatal("the record of a process with a live lease says it is gone")
	}
	waitFor(t, "the record to say its process is gone", func() bool {
		if err := x.l.Release(ctx, x.id); err != nil {
			t.Fatalf("Release: %v", err)
		}
		return gone()
	})
}

// testPulumiRuns: the records of who runs Pulumi on which stack
// (store.PulumiRun), on every driver: this process's own, apart per stack,
// ended, begun again, forgotten, and a closed store's are gone for the
// next one.
func testPulumiRuns(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	const stack, other = "github.acme-models", "gitlab.acme-research-models"
	s1 := open(t)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	prev, err := s1.BeginPulumi(ctx, stack, "host-a", t0)
	if err != nil || len(prev) != 0 {
		t.Fatalf("first BeginPulumi = %+v, %v; want no earlier records", prev, err)
	}
	if _, err := s1.BeginPulumi(ctx, other, "host-a", t0); err != nil {
		t.Fatal(err)
	}
	runs := func(s store.Store, stack string) []store.PulumiRun {
		t.Helper()
		rs, err := s.PulumiRuns(ctx, stack)
		if err != nil {
			t.Fatalf("PulumiRuns(%s): %v", stack, err)
		}
		return rs
	}
	one := func(rs []store.PulumiRun, what string) store.PulumiRun {
		t.Helper()
		if len(rs) != 1 {
			t.Fatalf("%s: %d records (%+v), want 1", what, len(rs), rs)
		}
		return rs[0]
	}
	r := one(runs(s1, stack), "after BeginPulumi")
	if r.Stack != stack || r.Host != "host-a" || !r.Started.Equal(t0) || !r.Ended.IsZero() || !r.Self || r.Gone || r.Process == "" {
		t.Errorf("own record = %+v, want started at %v on host-a, running, self, not gone", r, t0)
	}
	t1 := t0.Add(time.Second)
	if err := s1.EndPulumi(ctx, stack, t1); err != nil {
		t.Fatal(err)
	}
	if r := one(runs(s1, stack), "after EndPulumi"); !r.Ended.Equal(t1) || !r.Started.Equal(t0) {
		t.Errorf("ended record = %+v, want started %v, ended %v", r, t0, t1)
	}
	if r := one(runs(s1, other), "another stack"); !r.Ended.IsZero() {
		t.Errorf("EndPulumi of one stack ended another's record: %+v", r)
	}
	t2 := t1.Add(time.Second)
	prev, err = s1.BeginPulumi(ctx, stack, "host-b", t2)
	if p := one(prev, "BeginPulumi's earlier records"); err != nil || !p.Started.Equal(t0) || !p.Ended.Equal(t1) || !p.Self {
		t.Errorf("BeginPulumi returned %+v, %v; want the record as it was (started %v, ended %v)", prev, err, t0, t1)
	}
	if r := one(runs(s1, stack), "begun again"); !r.Started.Equal(t2) || !r.Ended.IsZero() || r.Host != "host-b" {
		t.Errorf("record begun again = %+v, want started %v on host-b, running", r, t2)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// The next process: the closed one's records are a gone process's.
	s2 := openStore(t, open)
	r = one(runs(s2, stack), "after reopen")
	if r.Self || !r.Gone || !r.Started.Equal(t2) {
		t.Errorf("a closed store's record = %+v, want another process's, gone", r)
	}
	prev, err = s2.BeginPulumi(ctx, stack, "host-a", t2.Add(time.Second))
	if p := one(prev, "BeginPulumi after reopen"); err != nil || p.Self || !p.Gone {
		t.Errorf("BeginPulumi after reopen returned %+v, %v", prev, err)
	}
	if rs := runs(s2, stack); len(rs) != 2 {
		t.Errorf("records of two processes = %+v, want 2", rs)
	}
	if err := s2.ForgetPulumi(ctx, stack, r.Process); err != nil {
		t.Fatal(err)
	}
	if r := one(runs(s2, stack), "after ForgetPulumi"); !r.Self {
		t.Errorf("ForgetPulumi left %+v, want only this process's record", r)
	}
}
