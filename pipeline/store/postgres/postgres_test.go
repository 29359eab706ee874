package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/scrub"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
	"github.com/expbot/expbot/pipeline/store/storetest"
)

func testOptions(extra ...Option) []Option {
	return append([]Option{
		WithPollInterval(10 * time.Millisecond),
		WithLull(5*time.Millisecond, 50*time.Millisecond),
		WithRetryBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, extra...)
}

func openAt(t testing.TB, dbURL string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, testOptions(opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// withQuery adds query parameters to the database URL u.
func withQuery(u, query string) string {
	if strings.Contains(u, "?") {
		return u + "&" + query
	}
	return u + "?" + query
}

// TestConformance runs the drivers' shared suite on PostgreSQL, one
// database per test (a test that reopens its store finds its data).
func TestConformance(t *testing.T) {
	storetest.Exercise(context.Background(), t, perTest(func(s *Store) store.Store { return s }))
}

// TestConformanceScrubbed runs it through the scrubbing decorator, as the
// bot uses the store.
func TestConformanceScrubbed(t *testing.T) {
	storetest.Exercise(context.Background(), t, perTest(func(s *Store) store.Store {
		return store.Scrubbed(s, scrub.New("ghp_secretValue123"))
	}))
}

// perTest opens a store on each test's own database, the same one again
// when a test reopens.
func perTest(wrap func(*Store) store.Store) func(t *testing.T) store.Store {
	var (
		mu  sync.Mutex
		dbs = map[*testing.T]string{}
	)
	return func(t *testing.T) store.Store {
		mu.Lock()
		u, ok := dbs[t]
		mu.Unlock()
		if !ok {
			u, _ = pgtest.NewDatabase(t)
			mu.Lock()
			dbs[t] = u
			mu.Unlock()
		}
		return wrap(openAt(t, u))
	}
}

// Replicas starting together on a new database take turns migrating: every
// one opens (without the advisory lock, River's migrator and ours race and
// fail on tables made meanwhile), and the schema is there once.
func TestOpenTogether(t *testing.T) {
	u, name := pgtest.NewDatabase(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(context.Background(), u, testOptions()...)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	s := openAt(t, u)
	var versions int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM expbot_migration`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil || versions != len(ms) {
		t.Errorf("database %s has %d migrations recorded, want %d (%v)", name, versions, len(ms), err)
	}
}

// A database that cannot be reached fails Open at once, saying where,
// without the password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://expbot:hunter2-secret@127.0.0.1:1/expbot?connect_timeout=5", testOptions()...)
	if err == nil {
		t.Fatal("Open succeeded on a closed port")
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot reach the database at postgres://127.0.0.1:1/expbot") || strings.Contains(msg, "hunter2") {
		t.Errorf("error = %q, want where it failed without the password", msg)
	}
	if _, err := Open(ctx, "postgres://expbot:hunter2-secret@[::1/expbot"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed URL: %v", err)
	}
}

// Ping fails while the database refuses connections, and answers again
// once it accepts them (what /readyz reports).
func TestPingFollowsTheDatabase(t *testing.T) {
	ctx := context.Background()
	u, name := pgtest.NewDatabase(t)
	s := openAt(t, u)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	admin := pgtest.Admin(t)
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	failed := false
	for range 5 { // the pool may hand out a connection not yet told it was closed
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.Ping(pctx)
		cancel()
		if err != nil {
			failed = true
			break
		}
	}
	if !failed {
		t.Error("Ping succeeded while the database refused connections")
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the database came back: %v", err)
	}
}

// Two processes on one database (two stores): a repository locked by one
// cannot be locked by the other, until the holder unlocks or its database
// session ends (a replica that died).
func TestRepoLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	u, name := pgtest.NewDatabase(t)
	a, b := openAt(t, u), openAt(t, u)
	repo := store.RepoKey{Forge: "github", Path: "acme/models"}
	try := func(s *Store) (func(), bool) {
		t.Helper()
		unlock, ok, err := s.TryLockRepo(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		return unlock, ok
	}
	unlockA, ok := try(a)
	if !ok {
		t.Fatal("the first lock failed")
	}
	if _, ok := try(b); ok {
		t.Fatal("another process locked a held repository")
	}
	unlockA()
	unlockB, ok := try(b)
	if !ok {
		t.Fatal("the lock was not free after unlock")
	}
	if _, ok := try(a); ok {
		t.Fatal("the first process locked the repository the second holds")
	}
	// The holder's session ends, as when its process is killed.
	admin := pgtest.Admin(t)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		JOIN pg_database d ON d.oid = pg_locks.database
		WHERE locktype = 'advisory' AND d.datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		unlock, ok := try(a)
		if ok {
			unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a dead session was never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	unlockB()
}

// Nothing written through the scrubbing decorator, nor the error a job
// failed with (which the queue keeps), leaves the secret in the database.
func TestScrubbedStoreKeepsSecretsOutOfTheDatabase(t *testing.T) {
	const secret = "ghp_secretValue123"
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	raw := openAt(t, u, WithMaxAttempts(1))
	st := store.Scrubbed(raw, scrub.New(secret))
	repo := store.RepoKey{Forge: "github", Path: "acme/llm"}
	echo := "422 Authorization=Bearer " + secret

	var exp store.Experiment
	err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		exp, _, err = tx.ApplyChange(ctx, store.Change{Repo: repo, Key: "issue:1", Desired: store.Active, Status: store.Pending,
			Detail: echo, Name: "n", Branch: "exp/1-n", Request: json.RawMessage(`{"note":"` + secret + `"}`)})
		if err != nil {
			return err
		}
		if err := tx.EnqueueTask(ctx, store.RawTask{Kind: "command", Payload: json.RawMessage(`{"text":"` + secret + `"}`)}); err != nil {
			return err
		}
		return tx.EnqueueReconcile(ctx, repo)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SetOutcome(ctx, exp.ID, exp.Generation, store.Failed, echo, "")
	}); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 2)
	fail := func() error {
		failed <- struct{}{}
		return errors.New("pulumi up: " + echo)
	}
	err = st.Start(ctx, store.Handlers{Workers: 1,
		Reconcile: func(context.Context, store.RepoKey) error { return fail() },
		Report:    func(context.Context, int64) error { return nil },
		Tasks:     map[string]func(context.Context, json.RawMessage) error{"command": func(context.Context, json.RawMessage) error { return fail() }},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-failed:
		case <-time.After(time.Minute):
			t.Fatal("the jobs did not run")
		}
	}
	deadline := time.Now().Add(time.Minute)
	for n, err := st.QueueDepth(ctx); n != 0 || err != nil; n, err = st.QueueDepth(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %d, %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := st.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var all string
	for _, table := range []string{"experiments", "runs", "job_requests", "sources", "deliveries", "river_job"} {
		var text *string
		if err := raw.pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM `+table+` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != nil {
			if strings.Contains(*text, secret) {
				t.Errorf("table %s holds the secret", table)
			}
			all += *text
		}
	}
	if !strings.Contains(all, scrub.Mask) {
		t.Error("the database holds no mask: nothing was written through the decorator")
	}

	// A kept delivery's event (bytes, which a row's text shows as hex).
	if _, err := st.AcceptDelivery(ctx, store.Inbound{Forge: "github", ID: "d1", Event: "issues", Payload: []byte(`{"kind":"issue","event":{"body":"` + secret + `"}}`)}); err != nil {
		t.Fatal(err)
	}
	var payload string
	if err := raw.pool.QueryRow(ctx, `SELECT convert_from(payload, 'UTF8') FROM inbox`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(payload, secret) || !strings.Contains(payload, scrub.Mask) {
		t.Errorf("the inbox keeps %s, want the secret masked", payload)
	}
}

// A transaction that listed a repository's experiments holds them: another
// transaction adding one to the repository waits for its commit, as under
// SQLite's single writer (a close retiring all of a request's experiments
// must not miss one a command adds meanwhile).
func TestTxExperimentsHoldTheRepository(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, u)
	repo := store.RepoKey{Forge: "github", Path: "acme/models"}
	change := func(key string) store.Change {
		return store.Change{Repo: repo, Key: key, Desired: store.Active, Status: store.Pending, Name: key, Branch: "exp/" + key}
	}
	listed, release, firstDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // a failing test must not leave the transaction open
	go func() {
		firstDone <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.Experiments(ctx, repo); err != nil {
				return err
			}
			close(listed)
			<-release
			return nil
		})
	}()
	<-listed
	added := make(chan error, 1)
	go func() {
		added <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ApplyChange(ctx, change("pull:3:lr-low"))
			return err
		})
	}()
	select {
	case err := <-added:
		t.Fatalf("a change to the repository committed while another transaction held its list (%v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	free()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-added:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the change never committed after the list's transaction did")
	}
}

// The sessions that hold advisory locks ask the server for TCP keepalives,
// so that a replica whose node vanishes releases its locks in seconds, not
// after Linux's two hours; a value the store URL sets wins.
func TestLockSessionsKeepAlive(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	for _, tc := range []struct {
		name, query, idle string
	}{
		{"defaults", "", "10"},
		{"the URL's", "tcp_keepalives_idle=42", "42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := u
			if tc.query != "" {
				sep := "?"
				if strings.Contains(u, "?") {
					sep = "&"
				}
				dbURL += sep + tc.query
			}
			s := openAt(t, dbURL)
			conn, err := s.locks.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			for param, want := range map[string]string{
				"tcp_keepalives_idle": tc.idle, "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3",
			} {
				var got string
				if err := conn.QueryRow(ctx, "SHOW "+param).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s = %s on a lock session, want %s", param, got, want)
				}
			}
		})
	}
}

// Deliveries changing different experiments of one repository do not wait
// for each other's commits: each one's changes, report and reconcile
// requests are made while another such transaction is still open (the
// second has a deadline; it used to wait for the first's repository lock
// and request rows). The requests still count (the job's settling reads
// them: storetest's follow-up tests).
func TestIntakeOfOneRepositoryIsNotSerialized(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, u)
	repo := store.RepoKey{Forge: "github", Path: "acme/models"}
	deliver := func(ctx context.Context, tx store.Tx, key string) error {
		e, _, err := tx.ApplyChange(ctx, store.Change{Repo: repo, Key: key, Desired: store.Active, Status: store.Pending, Name: key, Branch: "exp/" + key})
		if err == nil {
			err = tx.EnqueueReconcile(ctx, repo)
		}
		if err == nil {
			err = tx.EnqueueReport(ctx, e.ID)
		}
		return err
	}
	// A first request makes the repository's jobs (the queue is not
	// started: they stay queued).
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return deliver(ctx, tx, "issue:1") }); err != nil {
		t.Fatal(err)
	}
	held, release, firstDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // a failing test must not leave the transaction open
	go func() {
		firstDone <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := deliver(ctx, tx, "issue:2"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-firstDone:
		t.Fatalf("the first delivery ended early: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.InTx(short, func(ctx context.Context, tx store.Tx) error { return deliver(ctx, tx, "issue:3") }); err != nil {
		t.Fatalf("a delivery for another experiment of the repository could not commit while one was open: %v", err)
	}
	free()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	d := queueSQL{s}
	for _, kind := range []struct{ kind, args string }{
		{"reconcile", `{"forge":"github","path":"acme/models"}`},
		{"report_repo", `{"forge":"github","path":"acme/models"}`},
	} {
		if n, err := d.Requests(ctx, nil, kind.kind, kind.args); err != nil || n != 3 {
			t.Errorf("%s requests: %d, %v; want 3", kind.kind, n, err)
		}
	}
	if n, err := s.QueueDepth(ctx); err != nil || n != 2 {
		t.Errorf("queued jobs: %d, %v; want 2 (one reconcile, one report job)", n, err)
	}
}

// A request still uncommitted when its repository's run ends is not lost:
// the settling job waits for it (its request row is shared by the
// enqueuer) and then runs again for it.
func TestRequestCommittingWhileTheRunSettles(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, u)
	repo := store.RepoKey{Forge: "github", Path: "acme/models"}
	entered, proceed := make(chan struct{}, 1), make(chan struct{})
	var mu sync.Mutex
	runs := 0
	err := s.Start(ctx, store.Handlers{
		Reconcile: func(ctx context.Context, _ store.RepoKey) error {
			mu.Lock()
			runs++
			n := runs
			mu.Unlock()
			if n == 1 {
				entered <- struct{}{}
				<-proceed
			}
			return nil
		},
		Report: func(context.Context, int64) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(ctx) })
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the first run never started")
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EnqueueReconcile(ctx, repo); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	close(proceed) // the run ends; its settling must wait for the request
	var waiting int
	for deadline := time.Now().Add(time.Minute); waiting == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the settling job never waited for the open request")
		}
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%job_requests%FOR UPDATE%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := runs
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request committed during the run's settling got no run")
		}
	}
}

// Pooled connections are opened at start and kept idle
// (pool_min_idle_conns, default defaultMinIdleConns); the lock pool keeps
// none, since each of its connections is a lock held.
func TestPoolKeepsIdleConnections(t *testing.T) {
	u, _ := pgtest.NewDatabase(t)
	for _, tc := range []struct {
		name, query string
		want        int32
	}{
		{"default", "", defaultMinIdleConns},
		{"the URL's", "pool_min_idle_conns=2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := u
			if tc.query != "" {
				dbURL = withQuery(u, tc.query)
			}
			s := openAt(t, dbURL)
			deadline := time.Now().Add(20 * time.Second)
			for s.pool.Stat().IdleConns() < tc.want {
				if time.Now().After(deadline) {
					t.Fatalf("%d idle connections, want %d", s.pool.Stat().IdleConns(), tc.want)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := s.pool.Config().MinIdleConns; got != tc.want {
				t.Errorf("MinIdleConns = %d, want %d", got, tc.want)
			}
			if got := s.locks.Config().MinIdleConns; got != 0 {
				t.Errorf("the lock pool keeps %d idle connections, want none", got)
			}
			if got := s.locks.Stat().TotalConns(); got != 0 {
				t.Errorf("the lock pool opened %d connections with no lock held", got)
			}
		})
	}
}

// Applying kept deliveries commits without waiting for the disk, and only
// that transaction: the setting must not stay on the pooled connection.
func TestKeptTxDoesNotWaitForTheDisk(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	// Two connections (migrating at Open takes both), so the transactions
	// below take turns on them.
	s := openAt(t, withQuery(u, "pool_max_conns=2&pool_min_idle_conns=2"))
	syncCommit := func(ctx context.Context, st store.Tx) string {
		var v string
		if err := st.(*tx).tx.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range 6 {
		tc := []struct {
			name string
			run  func(context.Context, func(context.Context, store.Tx) error) error
			want string
		}{
			{"kept", s.InKeptTx, "off"},
			{"plain, after a kept one", s.InTx, "on"},
		}[i%2]
		var got string
		if err := tc.run(ctx, func(ctx context.Context, st store.Tx) error {
			got = syncCommit(ctx, st)
			_, err := st.RecordDelivery(ctx, "github", strconv.Itoa(i), "issues", time.Time{})
			return err
		}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: synchronous_commit = %q, want %q", tc.name, got, tc.want)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("%d deliveries committed, want 6", n)
	}
}

// An acknowledgement has connections of its own: with every other
// connection held by background work, a delivery is still kept.
func TestAcceptDeliveryDoesNotWaitForThePool(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, withQuery(u, "pool_max_conns=2&pool_min_idle_conns=0"))
	for range 2 {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second) // the pool's wait would be endless
	defer cancel()
	dup, err := s.AcceptDelivery(actx, store.Inbound{Forge: "github", ID: "d1", Event: "issues", Payload: []byte(`{}`)})
	if err != nil || dup {
		t.Fatalf("AcceptDelivery with the pool exhausted: dup %v, err %v", dup, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.accepts.pool.Stat().TotalConns() < ackWriters {
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledgement connections open, want %d", s.accepts.pool.Stat().TotalConns(), ackWriters)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every acknowledgement connection has run AcceptDelivery's statement
// before it serves one (warmUpAccept), and kept nothing of it.
func TestAckConnectionsAreWarmedUp(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, u)
	var conns []*pgxpool.Conn
	for range ackWriters {
		c, err := s.accepts.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var prepared int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement IN ($1, $2)`, acceptOneSQL, acceptSQL).Scan(&prepared); err != nil {
			t.Fatal(err)
		}
		if prepared != 2 {
			t.Errorf("connection %d: %d of AcceptDelivery's two statements run yet, want both", i, prepared)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the warm-up left %d deliveries in the inbox, want none", n)
	}
}

// Deliveries accepted at the same moment are kept together, by fewer
// commits than deliveries, each told right whether it was a duplicate: of one
// already applied, of one accepted before, of one twice in the pile. One
// the server refuses fails alone.
func TestAcceptDeliveriesTogether(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	s := openAt(t, u)
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RecordDelivery(ctx, "github", "applied", "issues", time.Time{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if dup, err := s.AcceptDelivery(ctx, store.Inbound{Forge: "github", ID: "accepted", Event: "issues", Payload: []byte(`{}`)}); err != nil || dup {
		t.Fatalf("first acceptance: dup %v, err %v", dup, err)
	}
	type result struct {
		dup bool
		err error
	}
	// together accepts ids all at once.
	together := func(ids []string) []result {
		results := make([]result, len(ids))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				<-start
				dup, err := s.AcceptDelivery(ctx, store.Inbound{Forge: "github", ID: id, Event: "issues", Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
				results[i] = result{dup, err}
			})
		}
		close(start)
		wg.Wait()
		return results
	}
	ids := []string{"applied", "accepted", "twice", "twice"}
	for i := range 40 {
		ids = append(ids, "new-"+strconv.Itoa(i))
	}
	results := together(ids)
	// Rows inserted by one transaction share its id (xmin).
	var commits int
	if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT xmin::text) FROM inbox WHERE delivery_id LIKE 'new-%'`).Scan(&commits); err != nil {
		t.Fatal(err)
	}
	if commits >= 20 {
		t.Errorf("40 deliveries accepted together were kept by %d commits, want them kept in batches", commits)
	}
	twice := 0
	for i, id := range ids {
		r := results[i]
		switch {
		case id == "applied" || id == "accepted":
			if r.err != nil || !r.dup {
				t.Errorf("%s: dup %v, err %v; want a duplicate", id, r.dup, r.err)
			}
		case id == "twice":
			if r.err != nil {
				t.Errorf("twice: %v", r.err)
			}
			if !r.dup {
				twice++
			}
		default:
			if r.err != nil || r.dup {
				t.Errorf("%s: dup %v, err %v; want it kept", id, r.dup, r.err)
			}
		}
	}
	if twice != 1 {
		t.Errorf("a delivery sent twice at once was kept %d times, want once", twice)
	}
	var kept int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if want := 1 + 1 + 40; kept != want { // accepted, twice, new-*
		t.Errorf("%d deliveries in the inbox, want %d", kept, want)
	}

	// One delivery twice in one statement: the second is the duplicate.
	pile := []*pendingAck{{d: store.Inbound{Forge: "github", ID: "pair", ReceivedAt: time.Unix(0, 1), Payload: []byte(`{}`)}}, {d: store.Inbound{Forge: "github", ID: "pair", ReceivedAt: time.Unix(0, 1), Payload: []byte(`{}`)}}}
	if dups, err := accept(ctx, s.accepts.pool, pile); err != nil || !slices.Equal(dups, []bool{false, true}) {
		t.Errorf("one delivery twice in a statement: duplicates %v, %v; want [false true]", dups, err)
	}

	// A delivery id PostgreSQL refuses (text holds no NUL) fails alone.
	results = together([]string{"bad\x00id", "good-1", "good-2", "good-3"})
	if results[0].err == nil {
		t.Errorf("a delivery id with a NUL byte was accepted")
	}
	for i, r := range results[1:] {
		if r.err != nil || r.dup {
			t.Errorf("good-%d, accepted with a refused one: dup %v, err %v; want it kept", i+1, r.dup, r.err)
		}
	}
}

// TestBackgroundStatementsWaitForAcknowledgements: with an acknowledgement
// in flight, an acknowledgement is still kept, and every other statement
// waits for it to end.
func TestBackgroundStatementsWaitForAcknowledgements(t *testing.T) {
	ctx := context.Background()
	u, _ := pgtest.NewDatabase(t)
	gate := ackfirst.New(time.Hour)
	s := openAt(t, u, WithAckGate(gate))
	exit := gate.Enter()
	defer exit()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.AcceptDelivery(actx, store.Inbound{Forge: "github", ID: "d1", Event: "issues", Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("AcceptDelivery with the gate closed: %v", err)
	}
	type depth struct {
		n   int
		err error
	}
	done := make(chan depth, 1)
	go func() {
		n, err := s.InboxDepth(ctx)
		done <- depth{n, err}
	}()
	select {
	case d := <-done:
		t.Fatalf("a background statement ran while an acknowledgement was in flight (depth %d, err %v)", d.n, d.err)
	case <-time.After(100 * time.Millisecond):
	}
	exit()
	if d := <-done; d.err != nil || d.n != 1 {
		t.Fatalf("after the acknowledgement: depth %d, err %v; want 1", d.n, d.err)
	}
}
