package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// Job kinds as stored in river_job.kind.
const (
	kindReconcile = "reconcile"
	kindReport    = "report"
)

// uniqueOpts makes a job unique per args among the states River requires,
// running included: requests made while a job waits are absorbed by it, and
// at most one job per repository (or experiment) runs at a time. Requests
// made while it runs are counted in job_requests and become one follow-up
// when it finishes (see worker.Work). Finished jobs do not count, so a
// request after a run queues a new one.
func uniqueOpts() river.UniqueOpts {
	return river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{
			rivertype.JobStateAvailable,
			rivertype.JobStatePending,
			rivertype.JobStateRunning,
			rivertype.JobStateRetryable,
			rivertype.JobStateScheduled,
		},
	}
}

// uniqueStatesSQL lists uniqueOpts' states for an SQL IN (...).
func uniqueStatesSQL() string {
	states := uniqueOpts().ByState
	quoted := make([]string, len(states))
	for i, st := range states {
		quoted[i] = "'" + string(st) + "'"
	}
	return strings.Join(quoted, ", ")
}

type reconcileArgs struct {
	Forge event.Forge `json:"forge"`
	Path  string      `json:"path"`
}

func (reconcileArgs) Kind() string                 { return kindReconcile }
func (reconcileArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// reportArgs is the per-experiment report job of earlier versions; such
// jobs may still be queued in an upgraded database, so they still run. New
// requests go to the repository's job (reports.go).
type reportArgs struct {
	ExperimentID int64 `json:"experiment_id"`
}

func (reportArgs) Kind() string                 { return kindReport }
func (reportArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// riverConfig is shared by the insert-only client and the working one.
// Poll-only: SQLite has no LISTEN, and polling the job table every
// pollInterval is as prompt as polling River's notification table.
func (s *Store) riverConfig() *river.Config {
	return &river.Config{
		Logger:            s.cfg.logger,
		MaxAttempts:       s.cfg.maxAttempts,
		PollOnly:          true,
		FetchPollInterval: s.cfg.pollInterval,
		FetchCooldown:     min(s.cfg.pollInterval, river.FetchCooldownDefault),
		JobTimeout:        s.cfg.jobTimeout,
		RetryPolicy:       &retryPolicy{base: s.cfg.retryBase, max: s.cfg.retryMax},
	}
}

// retryPolicy backs off exponentially from base, capped at max, with ±10%
// jitter so that jobs failing together do not retry in lockstep.
type retryPolicy struct{ base, max time.Duration }

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.base
	for i := 1; i < job.Attempt && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	d += time.Duration((rand.Float64()*0.2 - 0.1) * float64(d)) //nolint:gosec // jitter, not security
	return time.Now().Add(d)
}

// enqueue counts a request for args and inserts its job, unless a job with
// the same args is already queued or running.
//
// River's unique insert would skip such a job by itself, but it is the
// costliest statement of a delivery's transaction, and in a burst nearly
// every request finds its repository's job in flight. So the job last
// inserted for args is remembered with the counter, and when it is still
// in one of the unique states River is not asked: it would have skipped the
// insert for that very job.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, args river.JobArgs) error {
	key, err := json.Marshal(args)
	if err != nil {
		return err
	}
	var jobID sql.NullInt64
	if err := tx.QueryRowContext(ctx, `INSERT INTO job_requests (kind, args, requested) VALUES (?, ?, 1)
		ON CONFLICT (kind, args) DO UPDATE SET requested = requested + 1
		RETURNING job_id`, args.Kind(), string(key)).Scan(&jobID); err != nil {
		return err
	}
	if jobID.Valid {
		var inFlight bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE id = ?
			AND state IN (`+uniqueStatesSQL()+`))`, jobID.Int64).Scan(&inFlight); err != nil {
			return err
		}
		if inFlight {
			return nil
		}
	}
	return s.insertJob(ctx, tx, args, key)
}

// insertJob inserts args' job (River skips it if one is in flight) and
// remembers its id for enqueue.
func (s *Store) insertJob(ctx context.Context, tx *sql.Tx, args river.JobArgs, key []byte) error {
	res, err := s.inserter.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE job_requests SET job_id = ? WHERE kind = ? AND args = ?`,
		res.Job.ID, args.Kind(), string(key))
	return err
}

