// Package queue is the job queue's policy over River, shared by every store
// driver: which jobs there are (typed arguments per kind), coalescing of
// requests per repository, follow-up runs for requests made during a run,
// the lull before a run, batching of status-comment reports, retries and
// the recovery of jobs orphaned by a dead process. A driver supplies only
// its River driver and the SQL of Driver, as River's own drivers supply
// only SQL to River's client.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/pipeline/store"
)

// Defaults for Config.
const (
	DefaultPollInterval = 100 * time.Millisecond
	DefaultMaxAttempts  = 10
	DefaultRetryBase    = time.Second
	DefaultRetryMax     = 3 * time.Minute
	DefaultJobTimeout   = 30 * time.Minute
	DefaultWorkers      = 4
	DefaultLullQuiet    = 100 * time.Millisecond
	DefaultLullMax      = time.Second
)

// Driver is the SQL a store driver runs for the queue, on its own tables
// and River's. TTx is the driver's transaction, as in River.
type Driver[TTx any] interface {
	// InTx runs fn in one write transaction.
	InTx(ctx context.Context, fn func(ctx context.Context, tx TTx) error) error
	// CountRequest adds one to the request counter of (kind, args),
	// creating it at 1, and returns the id of the job last inserted for
	// them (SetRequestJob), or 0.
	CountRequest(ctx context.Context, tx TTx, kind, args string) (jobID int64, err error)
	// SetRequestJob remembers the job inserted for (kind, args).
	SetRequestJob(ctx context.Context, tx TTx, kind, args string, jobID int64) error
	// Requests reads the request counter of (kind, args), 0 when there is
	// none; tx is nil outside a transaction.
	Requests(ctx context.Context, tx *TTx, kind, args string) (int64, error)
	// ForgetRequests deletes the request counter of (kind, args).
	ForgetRequests(ctx context.Context, tx TTx, kind, args string) error
	// JobInState reports whether job id is in one of states.
	JobInState(ctx context.Context, tx TTx, id int64, states []rivertype.JobState) (bool, error)
	// FinalizeJob moves job id from running to state (completed,
	// cancelled or discarded) at finalizedAt, appending errData (a
	// rivertype.AttemptError as JSON) to its errors when not nil, as
	// River's drivers do. It reports false when the job was not running.
	FinalizeJob(ctx context.Context, tx TTx, id int64, state rivertype.JobState, finalizedAt time.Time, errData []byte) (bool, error)
	LostJobs
	// RecoverOrphans makes available again the jobs left running by
	// processes that are gone, before this one starts working; it
	// returns how many. A driver that cannot tell a dead process from a
	// live one leaves them to its Leaser (see Leaser).
	RecoverOrphans(ctx context.Context) (int64, error)
	// QueueDepth counts jobs in states.
	QueueDepth(ctx context.Context, states []rivertype.JobState) (int, error)
	// ReportsDue lists the experiments of repo with reports due, by id,
	// with how many requests each has.
	ReportsDue(ctx context.Context, repo store.RepoKey) ([]Due, error)
	// ReportsServed takes what was served back from the experiments'
	// reports due (never below zero). It may return before its commit
	// reaches the disk: losing it re-serves the reports, which is
	// harmless.
	ReportsServed(ctx context.Context, served []Due) error
}

// Due is an experiment with N reports due.
type Due struct{ ID, N int64 }

