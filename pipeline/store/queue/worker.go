package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/pipeline/store"
)

// Enqueue counts a request for args and inserts its job, unless a job with
// the same args is already queued or running.
//
// River's unique insert would skip such a job by itself, but it is the
// costliest statement of a delivery's transaction, and in a burst nearly
// every request finds its repository's job in flight. So the job last
// inserted for args is remembered with the counter, and when it is still
// in one of the unique states River is not asked: it would have skipped the
// insert for that very job.
func (q *Queue[TTx]) Enqueue(ctx context.Context, tx TTx, args river.JobArgs) error {
	key, err := requestKey(args)
	if err != nil {
		return err
	}
	jobID, err := q.d.CountRequest(ctx, tx, args.Kind(), key)
	if err != nil {
		return err
	}
	if jobID != 0 {
		inFlight, err := q.d.JobInState(ctx, tx, jobID, InFlight())
		if err != nil || inFlight {
			return err
		}
	}
	return q.insertJob(ctx, tx, args, key)
}

// insertJob inserts args' job (River skips it if one is in flight) and
// remembers its id for Enqueue.
func (q *Queue[TTx]) insertJob(ctx context.Context, tx TTx, args river.JobArgs, key string) error {
	res, err := q.inserter.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return err
	}
	return q.d.SetRequestJob(ctx, tx, args.Kind(), key, res.Job.ID)
}

// requestKey is args as canonical JSON (object keys sorted, no spaces,
// numbers as written), the key of its request counter: a job's args come
// back from the database re-encoded (PostgreSQL's jsonb orders keys its own
// way), and must still name the counter they were enqueued under.
func requestKey(args river.JobArgs) (string, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return "", err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	if b, err = json.Marshal(v); err != nil {
		return "", err
	}
	return string(b), nil
}

type worker[TTx any, T river.JobArgs] struct {
	river.WorkerDefaults[T]
	q    *Queue[TTx]
	lull bool // wait for the lull (Config.LullQuiet) before running
	fn   func(context.Context, T) error
}

// Work runs the handler and settles the job. The job is unique while it
// runs, so a request arriving meanwhile only bumps its counter; therefore a
// run that ends for good (succeeded, cancelled, out of attempts) ends in our
// own transaction that both finalises the job and, if the counter moved
// since the run began, inserts the follow-up. Done separately, a request
// committed between the check and River's finalisation would be lost.
// Snoozes and retries need nothing: the same job runs again.
func (w *worker[TTx, T]) Work(ctx context.Context, job *river.Job[T]) error {
	q := w.q
	defer q.own.begin(job.ID)()
	key, err := requestKey(job.Args)
	if err != nil {
		return fmt.Errorf("queue: %s job %d: %w", job.Kind, job.ID, err)
	}
	if w.lull {
		if err := q.awaitLull(ctx, job.Kind, key); err != nil {
			return fmt.Errorf("queue: %s job %d: %w", job.Kind, job.ID, err)
		}
	}
	// Read before the handler reads any state: a request counted here has
	// committed its state change, which the handler will see.
	before, err := q.d.Requests(ctx, nil, job.Kind, key)
	if err != nil {
		return fmt.Errorf("queue: %s job %d: read requests: %w", job.Kind, job.ID, err)
	}
	// An interrupted run (shutdown) gives its attempt back, but leaves
	// its client in AttemptedBy, as does a run its process died in.
	if job.Attempt > 1 || len(job.AttemptedBy) > 1 {
		ctx = store.WithRetried(ctx)
	}
	if job.Attempt >= job.MaxAttempts {
		ctx = store.WithLastAttempt(ctx)
	}
	started := time.Now()
	err = call(ctx, w.fn, job.Args)

	var (
		snooze *store.SnoozeError
		perm   *store.PermanentError
	)
	switch {
	case err == nil:
		return q.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateCompleted, nil, started)
	case errors.As(err, &snooze):
		return river.JobSnooze(max(snooze.Delay, 0))
	case errors.As(err, &perm):
		return q.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateCancelled, err, started)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client is stopping (or the job was cancelled): River puts
		// it back or cancels it as the reason requires.
		return err
	case job.Attempt < job.MaxAttempts:
		return err // River retries it with backoff
	default:
		return q.settle(ctx, job.JobRow, job.Args, key, before, rivertype.JobStateDiscarded, err, started)
	}
}

// awaitLull returns once no request for key came in for LullQuiet, or
// after LullMax. The job is running meanwhile, so requests are absorbed by
// it and counted; the run that follows sees all of them.
func (q *Queue[TTx]) awaitLull(ctx context.Context, kind, key string) error {
	quiet := q.cfg.LullQuiet
	if quiet <= 0 {
		return nil
	}
	last, err := q.d.Requests(ctx, nil, kind, key)
	if err != nil {
		return fmt.Errorf("read requests: %w", err)
	}
	t := time.NewTimer(quiet)
	defer t.Stop()
	for end := time.Now().Add(q.cfg.LullMax); ; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n, err := q.d.Requests(ctx, nil, kind, key)
		if err != nil {
			return fmt.Errorf("read requests: %w", err)
		}
		if n == last || !time.Now().Before(end) {
			return nil
		}
		last = n
		t.Reset(quiet)
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
func (q *Queue[TTx]) settle(ctx context.Context, job *rivertype.JobRow, args river.JobArgs, key string,
	before int64, state rivertype.JobState, jobErr error, started time.Time,
) error {
	// The run is over: record it even if the job's context ends now.
	ctx = context.WithoutCancel(ctx)
	var errData []byte
	if jobErr != nil {
		var err error
		errData, err = json.Marshal(rivertype.AttemptError{At: started.UTC(), Attempt: job.Attempt, Error: jobErr.Error()})
		if err != nil {
			return err
		}
	}
	followUp := false
	err := q.d.InTx(ctx, func(ctx context.Context, tx TTx) error {
		ok, err := q.d.FinalizeJob(ctx, tx, job.ID, state, time.Now().UTC(), errData)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("job is no longer running")
		}
		after, err := q.d.Requests(ctx, &tx, job.Kind, key)
		if err != nil {
			return err
		}
		if after == before {
			// Nothing is in flight for these args any more.
			return q.d.ForgetRequests(ctx, tx, job.Kind, key)
		}
		followUp = true
		return q.insertJob(ctx, tx, args, key)
	})
	if err != nil {
		err = fmt.Errorf("queue: %s job %d: settle as %s: %w", job.Kind, job.ID, state, err)
		q.cfg.Logger.ErrorContext(ctx, err.Error())
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
		q.cfg.Logger.WarnContext(ctx, "queue: job given up", "kind", job.Kind, "job_id", job.ID,
			"state", string(state), "attempt", job.Attempt, "error", jobErr.Error(), "follow_up", followUp)
	}
	return nil
}