type requestsReader interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// requests reads the request counter of args; 0 when no row.
func requests(ctx context.Context, db requestsReader, kind string, key []byte) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT requested FROM job_requests WHERE kind = ? AND args = ?`, kind, string(key)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Start runs h's handlers on River's workers until Stop (or until ctx is
// cancelled, which also cancels running handlers). Jobs left running by a
// process that died are made available again first.
func (s *Store) Start(ctx context.Context, h store.Handlers) error {
	if h.Reconcile == nil || h.Report == nil {
		return errors.New("sqlite: start: Reconcile and Report handlers are required")
	}
	workers := h.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("sqlite: start: store is closed")
	case s.worker != nil:
		return errors.New("sqlite: start: already started")
	}
	if err := s.recoverOrphans(ctx); err != nil {
		return err
	}

	ws := river.NewWorkers()
	if err := river.AddWorkerSafely(ws, &worker[reconcileArgs]{s: s, lull: s.cfg.lull, fn: func(ctx context.Context, a reconcileArgs) error {
		return h.Reconcile(ctx, store.RepoKey{Forge: a.Forge, Path: a.Path})
	}}); err != nil {
		return fmt.Errorf("sqlite: start: %w", err)
	}
	if err := river.AddWorkerSafely(ws, &worker[reportArgs]{s: s, fn: func(ctx context.Context, a reportArgs) error {
		return h.Report(ctx, a.ExperimentID)
	}}); err != nil {
		return fmt.Errorf("sqlite: start: %w", err)
	}
	if err := river.AddWorkerSafely(ws, &worker[reportRepoArgs]{s: s, fn: func(ctx context.Context, a reportRepoArgs) error {
		return s.reportDue(ctx, a, h.Report)
	}}); err != nil {
		return fmt.Errorf("sqlite: start: %w", err)
	}
	if err := river.AddWorkerSafely(ws, &worker[taskArgs]{s: s, fn: func(ctx context.Context, a taskArgs) error {
		if h.Task == nil {
			return store.Permanent(fmt.Errorf("no handler for %s tasks", a.Task))
		}
		return h.Task(ctx, a.Task, a.Payload)
	}}); err != nil {
		return fmt.Errorf("sqlite: start: %w", err)
	}
	cfg := s.riverConfig()
	cfg.Workers = ws
	// One queue for both kinds so that Workers bounds all jobs at once.
	cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}
	c, err := river.NewClient(s.driver, cfg)
	if err != nil {
		return fmt.Errorf("sqlite: start: river client: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("sqlite: start: %w", err)
	}
	s.worker = c
	return nil
}

// recoverOrphans makes jobs that a dead process left "running" available.
// Only this process uses the file (see the package comment) and its own
// workers have not started, so no job can legitimately be running; without
// this, River would rescue them only after JobTimeout plus an hour, and
// their repositories' new requests would wait behind them.
func (s *Store) recoverOrphans(ctx context.Context) error {
	res, err := s.w.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("sqlite: recover orphaned jobs: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.cfg.logger.WarnContext(ctx, "sqlite: jobs left running by a previous process made available again", "jobs", n)
	}
	return nil
}

// interruptWait bounds how long Stop waits, once it has cancelled the jobs
// still running, for their handlers to return. An interrupted Pulumi update
// takes a few seconds to end and release its stack (pulumicli.InterruptGrace
// at most).
const interruptWait = 15 * time.Second

// Stop stops fetching jobs and waits for running ones to finish until ctx
// ends. Then it cancels the jobs still running and waits up to
// interruptWait for their handlers to return: River makes such a job
// available again (without counting the attempt), so it runs at the next
// Start. A handler that does not return in time leaves its job "running",
// which the next Start recovers too (recoverOrphans).
func (s *Store) Stop(ctx context.Context) error {
	s.mu.Lock()
	c := s.worker
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	var interrupted error
	if err := c.Stop(ctx); err != nil {
		if ctx.Err() == nil {
			return fmt.Errorf("sqlite: stop: %w", err)
		}
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), interruptWait)
		defer cancel()
		if err := c.StopAndCancel(hard); err != nil {
			return fmt.Errorf("sqlite: stop: jobs still running %s after they were cancelled (they run again at the next start): %w", interruptWait, err)
		}
		interrupted = errors.New("sqlite: stop: running jobs were interrupted; they run again at the next start")
	}
	s.mu.Lock()
	if s.worker == c {
		s.worker = nil
	}
	s.mu.Unlock()
	return interrupted
}

// QueueDepth counts jobs not yet finished: queued, scheduled, retrying or
// running.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: queue depth: %w", err)
	}
	return n, nil
}

type worker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	s    *Store
	lull lull // zero: run at once
	fn   func(context.Context, T) error
}

// lull is how long a job waits for requests for its args to stop coming
// before it runs (quiet), and at most (max). See WithLull.
type lull struct{ quiet, max time.Duration }

// Work runs the handler and settles the job. The job is unique while it
// runs, so a request arriving meanwhile only bumps job_requests; therefore
// a run that ends for good (succeeded, cancelled, out of attempts) ends in
// our own transaction that both finalises the job and, if the counter moved
// since the run began, inserts the follow-up. Done separately, a request
// committed between the check and River's finalisation would be lost.
// Snoozes and retries need nothing: the same job runs again.
func (w *worker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	key, err := json.Marshal(job.Args)
	if err != nil {
		return fmt.Errorf("sqlite: %s job %d: %w", job.Kind, job.ID, err)
	}
	if err := w.s.awaitLull(ctx, w.lull, job.Kind, key); err != nil {
		return fmt.Errorf("sqlite: %s job %d: %w", job.Kind, job.ID, err)
	}
	// Read before the handler reads any state: a request counted here has
	// committed its state change, which the handler will see.
	before, err := requests(ctx, w.s.r, job.Kind, key)
	if err != nil {
		return fmt.Errorf("sqlite: %s job %d: read requests: %w", job.Kind, job.ID, err)
	}
	started := time.Now()
	err = call(ctx, w.fn, job.Args)

	var (
		snooze *store.SnoozeError
		perm   *store.PermanentError
	)
	switch {
	case err == nil:
		return w.s.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateCompleted, nil, started)
	case errors.As(err, &snooze):
		return river.JobSnooze(max(snooze.Delay, 0))
	case errors.As(err, &perm):
		return w.s.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateCancelled, err, started)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client is stopping (or the job was cancelled): River puts
		// it back or cancels it as the reason requires.
		return err
	case job.Attempt < job.MaxAttempts:
		return err // River retries it with backoff
	default:
		return w.s.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateDiscarded, err, started)
	}
}

// awaitLull returns once no request for key came in for l.quiet, or after
// l.max. The job is running meanwhile, so requests are absorbed by it and
// counted; the run that follows sees all of them.
func (s *Store) awaitLull(ctx context.Context, l lull, kind string, key []byte) error {
	if l.quiet <= 0 {
		return nil
	}
	last, err := requests(ctx, s.r, kind, key)
	if err != nil {
		return fmt.Errorf("read requests: %w", err)
	}
	t := time.NewTimer(l.quiet)
	defer t.Stop()
	for end := time.Now().Add(l.max); ; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n, err := requests(ctx, s.r, kind, key)
		if err != nil {
			return fmt.Errorf("read requests: %w", err)
		}
		if n == last || !time.Now().Before(end) {
			return nil
		}
		last = n
		t.Reset(l.quiet)
	}
}

// call runs fn, turning a panic into an error so that it is settled like
// any other failure.
func call[T any](ctx context.Context, fn func(context.Context, T) error, args T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, args)
}

// settle finalises a running job as state (completed, cancelled or
// discarded) and inserts its follow-up if requests came in since before,
// all in one transaction. It returns what Work should return.
func (s *Store) settle(ctx context.Context, job *rivertype.JobRow, args river.JobArgs, key []byte,
	before int64, state rivertype.JobState, jobErr error, started time.Time,
) error {
	// The run is over: record it even if the job's context ends now.
	ctx = context.WithoutCancel(ctx)
	followUp := false
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := finalize(ctx, tx, job, state, jobErr, started); err != nil {
			return err
		}
		after, err := requests(ctx, tx, job.Kind, key)
		if err != nil {
			return err
		}
		if after == before {
			// Nothing is in flight for these args any more.
			_, err := tx.ExecContext(ctx, `DELETE FROM job_requests WHERE kind = ? AND args = ?`, job.Kind, string(key))
			return err
		}
		followUp = true
		return s.insertJob(ctx, tx, args, key)
	})
	if err != nil {
		err = fmt.Errorf("sqlite: %s job %d: settle as %s: %w", job.Kind, job.ID, state, err)
		s.cfg.logger.ErrorContext(ctx, err.Error())
		// Fall back on River's own handling; the job may run again, which
		// reconciliation tolerates.
		switch state {
		case rivertype.JobStateCompleted:
			return err
		case rivertype.JobStateCancelled:
			return river.JobCancel(jobErr)
		default:
			return jobErr
		}
	}
	if jobErr != nil {
		s.cfg.logger.WarnContext(ctx, "sqlite: job given up", "kind", job.Kind, "job_id", job.ID,
			"state", string(state), "attempt", job.Attempt, "error", jobErr.Error(), "follow_up", followUp)
	}
	return nil
}

// finalize moves a running job to a final state inside tx, as
// river.JobCompleteTx does for completion; cancelled and discarded go
// through the same driver call, which River offers no public wrapper for.
func finalize(ctx context.Context, tx *sql.Tx, job *rivertype.JobRow, state rivertype.JobState, jobErr error, started time.Time) error {
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return err
	}
	var params *riverdriver.JobSetStateIfRunningParams
	now := time.Now().UTC()
	if state == rivertype.JobStateCompleted {
		params = riverdriver.JobSetStateCompleted(job.ID, now, nil)
	} else {
		errData, err := json.Marshal(rivertype.AttemptError{At: started.UTC(), Attempt: job.Attempt, Error: jobErr.Error()})
		if err != nil {
			return err
		}
		if state == rivertype.JobStateCancelled {
			params = riverdriver.JobSetStateCancelled(job.ID, now, errData, nil)
		} else {
			params = riverdriver.JobSetStateDiscarded(job.ID, now, errData, nil)
		}
	}
	rows, err := client.Pilot().JobSetStateIfRunningMany(ctx, client.Driver().UnwrapExecutor(tx), &riverdriver.JobSetStateIfRunningManyParams{
		ID:              []int64{params.ID},
		Attempt:         []*int{params.Attempt},
		ErrData:         [][]byte{params.ErrData},
		FinalizedAt:     []*time.Time{params.FinalizedAt},
		MetadataDoMerge: []bool{false},
		MetadataUpdates: [][]byte{nil},
		ScheduledAt:     []*time.Time{params.ScheduledAt},
		Schema:          client.Schema(),
		State:           []rivertype.JobState{params.State},
	})
	if err != nil {
		return err
	}
	if len(rows) == 0 || rows[0].State != state {
		return errors.New("job is no longer running")
	}
	return nil
}