// Config adjusts the queue; drivers start from the defaults above.
type Config struct {
	// PollOnly: the database has no LISTEN/NOTIFY; idle workers look for
	// jobs every PollInterval.
	PollOnly     bool
	PollInterval time.Duration
	// MaxAttempts is how many times a failing job is tried before it is
	// given up (discarded).
	MaxAttempts int
	// RetryBase and RetryMax bound the exponential retry backoff.
	RetryBase, RetryMax time.Duration
	// JobTimeout bounds one handler call.
	JobTimeout time.Duration
	// LullQuiet and LullMax: a reconcile job, once started, waits until no
	// request for its repository came in for LullQuiet (but no longer than
	// LullMax) before it runs: a burst of requests then makes one run
	// rather than a run for its first few and a follow-up for the rest,
	// and runs cost seconds. LullQuiet 0 turns it off.
	LullQuiet, LullMax time.Duration
	// Lease is how long a process's lease lasts without a heartbeat when
	// the driver is a Leaser (default DefaultLease): a process that died
	// has its running jobs taken over by a live one within Lease plus
	// Lease/6. Every Lease/6, with any driver, a process also looks for
	// the jobs it lost.
	Lease time.Duration
	// LostGrace is how long a job may stay running under this process
	// with no handler of its before it is made available again (lost.go;
	// default a minute).
	LostGrace time.Duration
	Logger    *slog.Logger // default: slog.Default()
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	switch {
	case c.PollInterval <= 0, c.RetryBase <= 0, c.RetryMax < c.RetryBase, c.JobTimeout <= 0,
		c.LullQuiet < 0, c.LullMax < 0, c.Lease < 0, c.LostGrace < 0:
		return errors.New("durations must be positive and retry max at least retry base")
	case c.MaxAttempts < 1:
		return errors.New("max attempts must be at least 1")
	}
	return nil
}

// Queue is the job queue of one store.
type Queue[TTx any] struct {
	cfg      Config
	rd       riverdriver.Driver[TTx]
	d        Driver[TTx]
	inserter *river.Client[TTx] // never started; inserts jobs inside transactions
	id       string             // ProcessID

	mu     sync.Mutex
	worker *river.Client[TTx] // set between Start and Stop
	keeper *keeper            // with worker
	own    *ownJobs
	closed bool
	// A run that finishes while Stop waits for it asks for its reports,
	// which this process no longer fetches: Stop serves them itself
	// (drainReports), so that a graceful stop leaves no comment behind.
	// lateMu guards them apart from mu, which Close holds while the
	// jobs it waits for end (and note their runs).
	lateMu   sync.Mutex
	report   func(context.Context, int64) error
	stopping bool
	ranLate  map[store.RepoKey]bool
}

