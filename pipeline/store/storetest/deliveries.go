package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

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
