package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/storetest"
)

// withSynchronous overrides synchronous=FULL. The suite's hundreds of
// commits would otherwise wait for as many fsyncs, which take tens of
// milliseconds on a busy disk; it checks behaviour, not power-cut
// durability. TestPragmas and the benchmarks keep FULL.
func withSynchronous(mode string) Option { return func(c *config) { c.synchronous = mode } }

// testOptions keep the queue quick: short polls, retries and lulls, no
// fsync per commit.
func testOptions(extra ...Option) []Option {
	return append([]Option{
		withSynchronous("NORMAL"),
		WithPollInterval(10 * time.Millisecond),
		WithLull(5*time.Millisecond, 50*time.Millisecond),
		WithRetryBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, extra...)
}

func openAt(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, testOptions(opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	var (
		mu    sync.Mutex
		paths = map[*testing.T]string{}
	)
	storetest.Exercise(context.Background(), t, func(t *testing.T) store.Store {
		mu.Lock()
		p, ok := paths[t]
		if !ok {
			p = filepath.Join(t.TempDir(), "expbot.db")
			paths[t] = p
		}
		mu.Unlock()
		// openAt also closes at cleanup, so the suite's own Close makes
		// every test close twice.
		return openAt(t, p)
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "expbot.db")
	versions := func(s *Store) (ours, river []int) {
		t.Helper()
		for _, q := range []struct {
			sql  string
			dest *[]int
		}{
			{`SELECT version FROM expbot_migration ORDER BY version`, &ours},
			{`SELECT version FROM river_migration ORDER BY version`, &river},
		} {
			rows, err := s.r.QueryContext(ctx, q.sql)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				*q.dest = append(*q.dest, v)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return ours, river
	}

	s := openAt(t, path)
	ours1, river1 := versions(s)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ours1) != len(ms) || ours1[len(ours1)-1] != ms[len(ms)-1].Version {
		t.Errorf("applied %v, embedded %d migrations", ours1, len(ms))
	}
	if len(river1) == 0 {
		t.Error("River's migrations were not applied")
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.ApplyChange(ctx, store.Change{Repo: store.RepoKey{Forge: event.GitHub, Path: "o/r"},
			Key: "issue:1", Desired: store.Active, Name: "n"})
		return err
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		s := openAt(t, path)
		ours, river := versions(s)
		if !reflect.DeepEqual(ours, ours1) || !reflect.DeepEqual(river, river1) {
			t.Errorf("reopen %d: versions %v %v, want %v %v", i, ours, river, ours1, river1)
		}
		if _, err := s.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitHub, Path: "o/r"}, "issue:1"); err != nil {
			t.Errorf("reopen %d: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), WithBusyTimeout(3*time.Second), withSynchronous("FULL"))
	want := []struct {
		pool string
		name string
		want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "wal_autocheckpoint", "0"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "3000"},
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "3000"},
	}
	for _, w := range want {
		db := s.w
		if w.pool == "read" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+w.name).Scan(&got); err != nil {
			t.Fatalf("%s pool: PRAGMA %s: %v", w.pool, w.name, err)
		}
		if !strings.EqualFold(got, w.want) {
			t.Errorf("%s pool: %s = %s, want %s", w.pool, w.name, got, w.want)
		}
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("write pool allows %d connections, want 1", s.w.Stats().MaxOpenConnections)
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM deliveries`); err == nil {
		t.Error("the read pool can write")
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		opts []Option
	}{
		{path: ""},
		{path: ":memory:"},
		{path: "file:" + filepath.Join(dir, "a.db")},
		{path: filepath.Join(dir, "a.db") + "?_journal_mode=DELETE"},
		{path: filepath.Join(dir, "b.db"), opts: []Option{WithMaxAttempts(0)}},
		{path: filepath.Join(dir, "c.db"), opts: []Option{WithRetryBackoff(time.Second, time.Millisecond)}},
		{path: filepath.Join(dir, "no-such-dir", "d.db")},
	} {
		s, err := Open(context.Background(), tc.path, tc.opts...)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded", tc.path)
		}
	}
}

// TestOrphanedJobRecovered: a job left running by a killed process runs
// again at the next Start instead of blocking its repository.
func TestOrphanedJobRecovered(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "expbot.db")
	repo := store.RepoKey{Forge: event.GitHub, Path: "o/r"}
	s := openAt(t, path)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) })
	// What a worker does when it takes the job, as if the process then died.
	if _, err := s.w.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = datetime('now', 'subsec')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	var calls atomic.Int32
	start(t, s, store.Handlers{
		Reconcile: func(context.Context, store.RepoKey) error { calls.Add(1); return nil },
		Report:    func(context.Context, int64) error { return nil },
	})
	waitFor(t, func() bool { return calls.Load() == 1 && depth(t, s) == 0 })
}

// TestJobRows checks how runs end up in river_job: completed, cancelled
// with the error, discarded after the last attempt with a follow-up for a
// request made during it; and that job_requests rows do not outlive jobs.
func TestJobRows(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), WithMaxAttempts(2))
	okRepo := store.RepoKey{Forge: event.GitHub, Path: "o/ok"}
	permRepo := store.RepoKey{Forge: event.GitHub, Path: "o/perm"}
	failRepo := store.RepoKey{Forge: event.GitHub, Path: "o/fail"}

	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	calls := map[store.RepoKey]int{}
	var last []bool // store.LastAttempt of failRepo's calls
	start(t, s, store.Handlers{
		Reconcile: func(ctx context.Context, repo store.RepoKey) error {
			mu.Lock()
			calls[repo]++
			n := calls[repo]
			if repo == failRepo {
				last = append(last, store.LastAttempt(ctx))
			}
			mu.Unlock()
			switch {
			case repo == permRepo:
				return store.Permanent(errors.New("no such repository"))
			case repo == failRepo && n == 1:
				return errors.New("flaky 1")
			case repo == failRepo && n == 2: // the last attempt
				close(entered)
				<-release
				return errors.New("flaky 2")
			}
			return nil
		},
		Report: func(context.Context, int64) error { return nil },
	})
	for _, r := range []store.RepoKey{okRepo, permRepo, failRepo} {
		inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, r) })
	}
	<-entered
	inTx(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, failRepo) })
	close(release)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls[failRepo] == 3 && depth(t, s) == 0
	})
	mu.Lock()
	// The follow-up is a job of its own, at its first attempt.
	if want := []bool{false, true, false}; !slices.Equal(last, want) {
		t.Errorf("LastAttempt of the failing repository's calls = %v, want %v", last, want)
	}
	mu.Unlock()

	states := map[string][]string{}
	rows, err := s.r.QueryContext(ctx, `SELECT json_extract(args, '$.path'), state, coalesce(json(errors), '')
		FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var errorsOf = map[string]string{}
	for rows.Next() {
		var path, state, errs string
		if err := rows.Scan(&path, &state, &errs); err != nil {
			t.Fatal(err)
		}
		states[path] = append(states[path], state)
		errorsOf[path+"/"+state] = errs
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		okRepo.Path:   {"completed"},
		permRepo.Path: {"cancelled"},
		failRepo.Path: {"discarded", "completed"},
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("job states = %v, want %v", states, want)
	}
	if e := errorsOf[permRepo.Path+"/cancelled"]; !strings.Contains(e, "no such repository") {
		t.Errorf("cancelled job's errors = %s", e)
	}
	if e := errorsOf[failRepo.Path+"/discarded"]; !strings.Contains(e, "flaky 1") || !strings.Contains(e, "flaky 2") {
		t.Errorf("discarded job's errors = %s", e)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM job_requests`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d job_requests rows outlived their jobs", left)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	var calls atomic.Int32
	start(t, s, store.Handlers{
		Reconcile: func(context.Context, store.RepoKey) error {
			if calls.Add(1) == 1 {
				panic("handler bug")
			}
			return nil
		},
		Report: func(context.Context, int64) error { return nil },
	})
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueReconcile(ctx, store.RepoKey{Forge: event.GitHub, Path: "o/r"})
	})
	waitFor(t, func() bool { return calls.Load() == 2 && depth(t, s) == 0 })
}

// TestNestedWrite: a write from inside InTx's fn fails instead of waiting
// forever for the one write connection.
func TestNestedWrite(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	repo := store.RepoKey{Forge: event.GitHub, Path: "o/r"}
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := s.InTx(ctx, func(context.Context, store.Tx) error { return nil }); !errors.Is(err, errNested) {
				return fmt.Errorf("nested InTx: %v", err)
			}
			if _, err := s.StartRun(ctx, repo, time.Now()); !errors.Is(err, errNested) {
				return fmt.Errorf("StartRun inside InTx: %v", err)
			}
			// Reads are fine.
			_, err := s.Experiments(ctx, repo)
			return err
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a nested write deadlocked")
	}
	// Outside fn, writes work again.
	if _, err := s.StartRun(ctx, repo, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func inTx(t testing.TB, s *Store, fn func(context.Context, store.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func start(t *testing.T, s *Store, h store.Handlers) {
	t.Helper()
	if err := s.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func depth(t testing.TB, s *Store) int {
	t.Helper()
	n, err := s.QueueDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkDeliveryTx is intake's transaction for one accepted delivery.
func BenchmarkDeliveryTx(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "expbot.db"), withSynchronous("FULL"))
	var n atomic.Int64
	b.ResetTimer()
	for b.Loop() {
		deliveryTx(b, s, n.Add(1))
	}
}

// BenchmarkDeliveryTxParallel is the same from concurrent webhook requests.
func BenchmarkDeliveryTxParallel(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "expbot.db"), withSynchronous("FULL"))
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			deliveryTx(b, s, n.Add(1))
		}
	})
}

func deliveryTx(b *testing.B, s *Store, i int64) {
	repo := store.RepoKey{Forge: event.GitHub, Path: fmt.Sprintf("acme/repo-%d", i%10)}
	err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		dup, err := tx.RecordDelivery(ctx, event.GitHub, fmt.Sprintf("guid-%d", i), "issues", time.Now())
		if err != nil || dup {
			return fmt.Errorf("duplicate %v: %w", dup, err)
		}
		e, _, err := tx.ApplyChange(ctx, store.Change{
			Repo: repo, Key: fmt.Sprintf("issue:%d", i), Desired: store.Active, Status: store.Pending,
			Name: "alpha", Branch: fmt.Sprintf("exp/%d-alpha", i), BaseRef: "main",
			Request:   []byte(`{"name":"alpha","base":"main","params":{"lr":0.0001,"epochs":3}}`),
			SourceURL: "https://github.com/acme/repo/issues/1", Requester: "ada",
			Thread: event.Thread{Kind: event.IssueThread, Number: int(i)},
		})
		if err != nil {
			return err
		}
		if err := tx.EnqueueReconcile(ctx, repo); err != nil {
			return err
		}
		return tx.EnqueueReport(ctx, e.ID)
	})
	if err != nil {
		b.Error(err)
	}
}

// The file belongs to one process: a second store on it is refused with a
// message saying why, and the first one's Close lets the next one in.
func TestOneStorePerFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "expbot.db")
	first, err := Open(ctx, path, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := Open(ctx, path, testOptions()...); !errors.Is(err, errLocked) {
		if second != nil {
			_ = second.Close()
		}
		t.Fatalf("second Open = %v, want it refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, path, testOptions()...)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