// New makes the queue of a store whose River tables rd reaches (migrated
// already) and whose SQL d runs.
func New[TTx any](rd riverdriver.Driver[TTx], d Driver[TTx], cfg Config) (*Queue[TTx], error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.LostGrace == 0 {
		cfg.LostGrace = lostGrace
	}
	q := &Queue[TTx]{cfg: cfg, rd: rd, d: d, id: newProcessID(), own: newOwnJobs()}
	var err error
	if q.inserter, err = river.NewClient(rd, q.riverConfig()); err != nil {
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	return q, nil
}

// ProcessID names this process in the queue, for as long as the queue
// lives: River's client id, which it records in the jobs it starts, and
// the id of its lease when the driver is a Leaser (held between Start and
// Stop).
func (q *Queue[TTx]) ProcessID() string { return q.id }

// riverConfig is shared by the insert-only client and the working one.
func (q *Queue[TTx]) riverConfig() *river.Config {
	return &river.Config{
		Logger:            q.cfg.Logger,
		MaxAttempts:       q.cfg.MaxAttempts,
		PollOnly:          q.cfg.PollOnly,
		FetchPollInterval: q.cfg.PollInterval,
		FetchCooldown:     min(q.cfg.PollInterval, river.FetchCooldownDefault),
		JobTimeout:        q.cfg.JobTimeout,
		RetryPolicy:       &retryPolicy{base: q.cfg.RetryBase, max: q.cfg.RetryMax},
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

// Start runs h's handlers on River's workers until Stop (or until ctx is
// cancelled, which also cancels running handlers). Jobs orphaned by a
// process that died are made available again first.
func (q *Queue[TTx]) Start(ctx context.Context, h store.Handlers) error {
	if h.Reconcile == nil || h.Report == nil {
		return errors.New("queue: start: Reconcile and Report handlers are required")
	}
	workers := h.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return errors.New("queue: start: store is closed")
	case q.worker != nil:
		return errors.New("queue: start: already started")
	}
	q.lateMu.Lock()
	q.report, q.stopping, q.ranLate = h.Report, false, nil
	q.lateMu.Unlock()
	n, err := q.d.RecoverOrphans(ctx)
	if err != nil {
		return fmt.Errorf("queue: recover orphaned jobs: %w", err)
	}
	if n > 0 {
		q.cfg.Logger.WarnContext(ctx, "queue: jobs left running by a previous process made available again", "jobs", n)
	}

	ws := river.NewWorkers()
	errs := []error{
		river.AddWorkerSafely(ws, &worker[TTx, ReconcileArgs]{q: q, lull: true, fn: func(ctx context.Context, a ReconcileArgs) error {
			repo := store.RepoKey{Forge: a.Forge, Path: a.Path}
			defer q.noteRun(repo)
			return h.Reconcile(ctx, repo)
		}}),
		river.AddWorkerSafely(ws, &worker[TTx, ReportArgs]{q: q, fn: func(ctx context.Context, a ReportArgs) error {
			return h.Report(ctx, a.ExperimentID)
		}}),
		river.AddWorkerSafely(ws, &worker[TTx, ReportRepoArgs]{q: q, fn: func(ctx context.Context, a ReportRepoArgs) error {
			return q.reportDue(ctx, store.RepoKey{Forge: a.Forge, Path: a.Path}, h.Report)
		}}),
		river.AddWorkerSafely(ws, &worker[TTx, TaskArgs]{q: q, fn: func(ctx context.Context, a TaskArgs) error {
			run := h.Tasks[a.Task]
			if run == nil {
				return store.Permanent(fmt.Errorf("no handler for %s tasks", a.Task))
			}
			return run(ctx, a.Payload)
		}}),
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	cfg := q.riverConfig()
	cfg.ID = q.id // River names it in the jobs this process starts
	l, _ := q.d.(Leaser)
	kp, err := q.startKeeper(ctx, l)
	if err != nil {
		return err
	}
	cfg.Workers = ws
	// Workers bounds the runs and tasks at once; reports have as many
	// workers of their own (QueueReports). Their queue is also polled as
	// often as SQLite's: an insert's notification (PostgreSQL) is skipped
	// when another was sent less than a fetch cooldown before, and a
	// report left to the default poll (a second there) would be late.
	cfg.Queues = map[string]river.QueueConfig{
		river.QueueDefault: {MaxWorkers: workers},
		QueueReports:       {MaxWorkers: workers, FetchPollInterval: min(q.cfg.PollInterval, DefaultPollInterval)},
	}
	c, err := river.NewClient(q.rd, cfg)
	if err == nil {
		err = c.Start(ctx)
	}
	if err != nil {
		return fmt.Errorf("queue: start: %w", errors.Join(err, kp.end(ctx)))
	}
	q.worker, q.keeper = c, kp
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
// which the next Start recovers too (Driver.RecoverOrphans).
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	q.mu.Lock()
	c, kp := q.worker, q.keeper
	q.mu.Unlock()
	q.lateMu.Lock()
	q.stopping = c != nil
	q.lateMu.Unlock()
	if c == nil {
		return nil
	}
	var interrupted error
	err := c.Stop(ctx)
	if err == nil {
		q.drainReports(ctx)
	}
	if err != nil {
		if ctx.Err() == nil {
			return fmt.Errorf("queue: stop: %w", err)
		}
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), interruptWait)
		defer cancel()
		if err := c.StopAndCancel(hard); err != nil {
			return fmt.Errorf("queue: stop: jobs still running %s after they were cancelled (they run again at the next start): %w", interruptWait, err)
		}
		interrupted = errors.New("queue: stop: running jobs were interrupted; they run again at the next start")
	}
	q.mu.Lock()
	if q.worker == c {
		q.worker, q.keeper = nil, nil
	}
	q.mu.Unlock()
	if kp != nil {
		interrupted = errors.Join(interrupted, kp.end(ctx))
	}
	return interrupted
}

// noteRun remembers repo when its run ends while Stop waits for it.
func (q *Queue[TTx]) noteRun(repo store.RepoKey) {
	q.lateMu.Lock()
	defer q.lateMu.Unlock()
	if !q.stopping {
		return
	}
	if q.ranLate == nil {
		q.ranLate = map[store.RepoKey]bool{}
	}
	q.ranLate[repo] = true
}

// drainReports serves the reports due in the repositories whose runs ended
// during Stop, while ctx (the grace) lasts. What it cannot serve stays due
// for the queued report job: another process's, or this one's next start.
func (q *Queue[TTx]) drainReports(ctx context.Context) {
	q.lateMu.Lock()
	repos, report := q.ranLate, q.report
	q.ranLate = nil
	q.lateMu.Unlock()
	for repo := range repos {
		if ctx.Err() != nil {
			return
		}
		if err := q.reportDue(ctx, repo, report); err != nil {
			q.cfg.Logger.WarnContext(ctx, "queue: stop: reports left for later", "repo", repo.Path, "error", err.Error())
		}
	}
}

// closeStopTimeout bounds how long Close waits for running jobs, whose
// contexts it cancels, before the store closes the database under them.
const closeStopTimeout = 10 * time.Second

// Close stops the workers if Stop was not called, cancelling running jobs,
// and refuses Start from now on. Calling it again does nothing.
func (q *Queue[TTx]) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	if q.worker == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeStopTimeout)
	defer cancel()
	err := q.worker.StopAndCancel(ctx)
	err = errors.Join(err, q.keeper.end(ctx))
	q.worker, q.keeper = nil, nil
	if err != nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}

