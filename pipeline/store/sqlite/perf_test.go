package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// Tests of what the store does for speed: group commit, the statement
// cache, skipping River's insert for a job in flight, and the lull before
// a reconcile. See docs/performance.md.

func deliveryIDs(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	rows, err := s.r.Query(`SELECT delivery_id FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestGroupCommitKeepsEachOutcome: concurrent transactions share commits,
// and still each one's writes commit or roll back by its own outcome:
// failing, panicking and Goexit-ing (t.Fatal) ones leave nothing, the
// others all stay.
func TestGroupCommitKeepsEachOutcome(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), withSynchronous("FULL"))
	errBoom := errors.New("boom")
	const n = 200
	var wg sync.WaitGroup
	want := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("d-%d", i)
		mode := i % 5 // 0 fails, 1 panics, 2 exits its goroutine, others commit
		if mode > 2 {
			want[id] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); (r != nil) != (mode == 1) {
					t.Errorf("%s: recovered %v", id, r)
				}
			}()
			err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.RecordDelivery(ctx, event.GitHub, id, "issues", time.Now()); err != nil {
					return err
				}
				switch mode {
				case 0:
					return errBoom
				case 1:
					panic("fn panics")
				case 2:
					runtime.Goexit()
				}
				return nil
			})
			if (mode == 0) != errors.Is(err, errBoom) || (mode > 2 && err != nil) {
				t.Errorf("%s (mode %d): InTx = %v", id, mode, err)
			}
		}()
	}
	wg.Wait()
	if c := s.writes.commits.Load(); c >= int64(len(want)) {
		t.Errorf("%d commits for %d transactions: none were grouped", c, len(want))
	} else {
		t.Logf("%d commits for %d transactions", c, len(want))
	}
	got := deliveryIDs(t, s)
	if len(got) != len(want) {
		t.Errorf("%d deliveries committed, want %d", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s was lost", id)
		}
	}
	// The store still writes after all that.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RecordDelivery(ctx, event.GitHub, "after", "issues", time.Now())
		return err
	})
}

// TestCheckpointsOffTheWritePath: the write connection never checkpoints,
// the checkpointer does.
func TestCheckpointsOffTheWritePath(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"),
		withSynchronous("FULL"), func(c *config) { c.checkpoint = 10 * time.Millisecond })
	for i := range 50 {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RecordDelivery(ctx, event.GitHub, fmt.Sprint(i), "issues", time.Now())
			return err
		})
	}
	waitFor(t, func() bool { return s.ckpt.frames.Load() > 0 })
}

// TestCheckpointRestartsALongLog: a log past its bound is copied back whole
// and starts over.
func TestCheckpointRestartsALongLog(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), func(c *config) { c.checkpoint, c.maxLog = 10*time.Millisecond, 5 })
	record := func(id string) {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RecordDelivery(ctx, event.GitHub, id, "issues", time.Now())
			return err
		})
	}
	for i := range 50 {
		record(fmt.Sprint(i))
	}
	waitFor(t, func() bool { return s.ckpt.restarts.Load() > 0 })
	record("after")
	// The log now holds only what came after the restart: one transaction.
	var busy, logFrames, copied int64
	if err := s.ckpt.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
		t.Fatal(err)
	}
	if logFrames > 10 {
		t.Errorf("log of %d frames after a restart and one write; it did not start over", logFrames)
	}
	if got := len(deliveryIDs(t, s)); got != 51 {
		t.Errorf("%d deliveries after the log started over, want 51", got)
	}
}

// TestCancelledBeforeStart: a transaction whose context ended while it
// waited for its turn does nothing and says so.
func TestCancelledBeforeStart(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.InTx(ctx, func(context.Context, store.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("InTx with a cancelled context = %v, ran %v", err, ran)
	}
}

// TestStatementCacheReusesBusyStatements: a query run again while its
// rows are still open gets a statement of its own, and a full cache evicts.
func TestStatementCacheReusesBusyStatements(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	for i := range 3 {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.RecordDelivery(ctx, event.GitHub, fmt.Sprint(i), "issues", time.Now())
			return err
		})
	}
	conn, err := s.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = `SELECT delivery_id FROM deliveries ORDER BY delivery_id`
	outer, err := conn.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var pairs int
	for outer.Next() {
		inner, err := conn.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for inner.Next() {
			pairs++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if pairs != 9 {
		t.Errorf("nested queries saw %d pairs, want 9", pairs)
	}

	for i := range stmtCacheSize + 10 {
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM deliveries`, i)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3+i {
			t.Fatalf("query %d = %d, want %d", i, n, 3+i)
		}
	}
	if err := conn.Raw(func(c any) error {
		if got := c.(*cachingConn).lru.Len(); got != stmtCacheSize {
			return fmt.Errorf("cache holds %d statements, want %d", got, stmtCacheSize)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestEnqueueAsksRiverOnlyWithoutAJobInFlight: a request finding its job
// queued adds no job; one whose remembered job ended without the store
// seeing it (River finished it on its own) gets a new one.
func TestEnqueueAsksRiverOnlyWithoutAJobInFlight(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	repo := store.RepoKey{Forge: event.GitHub, Path: "o/r"}
	enqueue := func() {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) })
	}
	jobs := func() (all, available int) {
		t.Helper()
		if err := s.r.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'available')
			FROM river_job WHERE kind = 'reconcile'`).Scan(&all, &available); err != nil {
			t.Fatal(err)
		}
		return all, available
	}
	for range 3 {
		enqueue()
	}
	if all, avail := jobs(); all != 1 || avail != 1 {
		t.Fatalf("after 3 requests: %d jobs, %d available; want 1, 1", all, avail)
	}
	var jobID sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT job_id FROM job_requests WHERE kind = 'reconcile'`).Scan(&jobID); err != nil || !jobID.Valid {
		t.Fatalf("job_requests.job_id = %v, %v; want the job", jobID, err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE river_job SET state = 'completed', finalized_at = datetime('now', 'subsec')`); err != nil {
		t.Fatal(err)
	}
	enqueue()
	if all, avail := jobs(); all != 2 || avail != 1 {
		t.Fatalf("after the job ended behind the store's back: %d jobs, %d available; want 2, 1", all, avail)
	}
}

// TestLullCoalescesABurst: requests for one repository that keep coming,
// closer together than the lull, make one run once they stop; a stream
// that does not stop still runs after the lull's maximum.
func TestLullCoalescesABurst(t *testing.T) {
	repo := store.RepoKey{Forge: event.GitHub, Path: "o/r"}
	burst := func(s *Store, n int, gap time.Duration) time.Time {
		for range n {
			inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) })
			time.Sleep(gap)
		}
		return time.Now()
	}
	type run struct{ at time.Time }
	handlers := func(runs chan<- run) store.Handlers {
		return store.Handlers{
			Reconcile: func(context.Context, store.RepoKey) error { runs <- run{time.Now()}; return nil },
			Report:    func(context.Context, int64) error { return nil },
		}
	}

	t.Run("burst", func(t *testing.T) {
		s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), WithLull(500*time.Millisecond, 10*time.Second))
		runs := make(chan run, 10)
		start(t, s, handlers(runs))
		burst(s, 10, 20*time.Millisecond)
		waitFor(t, func() bool { return len(runs) > 0 && depth(t, s) == 0 })
		if n := len(runs); n != 1 {
			t.Errorf("a burst made %d runs, want 1", n)
		}
	})
	t.Run("stream", func(t *testing.T) {
		s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), WithLull(200*time.Millisecond, 300*time.Millisecond))
		runs := make(chan run, 100)
		start(t, s, handlers(runs))
		end := burst(s, 60, 25*time.Millisecond)
		first := <-runs
		if !first.at.Before(end) {
			t.Errorf("the first run waited for the end of a %d ms stream; the lull's maximum is 300 ms", 60*25)
		}
	})
}