// QueueDepth counts jobs not yet finished: queued, scheduled, retrying or
// running.
func (q *Queue[TTx]) QueueDepth(ctx context.Context) (int, error) {
	n, err := q.d.QueueDepth(ctx, InFlight())
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// EnqueueReconcile asks for a reconcile run of repo (store.Tx).
func (q *Queue[TTx]) EnqueueReconcile(ctx context.Context, tx TTx, repo store.RepoKey) error {
	if repo.Forge == "" || repo.Path == "" {
		return errors.New("enqueue reconcile: empty repository")
	}
	if err := q.Enqueue(ctx, tx, ReconcileArgs{Forge: repo.Forge, Path: repo.Path}); err != nil {
		return fmt.Errorf("enqueue reconcile %s %s: %w", repo.Forge, repo.Path, err)
	}
	return nil
}

// EnqueueReports asks for the repository's report job, once the driver has
// counted the report due for the experiment (store.Tx's EnqueueReport).
func (q *Queue[TTx]) EnqueueReports(ctx context.Context, tx TTx, repo store.RepoKey) error {
	return q.Enqueue(ctx, tx, ReportRepoArgs{Forge: repo.Forge, Path: repo.Path})
}

// EnqueueTask asks for t to run once, by the handler of its kind
// (store.Tx).
func (q *Queue[TTx]) EnqueueTask(ctx context.Context, tx TTx, t store.Task) error {
	kind := t.TaskKind()
	payload, err := json.Marshal(t)
	if err != nil || kind == "" {
		return fmt.Errorf("enqueue task %q: a kind and a value that encodes as JSON are required: %v", kind, err)
	}
	if err := q.Enqueue(ctx, tx, TaskArgs{Task: kind, Payload: payload}); err != nil {
		return fmt.Errorf("enqueue task %s: %w", kind, err)
	}
	return nil
}
